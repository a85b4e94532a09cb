package netfault

import (
	"runtime"
	"testing"
	"time"
)

// TestCloseLeavesNoGoroutines: closing a proxy whose links have open
// connections, sessions and queued (delayed) bytes ends every goroutine it started.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	echo := startEcho(t)
	udpEcho, _ := startUDPEcho(t)
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	p := New(Options{})
	tl := mustLink(t, p, LinkSpec{Name: "tcp", Upstream: echo.addr})
	ul := mustLink(t, p, LinkSpec{Name: "udp", Protocol: ProtoUDP, Upstream: udpEcho})
	for range 3 {
		if _, err := roundTrip(dial(t, tl.Listen), []byte("hi"), time.Second); err != nil {
			t.Fatal(err)
		}
		if _, _, err := udpRoundTrip(dialUDP(t, ul.Listen), "hi", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	mustFault(t, p, "tcp", FaultSpec{Kind: KindDelay, LatencyMS: 5000})
	mustFault(t, p, "udp", FaultSpec{Kind: KindDelay, LatencyMS: 5000})
	_, _ = dial(t, tl.Listen).Write([]byte("queued"))
	_, _ = dialUDP(t, ul.Listen).Write([]byte("queued"))
	time.Sleep(50 * time.Millisecond)
	if n := p.Close(); n != 2 {
		t.Fatalf("closed %d links", n)
	}
	if _, err := p.Create(LinkSpec{Name: "late", Upstream: echo.addr}); err == nil {
		t.Fatal("create after close succeeded")
	}
	eventually(t, 2*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}
