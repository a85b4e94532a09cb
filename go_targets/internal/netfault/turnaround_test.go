package netfault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestTurnaroundShowsTheDelay: with a real echo upstream, the proxy's own
// turnaround of each link (TCP and UDP) grows by the configured delay per
// faulted direction, within ±5 ms, and is served by the control API.
func TestTurnaroundShowsTheDelay(t *testing.T) {
	p := newProxy(t)
	tcpEcho := startEcho(t)
	udpEcho, _ := startUDPEcho(t)
	mustLink(t, p, LinkSpec{Name: "tcp", Upstream: tcpEcho.addr})
	mustLink(t, p, LinkSpec{Name: "udp", Protocol: ProtoUDP, Upstream: udpEcho})
	tcpConn := dial(t, mustInfo(t, p, "tcp").Listen)
	udpConn := dialUDP(t, mustInfo(t, p, "udp").Listen)
	trip := map[string]func() error{
		"tcp": func() error { _, err := roundTrip(tcpConn, []byte("ping"), 2*time.Second); return err },
		"udp": func() error { _, _, err := udpRoundTrip(udpConn, "ping", 2*time.Second); return err },
	}
	const n = 15
	for _, tc := range []struct {
		link, direction string
		factor          float64
	}{{"tcp", DirUpstream, 1}, {"udp", DirDownstream, 1}, {"tcp", DirBoth, 2}} {
		t.Run(fmt.Sprintf("%s %s", tc.link, tc.direction), func(t *testing.T) {
			window := func() Turnarounds {
				t.Helper()
				since := time.Now().UnixNano()
				for range n {
					if err := trip[tc.link](); err != nil {
						t.Fatal(err)
					}
				}
				// The last sample lands once the proxy's write returned, maybe after the client read it.
				var got Turnarounds
				eventually(t, time.Second, fmt.Sprintf("%d turnarounds", n), func() bool {
					var err error
					got, err = p.Turnarounds(tc.link, since, 0)
					return err == nil && got.Count == n
				})
				return got
			}
			before := window()
			mustFault(t, p, tc.link, FaultSpec{Kind: KindDelay, LatencyMS: 20, Direction: tc.direction})
			during := window()
			if _, err := p.ClearFaults(tc.link, ""); err != nil {
				t.Fatal(err)
			}
			added, want := during.P50MS-before.P50MS, 20*tc.factor
			t.Logf("p50 %.2f -> %.2f ms: %+.2f ms added, %.0f ms configured", before.P50MS, during.P50MS, added, want)
			if added < want-5 || added > want+5 {
				t.Fatalf("turnaround p50 %.2f -> %.2f ms: %+.2f ms added, want %.0f ± 5", before.P50MS, during.P50MS, added, want)
			}
		})
	}

	srv := httptest.NewServer(NewServer(p))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/links/udp/turnaround?since_unix_ns=1")
	if err != nil {
		t.Fatal(err)
	}
	var served Turnarounds
	err = json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || served.Link != "udp" || served.Count != 2*n || served.Total != 2*n {
		t.Fatalf("GET turnaround: %d %+v %v", resp.StatusCode, served, err)
	}
	for _, q := range []string{"since_unix_ns=x", "since_unix_ns=5&until_unix_ns=4"} {
		resp, err := http.Get(srv.URL + "/links/udp/turnaround?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("?%s: status %d, want 400", q, resp.StatusCode)
		}
	}
}

// TestTurnaroundCountsOnlyAnsweredReads: a server push (no read waiting) is
// no sample, and the ring keeps only the most recent samples.
func TestTurnaroundCountsOnlyAnsweredReads(t *testing.T) {
	var r turnarounds
	var pr pendingRequest
	r.answered(pr.answering()) // a push: nothing read
	now := time.Now()
	pr.read(now.Add(-3 * time.Millisecond))
	pr.read(now) // the second read of the same request: still the first one counts
	r.answered(pr.answering())
	r.answered(pr.answering()) // the rest of the answer
	got := r.window(0, 0)
	if got.Count != 1 || got.P50MS < 3 || got.P50MS > 1000 {
		t.Fatalf("one read, answered in three writes: %+v", got)
	}
	for i := range turnaroundRing + 10 {
		r.add(int64(i+1), int64(i)*int64(time.Millisecond))
	}
	all := r.window(0, 1<<62)
	if all.Count != turnaroundRing || all.Total != turnaroundRing+11 || all.SamplesMS[0] != 10 {
		t.Fatalf("ring: count %d total %d first %v", all.Count, all.Total, all.SamplesMS[0])
	}
	if w := r.window(100, 200); w.Count != 101 || w.P50MS != 149 || w.MaxMS != 199 {
		t.Fatalf("window 100..200: %+v", w)
	}
}

func mustInfo(t testing.TB, p *Proxy, name string) LinkInfo {
	t.Helper()
	info, err := p.Link(name)
	if err != nil {
		t.Fatal(err)
	}
	return info
}
