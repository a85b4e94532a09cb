package netfault

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/wanterr"
)

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, m
}

func TestControlAPI(t *testing.T) {
	p := newProxy(t)
	srv := httptest.NewServer(NewServer(p))
	defer srv.Close()
	echo := startEcho(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	status, body := call(t, srv, "POST", "/links", `{"name":"etcd0","protocol":"tcp","listen":"127.0.0.1:0","upstream":"`+echo.addr+`"}`)
	if status != 201 || body["name"] != "etcd0" || strings.HasSuffix(body["listen"].(string), ":0") {
		t.Fatalf("create: %d %v", status, body)
	}
	listen := body["listen"].(string)

	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string // in "error", or a top-level key of the answer
	}{
		{"GET", "/links", "", 200, "links"},
		{"GET", "/links/etcd0", "", 200, "listen"},
		{"GET", "/links/nope", "", 404, `no link "nope"`},
		{"DELETE", "/links/nope", "", 404, `no link "nope"`},
		{"GET", "/links/nope/stats", "", 404, `no link "nope"`},
		{"PUT", "/links/nope/fault", `{"kind":"delay","latency_ms":5}`, 404, `no link "nope"`},
		{"DELETE", "/links/nope/fault", "", 404, `no link "nope"`},
		{"POST", "/links", `{"name":"x",`, 400, "bad JSON body"},
		{"POST", "/links", ``, 400, "bad JSON body: empty body"},
		{"POST", "/links", `{"name":"x","upstream":"127.0.0.1:1","colour":"red"}`, 400, `unknown field "colour"`},
		{"POST", "/links", `{"name":"x","upstream":"127.0.0.1:1"} {}`, 400, "trailing data"},
		{"POST", "/links", `{"name":"etcd0","upstream":"127.0.0.1:1"}`, 409, `link "etcd0" exists already`},
		{"POST", "/links", `{"name":"x","listen":"` + busy.Addr().String() + `","upstream":"127.0.0.1:1"}`, 409, "address already in use"},
		{"POST", "/links", `{"name":"x","protocol":"sctp","upstream":"127.0.0.1:1"}`, 400, `protocol "sctp": want tcp or udp`},
		{"POST", "/links", `{"name":"x","upstream":"127.0.0.1"}`, 400, `upstream "127.0.0.1": want host:port`},
		{"POST", "/links", `{"name":"x","upstream":"127.0.0.1:0"}`, 400, `port "0": want 1..65535`},
		{"POST", "/links", `{"name":"a/b","upstream":"127.0.0.1:1"}`, 400, `name "a/b"`},
		{"POST", "/links", `{"name":"x","upstream":"127.0.0.1:1","udp_idle_timeout_ms":5}`, 400, "udp links only"},
		{"PUT", "/links/etcd0/fault", `{"kind":"delay"`, 400, "bad JSON body"},
		{"PUT", "/links/etcd0/fault", `{"kind":"slow"}`, 400, `kind "slow"`},
		{"PUT", "/links/etcd0/fault", `{"kind":"delay","latency_ms":-1}`, 400, "latency_ms -1"},
		{"PUT", "/links/etcd0/fault", `{"kind":"loss","probability":0.5,"direction":"upstream"}`, 400, "direction must be both"},
		{"PUT", "/links/etcd0/fault", `{"kind":"delay","latency_ms":100,"jitter_ms":10,"direction":"both"}`, 200, "fault"},
		{"PUT", "/links/etcd0/fault", `{"kind":"delay","latency_ms":50}`, 200, "replaced"},
		{"PUT", "/links/etcd0/fault", `{"kind":"bandwidth","bytes_per_s":1000000,"direction":"downstream"}`, 200, "fault"},
		{"GET", "/links/etcd0/fault", "", 200, "faults"},
		{"DELETE", "/links/etcd0/fault/reset", "", 404, `link "etcd0" has no reset fault`},
		{"DELETE", "/links/etcd0/fault/slow", "", 400, `fault kind "slow"`},
		{"DELETE", "/links/etcd0/fault/bandwidth", "", 200, "removed"},
		{"GET", "/links/etcd0/stats", "", 200, "fault_applied_at_unix_ns"},
		{"DELETE", "/faults", "", 200, "removed"},
		{"DELETE", "/links/etcd0/fault", "", 200, "removed"},
		{"GET", "/nowhere", "", 404, "no route GET /nowhere"},
		{"GET", "/-/healthz", "", 200, ""},
	} {
		status, body := call(t, srv, tc.method, tc.path, tc.body)
		if status != tc.status {
			t.Errorf("%s %s %s: status %d %v, want %d", tc.method, tc.path, tc.body, status, body, tc.status)
			continue
		}
		if tc.status >= 400 {
			if msg, _ := body["error"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("%s %s %s: error %q, want it to contain %q", tc.method, tc.path, tc.body, msg, tc.want)
			}
		} else if _, ok := body[tc.want]; tc.want != "" && !ok {
			t.Errorf("%s %s: %v has no %q", tc.method, tc.path, body, tc.want)
		}
	}

	// The fault PUT answers with the applied fault; replaced is the previous one of its kind.
	_, body = call(t, srv, "PUT", "/links/etcd0/fault", `{"kind":"blackhole","direction":"upstream"}`)
	f := body["fault"].(map[string]any)
	if f["kind"] != "blackhole" || f["direction"] != "upstream" || f["applied_at_unix_ns"].(float64) <= 0 || body["replaced"] != nil {
		t.Fatalf("put blackhole: %v", body)
	}
	_, st := call(t, srv, "GET", "/links/etcd0/stats", "")
	if st["fault_applied_at_unix_ns"] != f["applied_at_unix_ns"] {
		t.Fatalf("stats %v: want fault_applied_at_unix_ns %v", st, f["applied_at_unix_ns"])
	}
	_, body = call(t, srv, "DELETE", "/faults", "")
	if removed := body["removed"].([]any); len(removed) != 1 {
		t.Fatalf("DELETE /faults: %v", body)
	}
	if status, body := call(t, srv, "DELETE", "/links/etcd0", ""); status != 200 || body["listen"] != listen {
		t.Fatalf("delete: %d %v", status, body)
	}
	if status, body := call(t, srv, "GET", "/links", ""); status != 200 || len(body["links"].([]any)) != 0 {
		t.Fatalf("links after delete: %d %v", status, body)
	}
}

