package allocd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

func quietLog() *slog.Logger { return serve.NewLogger(io.Discard, slog.LevelInfo, "allocd") }

func newTestServer(t *testing.T, opt Options) (*Service, *httptest.Server) {
	t.Helper()
	opt.Log = quietLog()
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(s, serve.StaticConfig(Version, opt, time.Now()), opt.Log))
	t.Cleanup(srv.Close)
	return s, srv
}

func TestMerge(t *testing.T) {
	_, srv := newTestServer(t, Options{Leak: LeakNone})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		keys, items              int
		cache                    string
	}{
		{"synthesized", "GET", "/merge?size=100", "", 200, 250, 250, "miss"},
		{"synthesized again", "GET", "/merge?size=100", "", 200, 250, 250, "hit"},
		{"nonce defeats the cache", "GET", "/merge?size=100&nonce=x", "", 200, 250, 250, "miss"},
		{"body", "POST", "/merge", `{"maps":[{"a":1,"b":{"c":[1,2]}},{"b":2,"d":3}],"lists":[[1,2,3],[3,4]]}`, 200, 3, 4, "miss"},
		{"empty body input", "POST", "/merge", `{}`, 200, 0, 0, "miss"},
		{"bad json", "POST", "/merge", `{"maps":`, 400, 0, 0, ""},
		{"bad size", "GET", "/merge?size=-1", "", 400, 0, 0, ""},
		{"huge size", "GET", "/merge?size=999999999", "", 400, 0, 0, ""},
		{"GET without size", "GET", "/merge", "", 400, 0, 0, ""},
		{"bad timeout", "GET", "/merge?size=1&timeout_ms=0", "", 400, 0, 0, ""},
		{"wrong method", "DELETE", "/merge", "", 405, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d %s, want %d", resp.StatusCode, b, tc.status)
			}
			if resp.Header.Get(serve.VersionHeader) != Version {
				t.Fatalf("X-Config-Version %q", resp.Header.Get(serve.VersionHeader))
			}
			if tc.status != 200 {
				return
			}
			var res Result
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				t.Fatal(err)
			}
			if res.Keys != tc.keys || res.Items != tc.items || res.Cache != tc.cache || resp.Header.Get("X-Cache") != tc.cache {
				t.Fatalf("got %+v (X-Cache %s), want keys %d items %d cache %s", res, resp.Header.Get("X-Cache"), tc.keys, tc.items, tc.cache)
			}
		})
	}
}

// With the fix, timed-out workers finish and exit: no goroutine stays behind.
func TestTimeoutsDoNotLeak(t *testing.T) {
	s, err := New(Options{Leak: LeakNone, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	in := Synthesize(1000)
	timeouts := 0
	for i := range 20 {
		_, err := s.Merge(context.Background(), "k"+string(rune('a'+i)), in, time.Microsecond)
		if err != nil {
			timeouts++
		}
	}
	if timeouts == 0 {
		t.Fatal("no merge timed out; the test needs timeouts")
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d, before %d: timed-out workers did not exit", runtime.NumGoroutine(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("leak=none: %d/20 merges timed out; goroutines back to %d (before %d)", timeouts, runtime.NumGoroutine(), before)
}

func TestShedding(t *testing.T) {
	live := uint64(100 << 20)
	saved := heapLive
	heapLive = func() uint64 { return live }
	defer func() { heapLive = saved }()
	s, srv := newTestServer(t, Options{Leak: LeakNone, ShedOverPct: 15})
	if s.Baseline() != 100<<20 {
		t.Fatalf("baseline %d", s.Baseline())
	}
	for _, step := range []struct {
		live   uint64
		status int
	}{
		{110 << 20, 200}, // +10%: under the limit
		{120 << 20, 503}, // +20%: shed
		{101 << 20, 200}, // back
	} {
		live = step.live
		s.sample()
		resp, err := http.Get(srv.URL + "/merge?size=10")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != step.status {
			t.Fatalf("heap %d MiB: status %d %s, want %d", step.live>>20, resp.StatusCode, b, step.status)
		}
		if step.status == 503 && (resp.Header.Get("Retry-After") != "1" ||
			!strings.Contains(string(b), "heap live 120 MiB is more than 15% over the 100 MiB baseline")) {
			t.Fatalf("503 without Retry-After or reason: %v %s", resp.Header, b)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, opt := range []Options{{Leak: "sometimes"}, {Leak: LeakNone, ShedOverPct: -1}} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
}
