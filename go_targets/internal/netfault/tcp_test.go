package netfault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestTCPForwardsBothWaysAndHalfClose(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})

	payload := make([]byte, 1<<20)
	_, _ = rand.Read(payload)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", link.Listen)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			go func() {
				_, _ = c.Write(payload)
				_ = c.(*net.TCPConn).CloseWrite() // the FIN must reach the echo server, whose FIN must come back
			}()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				errs <- err
			} else if !bytes.Equal(got, payload) {
				errs <- errors.New("echo differs from the payload")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "connections closed", func() bool { return stats(t, p, "echo").ConnectionsActive == 0 })
	st := stats(t, p, "echo")
	if st.ConnectionsAccepted != 4 || st.BytesUpstream != 4<<20 || st.BytesDownstream != 4<<20 {
		t.Fatalf("stats %+v: want 4 connections and 4 MiB each way", st)
	}
}

// TestDelayAccuracy measures the median round trip through a link with no
// fault and with latency L on one or both directions: the added latency must
// be L (one direction) or 2L (both: the request and the response each wait
// L), within 1 ms per delayed direction.
func TestDelayAccuracy(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	c := dial(t, link.Listen)
	msg := []byte("ping-0123456789")
	roundTrips(t, c, 50, msg, time.Second) // warm up
	base := quantile(roundTrips(t, c, 200, msg, time.Second), 0.5)
	for _, tc := range []struct {
		dir     string
		latency float64
		want    time.Duration
	}{
		{DirUpstream, 50, 50 * time.Millisecond},
		{DirDownstream, 50, 50 * time.Millisecond},
		{DirBoth, 50, 100 * time.Millisecond},
		{DirUpstream, 5, 5 * time.Millisecond},
	} {
		mustFault(t, p, "echo", FaultSpec{Kind: KindDelay, LatencyMS: tc.latency, Direction: tc.dir})
		rts := roundTrips(t, c, 20, msg, 5*time.Second)
		added := quantile(rts, 0.5) - base
		tol := time.Millisecond
		if tc.dir == DirBoth {
			tol *= 2
		}
		t.Logf("delay %vms %s: median round trip %.3f ms (no fault %.3f ms): added %.3f ms, want %.1f ms ±%.2f; min %.3f max %.3f",
			tc.latency, tc.dir, ms(quantile(rts, 0.5)), ms(base), ms(added), ms(tc.want), ms(tol), ms(quantile(rts, 0)), ms(quantile(rts, 1)))
		if added < tc.want-tol || added > tc.want+tol {
			t.Errorf("delay %vms %s: added %.3f ms, want %.1f ms ±%.2f ms", tc.latency, tc.dir, ms(added), ms(tc.want), ms(tol))
		}
	}
}