func TestUDPLinkListenInUse(t *testing.T) {
	p := newProxy(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, err = p.Create(LinkSpec{Name: "dns", Protocol: ProtoUDP, Listen: pc.LocalAddr().String(), Upstream: "127.0.0.1:53"})
	wanterr.Check(t, err, "address already in use")
}

func TestFaultValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto string
		spec  FaultSpec
		want  string
	}{
		{"delay", ProtoTCP, FaultSpec{Kind: KindDelay, LatencyMS: 100, JitterMS: 10}, ""},
		{"delay jitter only", ProtoTCP, FaultSpec{Kind: KindDelay, JitterMS: 10}, ""},
		{"delay zero", ProtoTCP, FaultSpec{Kind: KindDelay}, "both 0"},
		{"delay too long", ProtoTCP, FaultSpec{Kind: KindDelay, LatencyMS: 600_001}, "want 0..600000"},
		{"delay negative jitter", ProtoTCP, FaultSpec{Kind: KindDelay, LatencyMS: 1, JitterMS: -1}, "jitter_ms -1"},
		{"delay with probability", ProtoTCP, FaultSpec{Kind: KindDelay, LatencyMS: 1, Probability: 0.5}, "probability does not apply"},
		{"bad direction", ProtoTCP, FaultSpec{Kind: KindDelay, LatencyMS: 1, Direction: "sideways"}, `direction "sideways"`},
		{"loss tcp", ProtoTCP, FaultSpec{Kind: KindLoss, Probability: 1}, ""},
		{"loss zero", ProtoTCP, FaultSpec{Kind: KindLoss}, "probability 0"},
		{"loss above one", ProtoUDP, FaultSpec{Kind: KindLoss, Probability: 1.5}, "probability 1.5"},
		{"loss udp one way", ProtoUDP, FaultSpec{Kind: KindLoss, Probability: 0.1, Direction: DirDownstream}, ""},
		{"loss tcp one way", ProtoTCP, FaultSpec{Kind: KindLoss, Probability: 0.1, Direction: DirDownstream}, "direction must be both"},
		{"reset", ProtoTCP, FaultSpec{Kind: KindReset}, ""},
		{"reset udp", ProtoUDP, FaultSpec{Kind: KindReset}, "tcp links only"},
		{"reset one way", ProtoTCP, FaultSpec{Kind: KindReset, Direction: DirUpstream}, "direction must be both"},
		{"blackhole one way", ProtoUDP, FaultSpec{Kind: KindBlackhole, Direction: DirDownstream}, ""},
		{"blackhole with latency", ProtoTCP, FaultSpec{Kind: KindBlackhole, LatencyMS: 5}, "latency_ms does not apply"},
		{"bandwidth", ProtoTCP, FaultSpec{Kind: KindBandwidth, BytesPerS: 1}, ""},
		{"bandwidth zero", ProtoTCP, FaultSpec{Kind: KindBandwidth}, "bytes_per_s 0"},
		{"unknown kind", ProtoTCP, FaultSpec{Kind: "corrupt"}, `kind "corrupt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.spec.Validate(tc.proto)
			wanterr.Check(t, err, tc.want)
			if err == nil && got.Direction == "" {
				t.Fatal("direction not filled in")
			}
		})
	}
}

func TestLimiterPaces(t *testing.T) {
	l := newLimiter(1000)
	now := time.Unix(0, 0)
	if at := l.reserve(100, now); at != now.Add(100*time.Millisecond) {
		t.Fatalf("first 100 B at %v", at.Sub(now))
	}
	if at := l.reserve(500, now); at != now.Add(600*time.Millisecond) {
		t.Fatalf("next 500 B at %v", at.Sub(now))
	}
	later := now.Add(2 * time.Second) // idle time is not saved up as a burst
	if at := l.reserve(100, later); at != later.Add(100*time.Millisecond) {
		t.Fatalf("after idling, 100 B at %v", at.Sub(later))
	}
	if q := newLimiter(1 << 30).quantum; q != 16<<10 {
		t.Fatalf("quantum %d", q)
	}
}
