package netfault

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Fault kinds: at most one fault of each kind is active on a link at a time.
const (
	KindDelay     = "delay"     // latency_ms (+ jitter_ms) on every chunk (TCP) or datagram (UDP)
	KindLoss      = "loss"      // TCP: that share of new connections reset at once; UDP: that share of datagrams dropped
	KindBlackhole = "blackhole" // bytes and datagrams read and discarded, never answered
	KindReset     = "reset"     // TCP only: every connection, existing and new, closed with an RST
	KindBandwidth = "bandwidth" // bytes_per_s per link and direction, shared by the link's connections
	KindPartition = "partition" // TCP only: a blackhole, both ways, of the connections from the processes in sources
)

// Kinds lists every fault kind.
var Kinds = []string{KindDelay, KindLoss, KindBlackhole, KindReset, KindBandwidth, KindPartition}

// Directions of a fault: upstream is client -> upstream, downstream is
// upstream -> client.
const (
	DirUpstream   = "upstream"
	DirDownstream = "downstream"
	DirBoth       = "both"
)

// Lane indices.
const (
	up   = 0 // client -> upstream
	down = 1 // upstream -> client
)

var dirNames = [2]string{DirUpstream, DirDownstream}

// Bounds of the fault parameters.
const (
	maxDelayMS      = 600_000 // 10 minutes
	maxBytesPerS    = 1 << 40
	maxSources      = 1024
	defaultQueueMax = 4 << 20 // bytes a delayed or paced lane holds before it stops reading (TCP) or drops (UDP)
)

// FaultSpec is the body of PUT /links/NAME/fault.
type FaultSpec struct {
	Kind        string  `json:"kind"`
	Direction   string  `json:"direction,omitempty"`   // upstream, downstream or both (the default)
	LatencyMS   float64 `json:"latency_ms,omitempty"`  // delay: added to each chunk, 0..600000
	JitterMS    float64 `json:"jitter_ms,omitempty"`   // delay: uniform in ±jitter_ms, never reordering
	Probability float64 `json:"probability,omitempty"` // loss: share in (0, 1]
	BytesPerS   int64   `json:"bytes_per_s,omitempty"` // bandwidth: ≥ 1
	Sources     []int   `json:"sources,omitempty"`     // partition: PIDs whose connections are cut off (1..1024 of them)
}

// Fault is an active fault: its normalized spec and when it was applied.
type Fault struct {
	FaultSpec
	AppliedAtUnixNS int64 `json:"applied_at_unix_ns"`
}

