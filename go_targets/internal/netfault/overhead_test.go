package netfault

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestOverheadNoFault measures what a link with no fault adds to a round
// trip: alternating round trips direct to the upstream and through the link,
// on one kept-open connection each, same run. It logs p50/p99 of both (run
// with -v to see them) and fails only on a gross regression (p50 added > 1 ms).
func TestOverheadNoFault(t *testing.T) {
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	direct, proxied := dial(t, echo.addr), dial(t, link.Listen)
	msg := make([]byte, 64)
	const n = 3000
	var dd, pd []time.Duration
	for i := range n + 200 {
		a, err := roundTrip(direct, msg, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b, err := roundTrip(proxied, msg, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if i >= 200 { // warmed up
			dd, pd = append(dd, a), append(pd, b)
		}
	}
	report(t, "tcp echo, 64 B", dd, pd)

	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer hs.Close()
	hl := mustLink(t, p, LinkSpec{Name: "http", Upstream: hs.Listener.Addr().String()})
	directClient := &http.Client{Transport: &http.Transport{}}
	proxyClient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, hl.Listen)
	}}}
	get := func(c *http.Client) time.Duration {
		start := time.Now()
		resp, err := c.Get(hs.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	dd, pd = nil, nil
	for i := range 2000 + 200 {
		a, b := get(directClient), get(proxyClient)
		if i >= 200 {
			dd, pd = append(dd, a), append(pd, b)
		}
	}
	report(t, "http GET keep-alive", dd, pd)
}

func report(t *testing.T, what string, direct, proxied []time.Duration) {
	t.Helper()
	d50, d99 := quantile(direct, 0.5), quantile(direct, 0.99)
	p50, p99 := quantile(proxied, 0.5), quantile(proxied, 0.99)
	t.Logf("overhead, no fault, %s, %d round trips each: direct p50 %.1f µs p99 %.1f µs; through the proxy p50 %.1f µs p99 %.1f µs; added p50 %.1f µs p99 %.1f µs",
		what, len(direct), us(d50), us(d99), us(p50), us(p99), us(p50-d50), us(p99-d99))
	if p50-d50 > time.Millisecond {
		t.Errorf("%s: the proxy adds %.1f µs at p50, want well under 1 ms", what, us(p50-d50))
	}
}

// BenchmarkRoundTrip: a 64-byte echo round trip direct and through a link
// with no fault (compare ns/op).
func BenchmarkRoundTrip(b *testing.B) {
	p := newProxy(b)
	echo := startEcho(b)
	link := mustLink(b, p, LinkSpec{Name: "echo", Upstream: echo.addr})
	for _, bc := range []struct{ name, addr string }{{"direct", echo.addr}, {"proxy", link.Listen}} {
		b.Run(bc.name, func(b *testing.B) {
			c := dial(b, bc.addr)
			msg := make([]byte, 64)
			for b.Loop() {
				if _, err := roundTrip(c, msg, time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
