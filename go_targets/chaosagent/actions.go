package chaosagent

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"time"
)

// Kind names a fault; it is also the last element of its POST path.
type Kind string

// The faults the agent can inject.
const (
	KindBallast     Kind = "ballast"      // hold MB MiB live
	KindChurn       Kind = "churn"        // allocate MBPerSec MiB/s of garbage
	KindGCPercent   Kind = "gc-percent"   // debug.SetGCPercent(Percent)
	KindMemoryLimit Kind = "memory-limit" // debug.SetMemoryLimit(MB MiB)
	KindForceGC     Kind = "force-gc"     // runtime.GC() every Interval
)

var kinds = []Kind{KindBallast, KindChurn, KindGCPercent, KindMemoryLimit, KindForceGC}

// Status describes one action, active or just reverted.
type Status struct {
	ID        string `json:"id"`
	Kind      Kind   `json:"kind"`
	StartedAt string `json:"started_at"`
	ExpiresAt string `json:"expires_at"`
	MB        int64  `json:"mb,omitempty"`
	MBPerSec  int64  `json:"mb_per_sec,omitempty"`
	Percent   *int   `json:"percent,omitempty"`
	Interval  string `json:"interval,omitempty"`
	// Previous is the setting restored on revert (gc-percent: the GOGC value;
	// memory-limit: the limit in bytes).
	Previous *int64 `json:"previous,omitempty"`
}

type action struct {
	status Status
	timer  *time.Timer
	stop   func() // reverts the fault; called once, with a.mu held
}

// start applies a fault. An action of the same kind that is still active is
// reverted first: there is at most one active action per kind.
func (a *Agent) start(k Kind, req Request) Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.active[k]; old != nil {
		a.stopLocked(old, "replaced")
	}
	a.seq++
	now := a.now()
	act := &action{status: Status{
		ID:        fmt.Sprintf("%s-%d", k, a.seq),
		Kind:      k,
		StartedAt: now.UTC().Format(time.RFC3339Nano),
		ExpiresAt: now.Add(req.duration).UTC().Format(time.RFC3339Nano),
	}}
	switch k {
	case KindBallast:
		act.status.MB = req.MB
		act.stop = holdBallast(req.MB)
	case KindChurn:
		act.status.MBPerSec = req.MBPerSec
		act.stop = churn(req.MBPerSec)
	case KindGCPercent:
		act.status.Percent = req.Percent
		prev := debug.SetGCPercent(*req.Percent)
		p := int64(prev)
		act.status.Previous = &p
		act.stop = func() { debug.SetGCPercent(prev) }
	case KindMemoryLimit:
		act.status.MB = req.MB
		prev := debug.SetMemoryLimit(req.MB << 20)
		act.status.Previous = &prev
		act.stop = func() { debug.SetMemoryLimit(prev) }
	case KindForceGC:
		act.status.Interval = req.interval.String()
		act.stop = forceGC(req.interval)
	}
	id := act.status.ID
	act.timer = time.AfterFunc(req.duration, func() { a.expire(k, id) })
	a.active[k] = act
	a.log.Info("chaos_action_started", "id", id, "kind", string(k), "duration", req.duration.String(),
		"expires_at", act.status.ExpiresAt)
	return act.status
}

func (a *Agent) expire(k Kind, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if act := a.active[k]; act != nil && act.status.ID == id {
		a.stopLocked(act, "expired")
	}
}

// stopLocked reverts act and forgets it; a.mu must be held.
func (a *Agent) stopLocked(act *action, reason string) {
	act.timer.Stop()
	act.stop()
	delete(a.active, act.status.Kind)
	a.log.Info("chaos_action_reverted", "id", act.status.ID, "kind", string(act.status.Kind), "reason", reason)
}

func (a *Agent) revertAll(reason string) []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []Status{}
	for _, act := range a.sortedLocked() {
		a.stopLocked(act, reason)
		out = append(out, act.status)
	}
	return out
}

func (a *Agent) list() []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []Status{}
	for _, act := range a.sortedLocked() {
		out = append(out, act.status)
	}
	return out
}

func (a *Agent) sortedLocked() []*action {
	acts := make([]*action, 0, len(a.active))
	for _, act := range a.active {
		acts = append(acts, act)
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i].status.ID < acts[j].status.ID })
	return acts
}

// holdBallast allocates mb MiB in 1 MiB chunks and touches every page, so the
// ballast is both live heap and resident memory. The returned func drops it.
func holdBallast(mb int64) func() {
	chunks := make([][]byte, mb)
	for i := range chunks {
		c := make([]byte, 1<<20)
		for j := 0; j < len(c); j += 4096 {
			c[j] = 1
		}
		chunks[i] = c
	}
	b := &ballast{chunks: chunks}
	return func() { b.chunks = nil }
}

type ballast struct{ chunks [][]byte }

// churnSink keeps the compiler from proving the churn allocations dead.
var churnSink []byte

// churn allocates mbPerSec MiB/s of short-lived garbage in 64 KiB pieces, in
// 10 ms ticks, until the returned func is called.
func churn(mbPerSec int64) func() {
	const tick = 10 * time.Millisecond
	perTick := (mbPerSec << 20) / int64(time.Second/tick)
	stop := every(tick, func() {
		for n := int64(0); n < perTick; n += 64 << 10 {
			b := make([]byte, 64<<10)
			b[0] = byte(n)
			churnSink = b
		}
	})
	return func() { stop(); churnSink = nil }
}

// forceGC runs runtime.GC every interval until the returned func is called.
func forceGC(interval time.Duration) func() { return every(interval, runtime.GC) }

// every runs tick in its own goroutine once per interval; the returned func
// stops it and waits until the goroutine has finished.
func every(interval time.Duration, tick func()) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				tick()
			}
		}
	}()
	return func() { close(done); <-finished }
}
