package netfault

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// turnaroundRing bounds the turnaround samples a link keeps: the most recent
// ones, each with the time it completed.
const turnaroundRing = 4096

// A turnaround is what the proxy itself sees of a round trip: from the first
// chunk (datagram) read from a client that is not yet answered to the next
// chunk (datagram) written back to that client on the same connection
// (session). It includes every fault of the link and the upstream's own time,
// so a delay shows up in it on any protocol, with no request of the suite's.

// pendingRequest marks a connection's or session's oldest unanswered read from
// its client (unix ns; 0: nothing unanswered).
type pendingRequest struct{ since atomic.Int64 }

// read notes a chunk read from the client at now (only the first unanswered
// one counts).
func (p *pendingRequest) read(now time.Time) {
	if p.since.Load() == 0 {
		p.since.CompareAndSwap(0, now.UnixNano())
	}
}

// answering takes the waiting read's time stamp (0: none) just before a chunk
// is written back to the client, so that a read the answer provokes, which
// may come before the write returns, waits for an answer of its own.
func (p *pendingRequest) answering() int64 {
	if p.since.Load() == 0 {
		return 0 // no read waiting: a server push, or the rest of an answer
	}
	return p.since.Swap(0)
}

// answered records the turnaround of a read stamped since (0: none), once its
// answer was written.
func (r *turnarounds) answered(since int64) {
	if since != 0 {
		now := time.Now().UnixNano()
		r.add(now, now-since)
	}
}

// turnarounds is a link's ring of recent samples.
type turnarounds struct {
	mu    sync.Mutex
	at    [turnaroundRing]int64 // unix ns each completed
	took  [turnaroundRing]int64 // ns
	next  int                   // where the next sample goes
	total int64                 // samples ever recorded
}

func (r *turnarounds) add(at, took int64) {
	r.mu.Lock()
	r.at[r.next], r.took[r.next] = at, took
	r.next = (r.next + 1) % turnaroundRing
	r.total++
	r.mu.Unlock()
}

// Turnarounds are a link's turnaround samples completed in a window, and
// their quantiles (0 when there are none).
type Turnarounds struct {
	Link        string    `json:"link"`
	SinceUnixNS int64     `json:"since_unix_ns"`
	UntilUnixNS int64     `json:"until_unix_ns"`
	Count       int       `json:"count"`
	P50MS       float64   `json:"p50_ms"`
	P90MS       float64   `json:"p90_ms"`
	MaxMS       float64   `json:"max_ms"`
	SamplesMS   []float64 `json:"samples_ms"` // in the order they completed
	// Total is how many samples the link ever recorded; the ring keeps the
	// last RingSize of them, so a window older than that is partly forgotten.
	Total    int64 `json:"total"`
	RingSize int   `json:"ring_size"`
}

// window returns the samples completed in [since, until] (until 0: now).
func (r *turnarounds) window(since, until int64) Turnarounds {
	if until == 0 {
		until = time.Now().UnixNano()
	}
	out := Turnarounds{SinceUnixNS: since, UntilUnixNS: until, SamplesMS: []float64{}, RingSize: turnaroundRing}
	r.mu.Lock()
	out.Total = r.total
	n := int(min(r.total, turnaroundRing))
	start := (r.next - n + turnaroundRing) % turnaroundRing
	for i := range n {
		k := (start + i) % turnaroundRing
		if at := r.at[k]; at >= since && at <= until {
			out.SamplesMS = append(out.SamplesMS, float64(r.took[k])/float64(time.Millisecond))
		}
	}
	r.mu.Unlock()
	out.Count = len(out.SamplesMS)
	if out.Count > 0 {
		sorted := append([]float64(nil), out.SamplesMS...)
		sort.Float64s(sorted)
		q := func(p float64) float64 { return sorted[int(p*float64(len(sorted)-1)+0.5)] }
		out.P50MS, out.P90MS, out.MaxMS = q(0.5), q(0.9), sorted[len(sorted)-1]
	}
	return out
}
