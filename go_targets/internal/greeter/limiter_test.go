package greeter

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// admitted drives l for span at 10 ms steps (a refill, then as many requests
// as it admits) and returns how many it admitted.
func admitted(l *limiter, start time.Time, span time.Duration) int {
	n := 0
	for now := start; now.Before(start.Add(span)); now = now.Add(10 * time.Millisecond) {
		l.refill(now)
		for l.allow(now) {
			n++
		}
	}
	return n
}

func TestLimiterAdmitsRatePerSecond(t *testing.T) {
	for _, tc := range []struct {
		rate      int
		wantBurst int
	}{
		{1, 1}, {5, 1}, {10, 1}, {100, 10}, {1000, 100},
	} {
		l := newLimiter(tc.rate, t0)
		if got := admitted(l, t0, time.Millisecond); got != tc.wantBurst {
			t.Errorf("rate %d: %d admitted at once, want the burst %d", tc.rate, got, tc.wantBurst)
		}
		// Over 3 s, at most rate per second (the window caps each 1 s span)
		// and not much fewer.
		l = newLimiter(tc.rate, t0)
		got := admitted(l, t0, 3*time.Second)
		if got > 3*tc.rate || got < 3*tc.rate*9/10 {
			t.Errorf("rate %d: %d admitted in 3 s, want about %d and no more", tc.rate, got, 3*tc.rate)
		}
	}
}

func TestLimiterWithoutPositiveRateAdmitsNothing(t *testing.T) {
	for _, rate := range []int{0, -1, -1000} {
		if got := admitted(newLimiter(rate, t0), t0, 2*time.Second); got != 0 {
			t.Errorf("rate %d: %d admitted, want 0", rate, got)
		}
	}
}

func TestLimiterResize(t *testing.T) {
	l := newLimiter(100, t0)
	admitted(l, t0, 500*time.Millisecond) // ~50 admissions in the window
	now := t0.Add(500 * time.Millisecond)
	l.resize(20)
	if len(l.window) != 20 || l.rate != 20 || l.burst != 2 || l.tokens > 2 {
		t.Fatalf("after resize(20): window %d, rate %v, burst %v, tokens %v", len(l.window), l.rate, l.burst, l.tokens)
	}
	// The newest admissions were kept: the window is full of the last 0.5 s.
	l.refill(now.Add(100 * time.Millisecond))
	if l.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("a resized window full of recent admissions admitted a request")
	}
	l.resize(0)
	if got := admitted(l, now, time.Second); got != 0 {
		t.Fatalf("resize(0): %d admitted", got)
	}

	defer func() {
		r := recover()
		if err, ok := r.(error); !ok || !strings.Contains(err.Error(), "makeslice: len out of range") {
			t.Fatalf("resize(-1) recovered %v, want a makeslice panic", r)
		}
	}()
	l.resize(-1)
}
