package netfault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// readBuf is the size of one TCP read: the largest chunk a lane carries.
const readBuf = 32 << 10

// tcpLink accepts clients and forwards each connection to its own upstream
// connection.
type tcpLink struct {
	*linkBase
	ln     *net.TCPListener
	dialer net.Dialer
	ctx    context.Context // cancelled on close: stops dials in progress
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[*tcpConn]struct{}
	closed bool
}

func startTCP(b *linkBase, listen string, dialTimeout time.Duration) (*tcpLink, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	b.listen = ln.Addr().String()
	l := &tcpLink{linkBase: b, ln: ln.(*net.TCPListener), dialer: net.Dialer{Timeout: dialTimeout},
		conns: map[*tcpConn]struct{}{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.accept()
	return l, nil
}

func (l *tcpLink) base() *linkBase { return l.linkBase }

func (l *tcpLink) accept() {
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("accept_failed", "error", err.Error())
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		l.c.accepted.Add(1)
		go l.handle(c)
	}
}

// handle applies the connection-level faults to a new client, dials the
// upstream and starts forwarding.
func (l *tcpLink) handle(client *net.TCPConn) {
	fs := l.faults.load()
	switch {
	case fs.reset:
		resetConn(client)
		l.c.reset.Add(1)
		return
	case fs.connLoss > 0 && randFloat() < fs.connLoss:
		resetConn(client)
		l.c.refused.Add(1)
		return
	}
	uc, err := l.dialer.DialContext(l.ctx, "tcp", l.upstream)
	if err != nil {
		l.c.dialErrors.Add(1)
		l.log.Debug("dial_failed", "error", err.Error())
		resetConn(client)
		return
	}
	c := newTCPConn(l, client, uc.(*net.TCPConn))
	if !l.register(c) {
		c.close(false)
		return
	}
	// A reset applied between the check above and register did not see c.
	if l.faults.load().reset && c.close(true) {
		l.c.reset.Add(1)
		return
	}
	go c.pump(up)
	go c.pump(down)
}

func (l *tcpLink) register(c *tcpConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.c.active.Add(1)
	return true
}

func (l *tcpLink) unregister(c *tcpConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; ok {
		delete(l.conns, c)
		l.c.active.Add(-1)
	}
}

func (l *tcpLink) snapshot() []*tcpConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*tcpConn, 0, len(l.conns))
	for c := range l.conns {
		out = append(out, c)
	}
	return out
}

func (l *tcpLink) resetAll() int {
	n := 0
	for _, c := range l.snapshot() {
		if c.close(true) {
			n++
		}
	}
	l.c.reset.Add(int64(n))
	return n
}

func (l *tcpLink) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	_ = l.ln.Close()
	for _, c := range l.snapshot() {
		c.close(false)
	}
}

