package greeter

import (
	"sync"
	"time"
)

// limiter admits at most rate requests per second in total: a token bucket
// (refilled at rate tokens/s up to burst = max(rate/10, 1), by the
// refreshQuota goroutines) smooths the traffic, and a sliding window of the
// last rate admission times caps any one-second span at rate requests.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time // last refill
	window []int64   // admission times (unix ns), a ring of rate slots
	next   int       // the oldest slot, overwritten by the next admission
}

func burstFor(rate int) float64 { return float64(max(rate/10, 1)) }

// newLimiter returns a limiter for rate requests per second, its bucket
// holding min(burst, rate) tokens. A rate <= 0 has no window and no tokens,
// so it admits nothing.
func newLimiter(rate int, now time.Time) *limiter {
	l := &limiter{rate: float64(rate), burst: burstFor(rate), last: now}
	l.tokens = min(l.burst, l.rate)
	l.window = make([]int64, max(rate, 0))
	return l
}

// resize carries the live limiter over to a new rate, keeping its tokens (up
// to the new burst) and the newest admission times, so a reload does not hand
// out a fresh burst. The window is rebuilt with rate slots.
func (l *limiter) resize(rate int) {
	window := make([]int64, rate)
	l.mu.Lock()
	defer l.mu.Unlock()
	// Copy the newest min(len(old), rate) admissions, oldest first.
	n, keep := len(l.window), min(len(l.window), rate)
	for i := range keep {
		window[i] = l.window[(l.next+n-keep+i)%n]
	}
	l.window, l.next = window, 0
	if rate > 0 {
		l.next = keep % rate
	}
	l.rate, l.burst = float64(rate), burstFor(rate)
	l.tokens = min(l.tokens, l.burst, l.rate)
}

// allow takes one token and one window slot, or reports false.
func (l *limiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tokens < 1 || len(l.window) == 0 {
		return false
	}
	if now.UnixNano()-l.window[l.next] < int64(time.Second) {
		return false // rate admissions within the last second already
	}
	l.tokens--
	l.window[l.next] = now.UnixNano()
	l.next = (l.next + 1) % len(l.window)
	return true
}

// refill adds the tokens earned since the last refill, up to burst.
func (l *limiter) refill(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el := now.Sub(l.last); el > 0 {
		l.tokens = min(l.tokens+el.Seconds()*l.rate, l.burst)
		l.last = now
	}
}