// Validate checks spec for a link of protocol proto ("tcp" or "udp") and
// returns it normalized (the direction filled in).
func (s FaultSpec) Validate(proto string) (FaultSpec, error) {
	if !slices.Contains(Kinds, s.Kind) {
		return s, invalidf("kind %q: want one of %v", s.Kind, Kinds)
	}
	switch s.Direction {
	case "":
		s.Direction = DirBoth
	case DirUpstream, DirDownstream, DirBoth:
	default:
		return s, invalidf("%s: direction %q: want upstream, downstream or both", s.Kind, s.Direction)
	}
	unused := func(field string, set bool) error {
		if set {
			return invalidf("%s: %s does not apply to this kind", s.Kind, field)
		}
		return nil
	}
	var errs []error
	if s.Kind != KindDelay {
		errs = append(errs, unused("latency_ms", s.LatencyMS != 0), unused("jitter_ms", s.JitterMS != 0))
	}
	if s.Kind != KindLoss {
		errs = append(errs, unused("probability", s.Probability != 0))
	}
	if s.Kind != KindBandwidth {
		errs = append(errs, unused("bytes_per_s", s.BytesPerS != 0))
	}
	if s.Kind != KindPartition {
		errs = append(errs, unused("sources", s.Sources != nil))
	}
	for _, err := range errs {
		if err != nil {
			return s, err
		}
	}
	switch s.Kind {
	case KindDelay:
		if !(s.LatencyMS >= 0 && s.LatencyMS <= maxDelayMS) {
			return s, invalidf("delay: latency_ms %v: want 0..%d", s.LatencyMS, maxDelayMS)
		}
		if !(s.JitterMS >= 0 && s.JitterMS <= maxDelayMS) {
			return s, invalidf("delay: jitter_ms %v: want 0..%d", s.JitterMS, maxDelayMS)
		}
		if s.LatencyMS == 0 && s.JitterMS == 0 {
			return s, invalidf("delay: latency_ms and jitter_ms are both 0 (remove the fault instead)")
		}
	case KindLoss:
		if !(s.Probability > 0 && s.Probability <= 1) {
			return s, invalidf("loss: probability %v: want > 0 and ≤ 1 (remove the fault instead of 0)", s.Probability)
		}
		if proto == ProtoTCP && s.Direction != DirBoth {
			return s, invalidf("loss: direction %q: a tcp link loses whole connections, so direction must be both (or omitted)", s.Direction)
		}
	case KindReset:
		if proto != ProtoTCP {
			return s, invalidf("reset: applies to tcp links only (this link is %s)", proto)
		}
		if s.Direction != DirBoth {
			return s, invalidf("reset: direction %q: a reset closes both ends, so direction must be both (or omitted)", s.Direction)
		}
	case KindBandwidth:
		if s.BytesPerS < 1 || s.BytesPerS > maxBytesPerS {
			return s, invalidf("bandwidth: bytes_per_s %d: want 1..%d", s.BytesPerS, int64(maxBytesPerS))
		}
	case KindPartition:
		if proto != ProtoTCP {
			return s, invalidf("partition: applies to tcp links only (this link is %s)", proto)
		}
		if s.Direction != DirBoth {
			return s, invalidf("partition: direction %q: a partition cuts both ways, so direction must be both (or omitted)", s.Direction)
		}
		if len(s.Sources) < 1 || len(s.Sources) > maxSources {
			return s, invalidf("partition: sources: want 1..%d PIDs of the processes cut off (got %d)", maxSources, len(s.Sources))
		}
		for _, pid := range s.Sources {
			if pid < 1 {
				return s, invalidf("partition: sources: PID %d: want > 0", pid)
			}
		}
	}
	return s, nil
}

// applies reports whether the fault acts on lane d.
func (s FaultSpec) applies(d int) bool {
	return s.Direction == DirBoth || s.Direction == dirNames[d]
}

// applied is an active fault with its per-lane state (the bandwidth limiters,
// created once when the fault is applied).
type applied struct {
	Fault
	limiters [2]*limiter
}

// faultSet is an immutable snapshot of a link's faults, swapped atomically;
// changed is closed when a newer snapshot replaces it, which wakes every lane
// waiting on the old one.
type faultSet struct {
	byKind    map[string]*applied
	lane      [2]laneFaults
	reset     bool    // TCP: reset every connection
	cutFrom   []int   // TCP: the connections of these processes are blackholed both ways (nil: none)
	connLoss  float64 // TCP: share of new connections reset at once
	changed   chan struct{}
	changedAt int64 // unix ns of the PUT/DELETE that made this snapshot (0: never changed)
}

// laneFaults is what one direction of a link does to its bytes.
type laneFaults struct {
	latency, jitter time.Duration
	blackhole       bool
	loss            float64 // UDP: share of datagrams dropped
	bw              *limiter
}

// passthrough reports whether bytes go straight through (no delay, no pacing).
func (f *laneFaults) passthrough() bool { return f.latency == 0 && f.jitter == 0 && f.bw == nil }

// sampleJitter draws a chunk's jitter offset, uniform in ±jitter.
func (f *laneFaults) sampleJitter() time.Duration {
	if f.jitter == 0 {
		return 0
	}
	return time.Duration((randFloat()*2 - 1) * float64(f.jitter))
}