// resetConn closes c with an RST (SO_LINGER 0).
func resetConn(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// tcpConn is one client connection and its upstream connection.
type tcpConn struct {
	l        *tcpLink
	client   *net.TCPConn
	upstream *net.TCPConn
	lanes    [2]*lane
	done     chan struct{}
	once     sync.Once
	ends     atomic.Int32 // directions whose FIN was passed on
	pending  pendingRequest

	cutMu      sync.Mutex
	cutFor     *faultSet // the faults cutNow was decided for
	cutNow     bool      // its client is a process a partition cuts off
	cutCounted bool
}

// cut reports whether fs's partition cuts this connection off: whether its
// client socket belongs to one of the partitioned processes (found once per
// fault snapshot; a connection that cannot be traced is not cut).
func (c *tcpConn) cut(fs *faultSet) bool {
	if fs.cutFrom == nil {
		return false
	}
	c.cutMu.Lock()
	defer c.cutMu.Unlock()
	if c.cutFor == fs {
		return c.cutNow
	}
	client := c.client.RemoteAddr().(*net.TCPAddr).AddrPort()
	listen := c.client.LocalAddr().(*net.TCPAddr).AddrPort()
	owner, err := connOwner(client, listen, fs.cutFrom)
	if err != nil {
		c.l.log.Warn("partition_untraced", "client", client.String(), "error", err.Error())
	}
	c.cutFor, c.cutNow = fs, owner != 0
	if c.cutNow && !c.cutCounted {
		c.cutCounted = true
		c.l.c.cut.Add(1)
		c.l.log.Info("partition_cut", "client", client.String(), "pid", owner)
	}
	return c.cutNow
}

func newTCPConn(l *tcpLink, client, upstream *net.TCPConn) *tcpConn {
	c := &tcpConn{l: l, client: client, upstream: upstream, done: make(chan struct{})}
	for d := range 2 {
		ln := newLane(l.faults, d, c.done)
		ln.stream = true
		ln.deliver = func(b []byte) error { return c.write(d, b) }
		ln.finish = func(e endKind) { c.end(d, e) }
		ln.fail = func(error) { c.close(true) }
		c.lanes[d] = ln
	}
	return c
}

// src and dst are where lane d reads and writes.
func (c *tcpConn) src(d int) *net.TCPConn {
	if d == up {
		return c.client
	}
	return c.upstream
}

func (c *tcpConn) dst(d int) *net.TCPConn {
	if d == up {
		return c.upstream
	}
	return c.client
}

func (c *tcpConn) write(d int, b []byte) error {
	if d == up {
		n, err := c.upstream.Write(b)
		c.l.c.bytes[up].Add(int64(n))
		return err
	}
	since := c.pending.answering()
	n, err := c.client.Write(b)
	c.l.c.bytes[down].Add(int64(n))
	if n > 0 {
		c.l.turn.answered(since)
	}
	return err
}

// end passes the end of lane d's stream on: a FIN (the connection closes
// once both directions ended), or an RST on both sides.
func (c *tcpConn) end(d int, e endKind) {
	if e == endRST {
		c.close(true)
		return
	}
	_ = c.dst(d).CloseWrite()
	if c.ends.Add(1) == 2 {
		c.close(false)
	}
}

// close closes both sides (with an RST when rst) once; it reports whether
// this call closed them.
func (c *tcpConn) close(rst bool) bool {
	did := false
	c.once.Do(func() {
		did = true
		if rst {
			_ = c.client.SetLinger(0)
			_ = c.upstream.SetLinger(0)
		}
		_ = c.client.Close()
		_ = c.upstream.Close()
		close(c.done)
		c.l.unregister(c)
	})
	return did
}

// pump reads lane d's source until it ends: straight through while no delay
// or pacing applies and nothing is queued (an io.Copy), through the lane
// otherwise; discarded under a blackhole.
func (c *tcpConn) pump(d int) {
	ln := c.lanes[d]
	src := c.src(d)
	buf := make([]byte, readBuf)
	for {
		n, err := src.Read(buf)
		now := time.Now()
		if n > 0 {
			if d == up {
				c.pending.read(now)
			}
			fs := c.l.faults.load()
			lf := &fs.lane[d]
			switch {
			case lf.blackhole || c.cut(fs):
				c.l.c.discarded[d].Add(int64(n))
			case lf.passthrough() && ln.idle():
				if c.write(d, buf[:n]) != nil {
					c.close(true)
					return
				}
			default:
				if !ln.push(chunk{data: bytes.Clone(buf[:n]), readAt: now, jitter: lf.sampleJitter()}, lf.queueMax(), true) {
					return
				}
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return // closed here
		}
		e := endRST
		if errors.Is(err, io.EOF) {
			e = endEOF
		}
		// A blackhole swallows the FIN or RST too, until it is lifted.
		fs := c.l.faults.load()
		for fs.lane[d].blackhole || c.cut(fs) {
			select {
			case <-fs.changed:
			case <-c.done:
				return
			}
			fs = c.l.faults.load()
		}
		lf := &fs.lane[d]
		if lf.passthrough() && ln.idle() {
			c.end(d, e)
		} else {
			ln.push(chunk{readAt: time.Now(), jitter: lf.sampleJitter(), end: e}, lf.queueMax(), true)
		}
		return
	}
}
