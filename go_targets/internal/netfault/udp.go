package netfault

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxSessions bounds a UDP link's session table; a new client beyond it
// evicts the least recently active session (counted as expired).
const maxSessions = 4096

// udpLink forwards datagrams NAT-style: each client address gets its own
// upstream socket (a session), so replies find their way back to the client
// that asked, and a session expires after udpIdle without traffic.
type udpLink struct {
	*linkBase
	ln     *net.UDPConn
	upAddr *net.UDPAddr
	stop   chan struct{}

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession
	closed   bool
}

func startUDP(b *linkBase, listen string) (*udpLink, error) {
	upAddr, err := net.ResolveUDPAddr("udp", b.upstream)
	if err != nil {
		return nil, err
	}
	laddr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, err
	}
	b.listen = ln.LocalAddr().String()
	l := &udpLink{linkBase: b, ln: ln, upAddr: upAddr, stop: make(chan struct{}),
		sessions: map[netip.AddrPort]*udpSession{}}
	go l.read()
	go l.expire()
	return l, nil
}

func (l *udpLink) base() *linkBase { return l.linkBase }

func (l *udpLink) resetAll() int { return 0 }

func (l *udpLink) read() {
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := l.ln.ReadFromUDPAddrPort(buf)
		now := time.Now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s := l.session(addr, now)
		if s == nil {
			l.c.dropped[up].Add(1)
			continue
		}
		s.last.Store(now.UnixNano())
		s.pending.read(now)
		l.forward(s, up, buf[:n], now)
	}
}

// session returns the client's session, creating it (and its upstream
// socket) on its first datagram; nil when the link is closed or the socket
// cannot be made.
func (l *udpLink) session(client netip.AddrPort, now time.Time) *udpSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[client]; s != nil {
		return s
	}
	if l.closed {
		return nil
	}
	if len(l.sessions) >= maxSessions {
		var oldest *udpSession
		for _, s := range l.sessions {
			if oldest == nil || s.last.Load() < oldest.last.Load() {
				oldest = s
			}
		}
		delete(l.sessions, oldest.client)
		oldest.close()
		l.c.sessExpired.Add(1)
	}
	uc, err := net.DialUDP("udp", nil, l.upAddr)
	if err != nil {
		l.c.dialErrors.Add(1)
		l.log.Debug("udp_socket_failed", "client", client.String(), "error", err.Error())
		return nil
	}
	s := &udpSession{l: l, client: client, up: uc, done: make(chan struct{})}
	s.last.Store(now.UnixNano())
	for d := range 2 {
		ln := newLane(l.faults, d, s.done)
		ln.deliver = func(b []byte) error { s.send(d, b); return nil }
		ln.fail = func(error) {}
		s.lanes[d] = ln
	}
	l.sessions[client] = s
	l.c.sessCreated.Add(1)
	l.c.sessActive.Add(1)
	go s.readUpstream()
	return s
}

// forward applies lane d's faults to one datagram: dropped (blackhole, loss),
// sent at once, or queued (delay, bandwidth; dropped when the queue is full).
func (l *udpLink) forward(s *udpSession, d int, b []byte, now time.Time) {
	lf := &l.faults.load().lane[d]
	if lf.blackhole || (lf.loss > 0 && randFloat() < lf.loss) {
		l.c.dropped[d].Add(1)
		return
	}
	ln := s.lanes[d]
	if lf.passthrough() && ln.idle() {
		s.send(d, b)
		return
	}
	if !ln.push(chunk{data: bytes.Clone(b), readAt: now, jitter: lf.sampleJitter()}, lf.queueMax(), false) {
		l.c.dropped[d].Add(1)
	}
}

// expire closes the sessions idle for longer than udpIdle.
func (l *udpLink) expire() {
	t := time.NewTicker(min(max(l.udpIdle/4, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			idleSince := now.Add(-l.udpIdle).UnixNano()
			l.mu.Lock()
			for addr, s := range l.sessions {
				if s.last.Load() < idleSince {
					delete(l.sessions, addr)
					s.close()
					l.c.sessExpired.Add(1)
				}
			}
			l.mu.Unlock()
		}
	}
}

func (l *udpLink) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	sessions := l.sessions
	l.sessions = map[netip.AddrPort]*udpSession{}
	l.mu.Unlock()
	close(l.stop)
	_ = l.ln.Close()
	for _, s := range sessions {
		s.close()
	}
}

// udpSession is one client address and its upstream socket.
type udpSession struct {
	l       *udpLink
	client  netip.AddrPort
	up      *net.UDPConn
	lanes   [2]*lane
	last    atomic.Int64 // unix ns of the last datagram either way
	pending pendingRequest
	done    chan struct{}
	once    sync.Once
}

// send writes one datagram on lane d and counts it.
func (s *udpSession) send(d int, b []byte) {
	var err error
	var since int64
	if d == up {
		_, err = s.up.Write(b)
	} else {
		since = s.pending.answering()
		_, err = s.l.ln.WriteToUDPAddrPort(b, s.client)
	}
	if err != nil {
		s.l.c.dropped[d].Add(1)
		return
	}
	s.l.c.datagrams[d].Add(1)
	s.l.c.bytes[d].Add(int64(len(b)))
	s.l.turn.answered(since)
}

func (s *udpSession) readUpstream() {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.up.Read(buf)
		now := time.Now()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ECONNREFUSED from an ICMP port unreachable
		}
		s.last.Store(now.UnixNano())
		s.l.forward(s, down, buf[:n], now)
	}
}

func (s *udpSession) close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.up.Close()
		s.l.c.sessActive.Add(-1)
	})
}
