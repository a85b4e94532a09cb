package netfault

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"testing"
	"time"
)

func dialUDP(t testing.TB, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.UDPConn)
}

// udpRoundTrip sends msg and waits for a datagram back.
func udpRoundTrip(c *net.UDPConn, msg string, timeout time.Duration) (time.Duration, string, error) {
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		return 0, "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	return time.Since(start), string(buf[:n]), err
}

// TestUDPSessions: each client address gets its own upstream socket, answers
// go back to the right client, and idle sessions expire.
func TestUDPSessions(t *testing.T) {
	p := newProxy(t)
	echo, _ := startUDPEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "dns", Protocol: ProtoUDP, Upstream: echo, UDPIdleTimeoutMS: 200})
	clients := []*net.UDPConn{dialUDP(t, link.Listen), dialUDP(t, link.Listen), dialUDP(t, link.Listen)}
	for round := range 3 {
		for i, c := range clients {
			msg := fmt.Sprintf("client %d round %d", i, round)
			_, got, err := udpRoundTrip(c, msg, time.Second)
			if err != nil || got != msg {
				t.Fatalf("%s: got %q, %v", msg, got, err)
			}
		}
	}
	big := string(make([]byte, 60000)) // a datagram larger than any usual MTU
	if _, got, err := udpRoundTrip(clients[0], big, time.Second); err != nil || got != big {
		t.Fatalf("60000-byte datagram: got %d bytes, %v", len(got), err)
	}
	// The upstream count lands after the send returns, which may be after the answer came back.
	eventually(t, time.Second, "3 sessions, 10 datagrams each way", func() bool {
		st := stats(t, p, "dns")
		return st.SessionsCreated == 3 && st.SessionsActive == 3 && st.DatagramsUpstream == 10 && st.DatagramsDownstream == 10 &&
			st.BytesUpstream == st.BytesDownstream
	})
	eventually(t, 2*time.Second, "sessions expired", func() bool {
		st := stats(t, p, "dns")
		return st.SessionsActive == 0 && st.SessionsExpired == 3
	})
	// A client whose session expired starts a new one.
	if _, got, err := udpRoundTrip(clients[1], "again", time.Second); err != nil || got != "again" {
		t.Fatalf("after expiry: %q, %v", got, err)
	}
}

func TestUDPDelayAccuracy(t *testing.T) {
	p := newProxy(t)
	echo, _ := startUDPEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "dns", Protocol: ProtoUDP, Upstream: echo})
	c := dialUDP(t, link.Listen)
	measure := func(n int) time.Duration {
		var rts []time.Duration
		for i := range n {
			d, got, err := udpRoundTrip(c, fmt.Sprint(i), 5*time.Second)
			if err != nil || got != fmt.Sprint(i) {
				t.Fatalf("round trip %d: %q %v", i, got, err)
			}
			rts = append(rts, d)
		}
		return quantile(rts, 0.5)
	}
	measure(20)
	base := measure(100)
	mustFault(t, p, "dns", FaultSpec{Kind: KindDelay, LatencyMS: 50, Direction: DirDownstream})
	added := measure(20) - base
	t.Logf("udp delay 50ms downstream: added %.3f ms (no fault median %.3f ms)", ms(added), ms(base))
	if math.Abs(ms(added)-50) > 2.5 {
		t.Fatalf("added %.3f ms, want 50 ± 2.5", ms(added))
	}
}

// TestUDPLoss drops that share of datagrams in the faulted direction only.
func TestUDPLoss(t *testing.T) {
	p := newProxy(t)
	echo, received := startUDPEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "dns", Protocol: ProtoUDP, Upstream: echo})
	const n, prob = 400, 0.3
	mustFault(t, p, "dns", FaultSpec{Kind: KindLoss, Probability: prob, Direction: DirUpstream})
	c := dialUDP(t, link.Listen)
	answered := 0
	buf := make([]byte, 100)
	for batch := range n / 50 {
		for i := range 50 {
			_, _ = c.Write([]byte(fmt.Sprint(batch*50 + i)))
		}
		for {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Read(buf); err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal(err)
				}
				break
			}
			answered++
		}
	}
	lost := n - answered
	mean, sd := n*prob, math.Sqrt(n*prob*(1-prob))
	t.Logf("udp loss %.1f upstream over %d datagrams: %d lost; expected %.0f ± %.1f (1 sd)", prob, n, lost, mean, sd)
	if math.Abs(float64(lost)-mean) > 4*sd {
		t.Fatalf("%d lost, want %.0f ± %.0f (4 sd)", lost, mean, 4*sd)
	}
	st := stats(t, p, "dns")
	if st.DatagramsDroppedUpstream != int64(lost) || st.DatagramsDroppedDownstream != 0 || received.Load() != int64(answered) {
		t.Fatalf("stats %+v, upstream received %d: want %d dropped upstream only", st, received.Load(), lost)
	}
}

func TestUDPBlackholeAndRemoval(t *testing.T) {
	p := newProxy(t)
	echo, received := startUDPEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "dns", Protocol: ProtoUDP, Upstream: echo})
	c := dialUDP(t, link.Listen)
	if _, _, err := udpRoundTrip(c, "before", time.Second); err != nil {
		t.Fatal(err)
	}
	mustFault(t, p, "dns", FaultSpec{Kind: KindBlackhole})
	if _, _, err := udpRoundTrip(c, "lost", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("under blackhole: %v, want a timeout", err)
	}
	if received.Load() != 1 || stats(t, p, "dns").DatagramsDroppedUpstream != 1 {
		t.Fatalf("upstream received %d, stats %+v", received.Load(), stats(t, p, "dns"))
	}
	if _, err := p.ClearFaults("dns", ""); err != nil {
		t.Fatal(err)
	}
	if d, got, err := udpRoundTrip(c, "after", time.Second); err != nil || got != "after" || d > 50*time.Millisecond {
		t.Fatalf("after removal: %q in %v, %v", got, d, err)
	}
}

func TestUDPBandwidthPaces(t *testing.T) {
	p := newProxy(t)
	echo, _ := startUDPEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "dns", Protocol: ProtoUDP, Upstream: echo})
	mustFault(t, p, "dns", FaultSpec{Kind: KindBandwidth, BytesPerS: 10_000, Direction: DirUpstream})
	c := dialUDP(t, link.Listen)
	start := time.Now()
	for range 10 {
		_, _ = c.Write(make([]byte, 500)) // 5000 bytes: 0.5 s at 10 kB/s
	}
	buf := make([]byte, 1000)
	for i := range 10 {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
	took := time.Since(start)
	t.Logf("udp bandwidth 10000 B/s: 10 × 500 B in %.1f ms (ideal 500)", ms(took))
	if took < 450*time.Millisecond || took > 750*time.Millisecond {
		t.Fatalf("took %v, want ≈ 500 ms", took)
	}
}
