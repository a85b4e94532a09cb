package netfault

import (
	"sync"
	"sync/atomic"
	"time"
)

// chunk is what one read gave a lane: bytes (a TCP read or one datagram), or
// the end of a TCP stream, stamped with the time it was read.
type chunk struct {
	data   []byte
	readAt time.Time
	jitter time.Duration // this chunk's jitter offset, drawn at read time
	end    endKind
}

type endKind uint8

const (
	endNone endKind = iota
	endEOF          // the sender closed its side: pass the FIN on
	endRST          // the sender reset: reset the receiver too
)

// lane is one direction of one TCP connection or UDP session. The reader
// (one goroutine) delivers straight through deliver when the lane is idle
// and no delay or pacing applies; otherwise it pushes chunks, and the lane's
// writer goroutine (started on the first push) delivers them in order, each
// at its read time + the current latency (+ its jitter), paced by the current
// bandwidth limiter. The writer re-reads the faults whenever they change, so a
// removed delay delivers what is queued at once.
type lane struct {
	faults  *faultState
	dir     int
	stream  bool                 // TCP: a chunk may be split into pieces for pacing
	deliver func(b []byte) error // writes b to the receiver (and counts it)
	finish  func(end endKind)    // TCP: passes an EOF or RST on
	fail    func(err error)      // deliver failed: abort the connection
	done    <-chan struct{}      // the connection or session is closed

	pending atomic.Int64 // chunks queued or being delivered

	mu      sync.Mutex
	q       []chunk
	qBytes  int
	started bool
	wake    chan struct{} // a push happened (1-buffered)
	space   chan struct{} // a chunk was delivered (1-buffered)
	timer   *time.Timer   // the writer's
}

func newLane(faults *faultState, dir int, done <-chan struct{}) *lane {
	return &lane{faults: faults, dir: dir, done: done, wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// idle reports whether nothing is queued or being delivered, so the reader
// may deliver directly without overtaking queued bytes. Only the reader pushes,
// so the answer cannot go stale before its next push.
func (l *lane) idle() bool { return l.pending.Load() == 0 }

// push queues c. With block (TCP) it waits while the queue holds limit bytes
// or more, so the sender feels back-pressure; without (UDP) it drops c then.
// It reports false when c was dropped or the lane is closed.
func (l *lane) push(c chunk, limit int, block bool) bool {
	l.mu.Lock()
	for l.qBytes > 0 && l.qBytes+len(c.data) > limit {
		l.mu.Unlock()
		if !block {
			return false
		}
		select {
		case <-l.space:
		case <-l.done:
			return false
		}
		l.mu.Lock()
	}
	l.q = append(l.q, c)
	l.qBytes += len(c.data)
	l.pending.Add(1)
	if !l.started {
		l.started = true
		l.timer = time.NewTimer(time.Hour)
		l.timer.Stop()
		go l.run()
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

func (l *lane) run() {
	for {
		l.mu.Lock()
		for len(l.q) == 0 {
			l.mu.Unlock()
			select {
			case <-l.wake:
			case <-l.done:
				return
			}
			l.mu.Lock()
		}
		c := l.q[0]
		l.mu.Unlock()
		if !l.send(c) {
			return
		}
		l.mu.Lock()
		l.q[0] = chunk{}
		l.q = l.q[1:]
		if len(l.q) == 0 {
			l.q = nil // let the backing array go
		}
		l.qBytes -= len(c.data)
		l.mu.Unlock()
		l.pending.Add(-1)
		select {
		case l.space <- struct{}{}:
		default:
		}
	}
}

// send delivers c once it is due; false when the lane is done.
func (l *lane) send(c chunk) bool {
	for {
		fs := l.faults.load()
		lf := &fs.lane[l.dir]
		if lf.latency == 0 && lf.jitter == 0 {
			break
		}
		j := min(max(c.jitter, -lf.jitter), lf.jitter)
		switch l.sleepUntil(c.readAt.Add(lf.latency+j), fs.changed) {
		case woke:
			continue // the faults changed: recompute from the new ones
		case closed:
			return false
		}
		break
	}
	if c.end != endNone {
		l.finish(c.end)
		return true
	}
	data := c.data
	for len(data) > 0 {
		fs := l.faults.load()
		n := len(data)
		if bw := fs.lane[l.dir].bw; bw != nil {
			if l.stream {
				n = min(n, bw.quantum)
			}
			if l.sleepUntil(bw.reserve(n, time.Now()), fs.changed) == closed {
				return false
			}
		}
		if err := l.deliver(data[:n]); err != nil {
			l.fail(err)
			return false
		}
		data = data[n:]
	}
	return true
}

type wakeReason uint8

const (
	due    wakeReason = iota // the time came
	woke                     // the faults changed first
	closed                   // the lane is done
)

// precise is how close to a deadline the writer stops trusting the runtime
// timer (whose netpoller wait has millisecond granularity, so it fires up to
// ~1 ms late) and sleeps the rest in the kernel.
const precise = 2 * time.Millisecond

// sleepBias is how much earlier than a deadline preciseSleep is asked to
// wake, learnt from how late it wakes (the kernel's timer slack and the
// runtime's wake-up, ~0.1 ms on a typical VM): the deliveries then land on
// the deadline on average instead of after it.
var sleepBias atomic.Int64

// calibrate moves sleepBias an eighth of the way towards cancelling the last
// lateness (negative: early; counted within ±0.2 ms, so that one stall of
// the process does not make the next deliveries early), within 0..0.3 ms.
func calibrate(late time.Duration) {
	late = min(max(late, -200*time.Microsecond), 200*time.Microsecond)
	b := sleepBias.Load() + int64(late)/8
	sleepBias.Store(min(max(b, 0), int64(300*time.Microsecond)))
}

// sleepUntil waits until t, until changed is closed, or until the lane is done.
func (l *lane) sleepUntil(t time.Time, changed <-chan struct{}) wakeReason {
	for {
		rem := time.Until(t)
		if rem <= 0 {
			return due
		}
		if rem <= precise {
			select {
			case <-l.done:
				return closed
			case <-changed:
				return woke
			default:
			}
			preciseSleep(rem - time.Duration(sleepBias.Load()))
			calibrate(time.Since(t))
			return due
		}
		l.timer.Reset(rem - precise*3/4)
		select {
		case <-l.timer.C:
		case <-changed:
			l.timer.Stop()
			return woke
		case <-l.done:
			l.timer.Stop()
			return closed
		}
	}
}