// queueMax is how many bytes a lane holds before its reader waits (TCP) or
// drops (UDP): 4 MiB, or a quarter second's worth under a bandwidth fault
// (at least 64 KiB), so that a paced sender feels the limit soon.
func (f *laneFaults) queueMax() int {
	if f.bw == nil {
		return defaultQueueMax
	}
	return int(min(max(f.bw.rate/4, 64<<10), defaultQueueMax))
}

// randFloat is the source of loss and jitter draws (a test seam).
var randFloat = rand.Float64

func newFaultSet(byKind map[string]*applied, changedAt int64) *faultSet {
	fs := &faultSet{byKind: byKind, changed: make(chan struct{}), changedAt: changedAt}
	for _, a := range byKind {
		for d := range 2 {
			if !a.applies(d) {
				continue
			}
			lf := &fs.lane[d]
			switch a.Kind {
			case KindDelay:
				lf.latency = msDuration(a.LatencyMS)
				lf.jitter = msDuration(a.JitterMS)
			case KindBlackhole:
				lf.blackhole = true
			case KindLoss:
				lf.loss = a.Probability
			case KindBandwidth:
				lf.bw = a.limiters[d]
			}
		}
		switch a.Kind {
		case KindPartition:
			fs.cutFrom = a.Sources
		case KindReset:
			fs.reset = true
		case KindLoss:
			fs.connLoss = a.Probability
		}
	}
	return fs
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// faults returns the active faults sorted by kind.
func (fs *faultSet) faults() []Fault {
	out := make([]Fault, 0, len(fs.byKind))
	for _, a := range fs.byKind {
		out = append(out, a.Fault)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// lastApplied is the latest applied_at of the active faults (0: none).
func (fs *faultSet) lastApplied() int64 {
	var t int64
	for _, a := range fs.byKind {
		t = max(t, a.AppliedAtUnixNS)
	}
	return t
}

// faultState holds a link's current snapshot.
type faultState struct {
	mu  sync.Mutex // serializes updates
	ptr atomic.Pointer[faultSet]
}

func newFaultState() *faultState {
	s := &faultState{}
	s.ptr.Store(newFaultSet(map[string]*applied{}, 0))
	return s
}

func (s *faultState) load() *faultSet { return s.ptr.Load() }

// update builds a new snapshot from a copy of the current faults changed by
// edit, publishes it and wakes everything waiting on the old one; when edit
// reports no change, nothing is published.
func (s *faultState) update(edit func(byKind map[string]*applied) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.ptr.Load()
	byKind := maps.Clone(old.byKind)
	if !edit(byKind) {
		return
	}
	s.ptr.Store(newFaultSet(byKind, time.Now().UnixNano()))
	close(old.changed)
}

// limiter paces bytes at rate bytes per second: each piece is delivered when
// the link would have finished transmitting it (no burst allowance).
type limiter struct {
	rate    int64
	quantum int // largest piece of a TCP chunk sent at once: 20 ms worth, 1..16 KiB
	mu      sync.Mutex
	next    time.Time
}

func newLimiter(rate int64) *limiter {
	return &limiter{rate: rate, quantum: int(min(max(rate/50, 1), 16<<10))}
}

// reserve books n bytes on the link and returns when they are through.
func (l *limiter) reserve(n int, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	return l.next
}

func (s FaultSpec) String() string {
	switch s.Kind {
	case KindDelay:
		return fmt.Sprintf("delay %vms±%vms %s", s.LatencyMS, s.JitterMS, s.Direction)
	case KindLoss:
		return fmt.Sprintf("loss %v %s", s.Probability, s.Direction)
	case KindBandwidth:
		return fmt.Sprintf("bandwidth %dB/s %s", s.BytesPerS, s.Direction)
	case KindPartition:
		return fmt.Sprintf("partition from PIDs %v", s.Sources)
	}
	return s.Kind + " " + s.Direction
}
