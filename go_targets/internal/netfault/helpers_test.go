package netfault

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests run real sockets on loopback: an echo server (TCP and UDP) as
// the upstream, a Proxy in the test process, clients dialing its links.

func newProxy(t testing.TB) *Proxy {
	t.Helper()
	p := New(Options{DialTimeout: 2 * time.Second})
	t.Cleanup(func() { p.Close() })
	return p
}

func mustLink(t testing.TB, p *Proxy, spec LinkSpec) LinkInfo {
	t.Helper()
	info, err := p.Create(spec)
	if err != nil {
		t.Fatalf("create %+v: %v", spec, err)
	}
	return info
}

func mustFault(t testing.TB, p *Proxy, link string, spec FaultSpec) Fault {
	t.Helper()
	f, _, err := p.SetFault(link, spec)
	if err != nil {
		t.Fatalf("fault %+v on %s: %v", spec, link, err)
	}
	return f
}

// echoServer is a TCP upstream that echoes what it reads and half-closes
// after its client does; received counts the bytes it read.
type echoServer struct {
	addr     string
	received atomic.Int64
	accepted atomic.Int64
}

func startEcho(t testing.TB) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return e
}

// startUDPEcho is a UDP upstream that answers each datagram with itself.
func startUDPEcho(t testing.TB) (addr string, received *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	received = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			received.Add(1)
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); <-done })
	return pc.LocalAddr().String(), received
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads back len(msg) bytes, returning the time taken.
func roundTrip(c net.Conn, msg []byte, timeout time.Duration) (time.Duration, error) {
	_ = c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, len(msg))
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if string(buf) != string(msg) {
		return took, errors.New("echo differs: " + string(buf))
	}
	return took, nil
}

// quantile returns the q-quantile (nearest rank) of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// roundTrips measures n round trips of msg on c.
func roundTrips(t testing.TB, c net.Conn, n int, msg []byte, timeout time.Duration) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for range n {
		d, err := roundTrip(c, msg, timeout)
		if err != nil {
			t.Fatalf("round trip %d: %v", len(out), err)
		}
		out = append(out, d)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// eventually polls cond every 5 ms for up to timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
	}
}

func stats(t testing.TB, p *Proxy, link string) Stats {
	t.Helper()
	st, err := p.Stats(link)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
