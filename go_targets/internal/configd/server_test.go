package configd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

const serverConfig = `version: "s1"
log_level: debug
http:
  middleware: [request_id, cors, access_log]
  routes:
    /hello: {status: 200, body: "hello\n"}
    /slow: {status: 200, body: "slow", delay: 60ms}
    /teapot: {status: 418, body: "tea"}
    /limited: {status: 200, body: "x", rate_limit: tiny}
rate_limits:
  default: 100000
  tiny: 1
`

func TestServer(t *testing.T) {
	a, _, _ := newTestAtomic(t, serverConfig, AtomicOptions{})
	cache, _ := NewCache(LockSharded)
	srv := httptest.NewServer(NewServer(a, cache, testLogger(io.Discard)))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		wantBody           string // substring
		minDuration        time.Duration
		header             string // a header that must be set
	}{
		{"GET", "/hello", "", 200, "hello\n", 0, "X-Request-Id"},
		{"HEAD", "/hello", "", 200, "", 0, "ETag"},
		{"GET", "/hello", "", 200, "", 0, "Access-Control-Allow-Origin"},
		{"GET", "/teapot", "", 418, "tea", 0, ""},
		{"GET", "/slow", "", 200, "slow", 60 * time.Millisecond, ""},
		{"GET", "/nope", "", 404, "no route for /nope", 0, ""},
		{"POST", "/hello", "", 405, "GET and HEAD", 0, "Allow"},
		{"GET", "/-/healthz", "", 200, "ok", 0, ""},
		{"GET", "/-/readyz", "", 200, "ok", 0, ""},
		{"GET", "/-/config", "", 200, `"version":"s1"`, 0, ""},
		{"GET", "/cache/a/b", "", 404, "no such key", 0, ""},
		{"PUT", "/cache/a/b", "value-1", 204, "", 0, ""},
		{"GET", "/cache/a/b", "", 200, "value-1", 0, ""},
		{"POST", "/-/reload", "", 200, `"outcome":"reload_ok"`, 0, ""},
		{"GET", "/-/chaos/runtime", "", 404, "", 0, ""}, // agent off without a token
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, b, tc.status, tc.wantBody)
			}
			if v := resp.Header.Get(serve.VersionHeader); v != "s1" {
				t.Fatalf("X-Config-Version %q, want s1", v)
			}
			if tc.header != "" && resp.Header.Get(tc.header) == "" {
				t.Fatalf("header %s missing", tc.header)
			}
			if d := time.Since(start); d < tc.minDuration {
				t.Fatalf("took %s, want >= %s", d, tc.minDuration)
			}
		})
	}
	t.Run("config document", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/-/config")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"version", "sha256", "loaded_at", "last_error", "consecutive_failures", "breaker_open"} {
			if _, ok := doc[k]; !ok {
				t.Errorf("/-/config lacks %q: %v", k, doc)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(doc["loaded_at"])); err != nil {
			t.Errorf("loaded_at: %v", err)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		codes := map[int]int{}
		for range 5 {
			resp, err := http.Get(srv.URL + "/limited")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			codes[resp.StatusCode]++
		}
		if codes[200] != 1 || codes[429] != 4 {
			t.Fatalf("status counts %v, want one 200 then 429s", codes)
		}
	})
}

// The fixed caches under concurrent traffic (run with -race).
func TestCacheConcurrentTraffic(t *testing.T) {
	for _, lock := range []string{LockRWMutex, LockSharded} {
		t.Run(lock, func(t *testing.T) {
			c, err := NewCache(lock)
			if err != nil {
				t.Fatal(err)
			}
			const workers, ops = 16, 2000
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range ops {
						shared := fmt.Sprintf("shared-%d", i%64)
						c.Set(shared, []byte(shared))
						c.Set(fmt.Sprintf("w%d-%d", w, i), fmt.Appendf(nil, "%d/%d", w, i))
						if v, ok := c.Get(shared); ok && string(v) != shared {
							t.Errorf("%s = %q", shared, v)
						}
						_ = c.Len()
					}
				}()
			}
			wg.Wait()
			if got, want := c.Len(), workers*ops+64; got != want {
				t.Fatalf("Len %d, want %d", got, want)
			}
			for w := range workers {
				v, ok := c.Get(fmt.Sprintf("w%d-%d", w, ops-1))
				if want := fmt.Sprintf("%d/%d", w, ops-1); !ok || string(v) != want {
					t.Fatalf("worker %d's last value: %v %v", w, v, ok)
				}
			}
		})
	}
	if _, err := NewCache("spinlock"); err == nil || !strings.Contains(err.Error(), `cache lock "spinlock"`) {
		t.Fatalf("NewCache(spinlock): %v", err)
	}
}

// The unsafe strategy, used sequentially (no concurrency, so the race
// detector has nothing to report): it loads, serves and applies both kinds of
// change. Its crash is tested as a subprocess in cmd/configd.
func TestUnsafeSequential(t *testing.T) {
	_, path, _ := newTestAtomic(t, configYAML("u1", 2, false), AtomicOptions{})
	buf := &logBuffer{}
	u := NewUnsafe(path, testLogger(buf), testLogger(io.Discard))
	if out := u.Reload("startup"); out.Outcome != ReloadOK || u.Version() != "u1" {
		t.Fatalf("startup: %+v", out)
	}
	if _, ok := u.Route("/r1"); !ok {
		t.Fatal("route /r1 missing")
	}
	saved := rolloutWindow
	rolloutWindow = 0
	defer func() { rolloutWindow = saved }()
	writeReplace(t, path, strings.Replace(configYAML("u2", 2, false), "log_level: info", "log_level: debug", 1))
	if out := u.Reload("test"); out.Outcome != ReloadOK || u.Version() != "u2" {
		t.Fatalf("value-only: %+v", out)
	}
	writeReplace(t, path, configYAML("u3", 4, true))
	if out := u.Reload("test"); out.Outcome != ReloadOK || u.Version() != "u3" {
		t.Fatalf("structural: %+v", out)
	}
	if _, ok := u.Route("/r3"); !ok {
		t.Fatal("route /r3 missing after the structural change")
	}
	writeReplace(t, path, "http: [\n")
	if out := u.Reload("test"); out.Outcome != ReloadRejected || u.Status().LastError == "" {
		t.Fatalf("syntax error: %+v", out)
	}
}