// TestJitterNeverReorders streams many small writes through latency ±jitter:
// the bytes come back in order, and every round trip stays within the bounds.
func TestJitterNeverReorders(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	mustFault(t, p, "echo", FaultSpec{Kind: KindDelay, LatencyMS: 10, JitterMS: 8, Direction: DirUpstream})
	c := dial(t, link.Listen)
	var want bytes.Buffer
	go func() {
		for i := range 400 {
			b := []byte{byte(i), byte(i >> 8), 0xAA}
			_, _ = c.Write(b)
			time.Sleep(200 * time.Microsecond) // separate reads on the proxy, each with its own jitter
		}
	}()
	for i := range 400 {
		want.Write([]byte{byte(i), byte(i >> 8), 0xAA})
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("bytes reordered or corrupted under jitter")
	}
	var rts []time.Duration
	for range 30 {
		d, err := roundTrip(c, []byte("x"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rts = append(rts, d)
	}
	lo, hi := quantile(rts, 0), quantile(rts, 1)
	t.Logf("latency 10ms ±8ms: round trips %.3f..%.3f ms, median %.3f", ms(lo), ms(hi), ms(quantile(rts, 0.5)))
	if lo < 2*time.Millisecond || hi > 25*time.Millisecond {
		t.Fatalf("round trips %.3f..%.3f ms: want within 2..18 ms (+ slack)", ms(lo), ms(hi))
	}
}

// TestRemovingDelayDeliversQueuedAtOnce: bytes queued behind a 2 s delay
// arrive, in order, right after the fault is removed.
func TestRemovingDelayDeliversQueuedAtOnce(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	mustFault(t, p, "echo", FaultSpec{Kind: KindDelay, LatencyMS: 2000})
	c := dial(t, link.Listen)
	for _, s := range []string{"first-", "second-", "third"} {
		_, _ = c.Write([]byte(s))
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	removed, err := p.ClearFaults("echo", "")
	if err != nil || len(removed) != 1 {
		t.Fatalf("clear: %v %v", removed, err)
	}
	at := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	got := make([]byte, len("first-second-third"))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	took := time.Since(at)
	t.Logf("delay 2000ms removed: queued bytes back %.3f ms after the removal", ms(took))
	if string(got) != "first-second-third" {
		t.Fatalf("got %q", got)
	}
	if took > 50*time.Millisecond {
		t.Fatalf("queued bytes came %v after the removal, want ≤ 50 ms", took)
	}
}

// TestChangingDelayRetimesQueued: a shorter delay replacing a longer one
// applies to bytes already queued, counted from when they were read.
func TestChangingDelayRetimesQueued(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	mustFault(t, p, "echo", FaultSpec{Kind: KindDelay, LatencyMS: 1000, Direction: DirUpstream})
	c := dial(t, link.Listen)
	start := time.Now()
	_, _ = c.Write([]byte("hi"))
	time.Sleep(10 * time.Millisecond)
	if _, replaced, err := p.SetFault("echo", FaultSpec{Kind: KindDelay, LatencyMS: 60, Direction: DirUpstream}); err != nil || replaced == nil || replaced.LatencyMS != 1000 {
		t.Fatalf("replace: %v %v", replaced, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 59*time.Millisecond || took > 70*time.Millisecond {
		t.Fatalf("echo after %v, want ≈ 60 ms (the new delay from the read)", took)
	}
}

// TestTCPLoss resets that share of new connections at once, before dialing
// the upstream.
func TestTCPLoss(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	const n, prob = 300, 0.3
	mustFault(t, p, "echo", FaultSpec{Kind: KindLoss, Probability: prob})
	refused, resets := 0, 0
	for range n {
		// The kernel completes the handshake, so the connect succeeds, unless
		// the proxy's RST is there already when the client checks it.
		c, err := net.Dial("tcp", link.Listen)
		if err == nil {
			_, err = roundTrip(c, []byte("hi"), 2*time.Second)
			_ = c.Close()
		}
		if err != nil {
			refused++
			if errors.Is(err, syscall.ECONNRESET) {
				resets++
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("a refused connection: %v, want ECONNRESET", err)
			}
		}
	}
	mean, sd := n*prob, math.Sqrt(n*prob*(1-prob))
	t.Logf("loss %.1f over %d connections: %d refused (%d with ECONNRESET); expected %.0f ± %.1f (1 sd)", prob, n, refused, resets, mean, sd)
	if math.Abs(float64(refused)-mean) > 4*sd {
		t.Fatalf("%d refused, want %.0f ± %.0f (4 sd)", refused, mean, 4*sd)
	}
	eventually(t, time.Second, "stats: every refusal counted", func() bool {
		st := stats(t, p, "echo")
		return st.ConnectionsRefused == int64(refused) && st.ConnectionsAccepted == n
	})
	if got := echo.accepted.Load(); got != int64(n-refused) {
		t.Fatalf("the upstream saw %d connections, want %d (refused ones are never dialed)", got, n-refused)
	}
}

// TestBlackholeAndRemoval: under a blackhole a new and an existing connection
// both stall, the upstream never sees their bytes; once it is removed, bytes
// flow again at once.
func TestBlackholeAndRemoval(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	old := dial(t, link.Listen)
	if _, err := roundTrip(old, []byte("before"), time.Second); err != nil {
		t.Fatal(err)
	}
	before := echo.received.Load()
	f := mustFault(t, p, "echo", FaultSpec{Kind: KindBlackhole})
	fresh := dial(t, link.Listen)
	for name, c := range map[string]net.Conn{"existing": old, "new": fresh} {
		_, err := roundTrip(c, []byte("lost"), 300*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s connection under blackhole: %v, want a timeout", name, err)
		}
	}
	if got := echo.received.Load(); got != before {
		t.Fatalf("the upstream read %d bytes under the blackhole", got-before)
	}
	st := stats(t, p, "echo")
	if st.BytesDiscardedUpstream != 8 || st.FaultAppliedAtUnixNS != f.AppliedAtUnixNS || len(st.Faults) != 1 {
		t.Fatalf("stats %+v: want 8 bytes discarded upstream and the fault", st)
	}
	if _, err := p.ClearFaults("echo", KindBlackhole); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := roundTrip(fresh, []byte("back"), time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(at)
	t.Logf("blackhole removed: the next round trip took %.3f ms", ms(took))
	if took > 50*time.Millisecond {
		t.Fatalf("round trip %v after removal, want ≤ 50 ms", took)
	}
}

// TestBlackholeHoldsTheFIN: a client closing under a blackhole does not close
// the upstream side until the blackhole is lifted.
func TestBlackholeHoldsTheFIN(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	c := dial(t, link.Listen)
	if _, err := roundTrip(c, []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	mustFault(t, p, "echo", FaultSpec{Kind: KindBlackhole, Direction: DirUpstream})
	_ = c.CloseWrite()
	time.Sleep(100 * time.Millisecond)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read under blackhole: %v, want a timeout (the upstream must not see the FIN)", err)
	}
	if _, err := p.ClearFaults("echo", ""); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after removal: %v, want EOF (the FIN passed on, the echo server's FIN back)", err)
	}
}

// TestReset: existing and new connections see ECONNRESET; removal restores.
func TestReset(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	old := dial(t, link.Listen)
	if _, err := roundTrip(old, []byte("hi"), time.Second); err != nil {
		t.Fatal(err)
	}
	mustFault(t, p, "echo", FaultSpec{Kind: KindReset})
	_ = old.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := old.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("existing connection: %v, want ECONNRESET", err)
	}
	fresh, err := net.Dial("tcp", link.Listen) // the RST may beat the connect's own check
	if err == nil {
		_, err = roundTrip(fresh, []byte("hi"), time.Second)
		fresh.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("new connection: %v, want ECONNRESET", err)
	}
	eventually(t, time.Second, "2 connections reset", func() bool {
		st := stats(t, p, "echo")
		return st.ConnectionsReset == 2 && st.ConnectionsActive == 0
	})
	if _, err := p.ClearFaults("echo", KindReset); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(dial(t, link.Listen), []byte("hi"), time.Second); err != nil {
		t.Fatalf("after removal: %v", err)
	}
}

// TestUpstreamResetPassesOn: an RST from the upstream reaches the client as one.
func TestUpstreamResetPassesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Read(make([]byte, 10))
		resetConn(c.(*net.TCPConn))
	}()
	p := newProxy(t)
	link := mustLink(t, p, LinkSpec{Name: "rst", Upstream: ln.Addr().String()})
	c := dial(t, link.Listen)
	_, err = roundTrip(c, []byte("hi"), time.Second)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("got %v, want ECONNRESET", err)
	}
}

// TestBandwidth: 100 kB through a 200 kB/s downstream limit takes ~0.5 s;
// the upstream direction stays fast.
func TestBandwidth(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	const size, rate = 100_000, 200_000
	mustFault(t, p, "echo", FaultSpec{Kind: KindBandwidth, BytesPerS: rate, Direction: DirDownstream})
	c := dial(t, link.Listen)
	payload := bytes.Repeat([]byte("b"), size)
	start := time.Now()
	go func() { _, _ = c.Write(payload) }()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	want := time.Duration(float64(size) / rate * float64(time.Second))
	t.Logf("bandwidth %d B/s downstream: %d bytes in %.1f ms (ideal %.1f ms), %.0f B/s", rate, size, ms(took), ms(want), size/took.Seconds())
	if took < want*9/10 || took > want*3/2 {
		t.Fatalf("%d bytes took %v, want ≈ %v", size, took, want)
	}
	if _, err := p.ClearFaults("echo", ""); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	go func() { _, _ = c.Write(payload) }()
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("after removal %d bytes took %v", size, took)
	}
}

// TestDeleteLinkClosesEverything: the listener goes, clients see EOF.
func TestDeleteLinkClosesEverything(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	c := dial(t, link.Listen)
	if _, err := roundTrip(c, []byte("hi"), time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Delete("echo"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client after delete: %v, want EOF", err)
	}
	if c2, err := net.Dial("tcp", link.Listen); err == nil {
		c2.Close()
		t.Fatal("the link's listener still accepts after delete")
	}
}

// TestDialFailureResetsClient: an upstream that refuses is passed on as a reset.
func TestDialFailureResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := newProxy(t)
	link := mustLink(t, p, LinkSpec{Name: "dead", Upstream: dead})
	c, err := net.Dial("tcp", link.Listen)
	if err == nil {
		_, err = roundTrip(c, []byte("hi"), time.Second)
		c.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("got %v, want ECONNRESET", err)
	}
	eventually(t, time.Second, "dial_errors 1", func() bool { return stats(t, p, "dead").DialErrors == 1 })
}
