package greeter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

const sampleConfig = `{"greeting": "hello", "rate_limit": 100, "routes": ["/", "/hello"]}`

// env is a Server on a temporary config file, its handlers served by
// httptest: main with the admin routes unless the test asks for an admin
// listener.
type env struct {
	srv         *Server
	path        string
	logs        *proctest.SyncBuffer
	main, admin *httptest.Server // admin is nil without separateAdmin
}

type envOpt struct {
	bug, observe   string
	noConfigMetric bool
	separateAdmin  bool
	config         string // "" is sampleConfig
}

func newEnv(t *testing.T, o envOpt) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "greeter.json")
	if o.config == "" {
		o.config = sampleConfig
	}
	writeReplace(t, path, o.config)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	logs := &proctest.SyncBuffer{}
	srv, err := New(Options{ConfigPath: path, Bug: o.bug, Observe: o.observe, ConfigMetric: !o.noConfigMetric,
		Registerer: reg, Gatherer: reg}, NewLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, path: path, logs: logs, main: httptest.NewServer(srv.Handler(!o.separateAdmin))}
	if o.separateAdmin {
		e.admin = httptest.NewServer(srv.AdminHandler())
	}
	t.Cleanup(func() {
		e.main.Close()
		if e.admin != nil {
			e.admin.Close()
		}
		srv.Close()
	})
	return e
}

// writeReplace writes data by rename-replace, as editors do.
func writeReplace(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// write replaces the config and returns its hash.
func (e *env) write(t *testing.T, data string) string {
	t.Helper()
	writeReplace(t, e.path, data)
	return Hash([]byte(data))
}

// logLines returns the log lines whose msg is msg.
func (e *env) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func get(t testing.TB, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// metrics returns the greeter_ series of /metrics as "name{labels}" -> value,
// and whether go_goroutines was there.
func metrics(t *testing.T, url string) (map[string]float64, bool) {
	t.Helper()
	resp, body := get(t, url+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "greeter_") {
			continue
		}
		for _, m := range f.Metric {
			key := name
			for _, l := range m.Label {
				key += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	_, goroutines := fams["go_goroutines"]
	return out, goroutines
}

func liveMetrics(hash string, ok float64) map[string]float64 {
	return map[string]float64{
		MetricConfigInfo + `{hash="` + hash + `"}`: 1,
		MetricLastReloadSuccessful:                 ok,
	}
}

func eqMetrics(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestServesConfiguredRoutes(t *testing.T) {
	e := newEnv(t, envOpt{})
	hash := Hash([]byte(sampleConfig))
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "hello\n"},
		{"GET", "/hello", 200, "hello\n"},
		{"HEAD", "/hello", 200, ""},
		{"GET", "/other", 404, "404 page not found\n"},
		{"GET", "/hello/", 404, "404 page not found\n"},
		{"POST", "/hello", 405, "Method Not Allowed\n"},
		{"GET", "/-/healthz", 200, "ok\n"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.main.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
			if got := resp.Header.Get(HashHeader); got != hash {
				t.Fatalf("%s: %q, want %q", HashHeader, got, hash)
			}
		})
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	// rate_limit 5: burst 1, then nothing until a refill (every ~33 ms).
	e := newEnv(t, envOpt{config: `{"greeting": "hi", "rate_limit": 5, "routes": ["/"]}`})
	if resp, _ := get(t, e.main.URL+"/"); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	resp, _ := get(t, e.main.URL+"/")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second request at once: %d, Retry-After %q; want 429, 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Health and metrics are not limited.
	for _, p := range []string{"/-/healthz", "/metrics"} {
		if resp, _ := get(t, e.main.URL+p); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
}

// Every reload outcome of the fixed build: live hash (header, metric), the
// served greeting and the log line.
func TestReloadOutcomes(t *testing.T) {
	e := newEnv(t, envOpt{})
	live := Hash([]byte(sampleConfig))
	for _, tc := range []struct {
		name    string
		config  string // "-" deletes the file
		wantErr string
		body    string
	}{
		{"new greeting", `{"greeting": "hi", "rate_limit": 100, "routes": ["/", "/hello"]}`, "", "hi\n"},
		{"identical bytes", `{"greeting": "hi", "rate_limit": 100, "routes": ["/", "/hello"]}`, "", "hi\n"},
		{"negative rate_limit", `{"greeting": "x", "rate_limit": -1, "routes": ["/"]}`, "rate_limit: -1 not in 1..1000000", "hi\n"},
		{"zero rate_limit", `{"greeting": "x", "rate_limit": 0, "routes": ["/"]}`, "rate_limit: 0 not in 1..1000000", "hi\n"},
		{"empty greeting", `{"greeting": "", "rate_limit": 5, "routes": ["/"]}`, "greeting: must be a non-empty string", "hi\n"},
		{"no routes", `{"greeting": "x", "rate_limit": 5, "routes": []}`, "routes: must list", "hi\n"},
		{"unknown field", `{"greeting": "x", "rate_limit": 5, "routes": ["/"], "burst": 1}`, `json: unknown field "burst"`, "hi\n"},
		{"does not parse", `{"greeting": `, "json: unexpected EOF", "hi\n"},
		{"valid again", `{"greeting": "back", "rate_limit": 50, "routes": ["/"]}`, "", "back\n"},
		{"missing file", "-", "read config: ", "back\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hash := ""
			if tc.config == "-" {
				if err := os.Remove(e.path); err != nil {
					t.Fatal(err)
				}
			} else {
				hash = e.write(t, tc.config)
			}
			before := len(e.logLines(ReloadOK)) + len(e.logLines(ReloadRejected))
			err := e.srv.Reload()
			ok := 1.0
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("reload: %v", err)
				}
				live = hash
			} else {
				ok = 0
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("reload: %v, want an error containing %q", err, tc.wantErr)
				}
			}
			resp, body := get(t, e.main.URL+"/")
			if body != tc.body || resp.Header.Get(HashHeader) != live {
				t.Fatalf("GET /: %q with %s %q, want %q with %q", body, HashHeader, resp.Header.Get(HashHeader), tc.body, live)
			}
			if m, _ := metrics(t, e.main.URL); !eqMetrics(m, liveMetrics(live, ok)) {
				t.Fatalf("metrics %v, want %v", m, liveMetrics(live, ok))
			}
			lines := append(e.logLines(ReloadOK), e.logLines(ReloadRejected)...)
			if len(lines) != before+1 {
				t.Fatalf("%d reload log lines, want %d:\n%s", len(lines), before+1, e.logs)
			}
			var line map[string]any
			if tc.wantErr == "" {
				line = e.logLines(ReloadOK)[len(e.logLines(ReloadOK))-1]
				if line["level"] != "info" || line["hash"] != hash || line["error"] != nil {
					t.Fatalf("log line %v, want level info, hash %s", line, hash)
				}
			} else {
				line = e.logLines(ReloadRejected)[len(e.logLines(ReloadRejected))-1]
				if line["level"] != "warn" || !strings.Contains(fmt.Sprint(line["error"]), tc.wantErr) {
					t.Fatalf("log line %v, want level warn, error containing %q", line, tc.wantErr)
				}
				if h, has := line["hash"]; (hash == "" && has) || (hash != "" && h != hash) {
					t.Fatalf("log line %v, want hash %q (none when the file cannot be read)", line, hash)
				}
			}
			if _, has := line["time"]; !has || line["target"] != "greeter" {
				t.Fatalf("log line %v: want time and target greeter", line)
			}
		})
	}
}

func TestStartupRejectsInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"negative rate_limit", `{"greeting": "x", "rate_limit": -1, "routes": ["/"]}`, "rate_limit: -1"},
		{"unknown field", `{"greeting": "x", "rate_limit": 1, "routes": ["/"], "x": 1}`, "unknown field"},
		{"does not parse", `{`, "json: "},
	} {
		for _, bug := range Bugs {
			t.Run(tc.name+"/"+bug, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "greeter.json")
				writeReplace(t, path, tc.config)
				reg := prometheus.NewRegistry()
				_, err := New(Options{ConfigPath: path, Bug: bug, Registerer: reg, Gatherer: reg}, NewLogger(io.Discard))
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("New: %v, want an error containing %q", err, tc.want)
				}
			})
		}
	}
}

const negativeRate = `{"greeting": "hello", "rate_limit": -1, "routes": ["/", "/hello"]}`

// reload-crash: the buggy reload panics in make (on whatever goroutine runs
// it: SIGHUP's or Watch's, with no recover, in the real process); the fixed
// build rejects the config.
func TestBugReloadCrash(t *testing.T) {
	for _, tc := range []struct {
		bug       string
		wantPanic bool
	}{
		{BugReloadCrash, true},
		{BugNone, false},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			e := newEnv(t, envOpt{bug: tc.bug})
			live := e.srv.Hash()
			e.write(t, negativeRate)
			var recovered any
			err := func() error {
				defer func() { recovered = recover() }()
				return e.srv.Reload()
			}()
			if tc.wantPanic {
				rerr, ok := recovered.(runtime.Error)
				if !ok || !strings.Contains(rerr.Error(), "makeslice: len out of range") {
					t.Fatalf("recovered %v (err %v), want runtime error makeslice: len out of range", recovered, err)
				}
				return
			}
			if recovered != nil || err == nil || !strings.Contains(err.Error(), "rate_limit: -1") {
				t.Fatalf("recovered %v, err %v; want no panic and a rate_limit error", recovered, err)
			}
			if resp, body := get(t, e.main.URL+"/"); resp.StatusCode != 200 || body != "hello\n" || e.srv.Hash() != live {
				t.Fatalf("after the rejected reload: %d %q, live %s; want 200 and %s still live", resp.StatusCode, body, e.srv.Hash(), live)
			}
		})
	}
	// A valid reload on the reload-crash build works (the limiter is
	// carried over, not broken).
	t.Run("reload-crash valid reload", func(t *testing.T) {
		e := newEnv(t, envOpt{bug: BugReloadCrash})
		e.write(t, `{"greeting": "hey", "rate_limit": 200, "routes": ["/"]}`)
		if err := e.srv.Reload(); err != nil {
			t.Fatal(err)
		}
		if resp, body := get(t, e.main.URL+"/"); resp.StatusCode != 200 || body != "hey\n" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
}

// accept-invalid: a rate_limit <= 0 is applied and reported as a successful
// reload, and every request then gets 429; the fixed build rejects it and
// keeps serving.
func TestBugAcceptInvalid(t *testing.T) {
	for _, rate := range []int{-1, 0} {
		for _, tc := range []struct {
			bug        string
			wantStatus int
			wantLive   bool // the new config's hash is the live one
		}{
			{BugAcceptInvalid, http.StatusTooManyRequests, true},
			{BugNone, http.StatusOK, false},
		} {
			t.Run(fmt.Sprintf("%s/rate_limit=%d", tc.bug, rate), func(t *testing.T) {
				e := newEnv(t, envOpt{bug: tc.bug})
				old := e.srv.Hash()
				hash := e.write(t, fmt.Sprintf(`{"greeting": "hello", "rate_limit": %d, "routes": ["/", "/hello"]}`, rate))
				err := e.srv.Reload()
				if (err == nil) != tc.wantLive {
					t.Fatalf("reload: %v", err)
				}
				want, ok := old, 0.0
				if tc.wantLive {
					want, ok = hash, 1
					if n := len(e.logLines(ReloadOK)); n != 1 {
						t.Fatalf("%d %q lines, want 1", n, ReloadOK)
					}
				}
				// Every request, however slow, is denied (or none is).
				for i := range 5 {
					resp, _ := get(t, e.main.URL+"/hello")
					if resp.StatusCode != tc.wantStatus || resp.Header.Get(HashHeader) != want {
						t.Fatalf("request %d: %d with hash %q, want %d with %q", i, resp.StatusCode, resp.Header.Get(HashHeader), tc.wantStatus, want)
					}
					time.Sleep(40 * time.Millisecond) // past a refill
				}
				if m, _ := metrics(t, e.main.URL); !eqMetrics(m, liveMetrics(want, ok)) {
					t.Fatalf("metrics %v, want %v", m, liveMetrics(want, ok))
				}
			})
		}
	}
}

// refreshers counts the goroutines running (*Server).refreshQuota.
func refreshers() int {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "greeter.(*Server).refreshQuota(")
}

// settle waits (up to 2 s) for f to reach want and returns its last value.
func settle(want int, f func() int) int {
	deadline := time.Now().Add(2 * time.Second)
	n := f()
	for n != want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = f()
	}
	return n
}

// stableGoroutines closes the default client's idle connections and returns
// runtime.NumGoroutine once it has not changed for 50 ms (or after 2 s).
func stableGoroutines() int {
	http.DefaultClient.CloseIdleConnections()
	n, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(2 * time.Second); same < 5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// leak-goroutines: every accepted reload leaves the previous generation's 3
// refreshQuota goroutines running; the fixed build stops them.
func TestBugLeakGoroutines(t *testing.T) {
	const reloads = 10
	for _, tc := range []struct {
		bug      string
		wantGrow int
	}{
		{BugLeakGoroutines, quotaRefreshers * reloads},
		{BugNone, 0},
		{BugReloadCrash, 0},
		{BugAcceptInvalid, 0},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			e := newEnv(t, envOpt{bug: tc.bug})
			// Counts are relative: an earlier leaky subtest's goroutines stay.
			base := stableGoroutines()
			baseRefreshers := refreshers()
			for i := range reloads {
				e.write(t, fmt.Sprintf(`{"greeting": "hello %d", "rate_limit": 100, "routes": ["/"]}`, i))
				if err := e.srv.Reload(); err != nil {
					t.Fatal(err)
				}
			}
			// Rejected reloads start nothing, in any build.
			e.write(t, `{"greeting": ""}`)
			if err := e.srv.Reload(); err == nil {
				t.Fatal("an empty greeting was accepted")
			}
			if got := settle(baseRefreshers+tc.wantGrow, refreshers); got-baseRefreshers != tc.wantGrow {
				t.Fatalf("refreshQuota goroutines grew by %d after %d reloads, want %d", got-baseRefreshers, reloads, tc.wantGrow)
			}
			// NumGoroutine also counts other goroutines (HTTP connections of
			// earlier tests winding down): allow a little slack.
			settle(base+tc.wantGrow, runtime.NumGoroutine)
			if grew := stableGoroutines() - base; grew < tc.wantGrow-2 || grew > tc.wantGrow+2 {
				t.Fatalf("runtime.NumGoroutine grew by %d after %d reloads, want %d", grew, reloads, tc.wantGrow)
			}
			if resp, body := get(t, e.main.URL+"/"); resp.StatusCode != 200 || body != fmt.Sprintf("hello %d\n", reloads-1) {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		})
	}
}

// --config-metric=false: nothing shows which config is live.
func TestConfigMetricOff(t *testing.T) {
	e := newEnv(t, envOpt{noConfigMetric: true})
	hashes := []string{Hash([]byte(sampleConfig))}
	hashes = append(hashes, e.write(t, `{"greeting": "hi", "rate_limit": 100, "routes": ["/"]}`))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	hashes = append(hashes, e.write(t, negativeRate))
	if err := e.srv.Reload(); err == nil {
		t.Fatal("negative rate_limit accepted")
	}
	for _, p := range []string{"/", "/nope", "/-/healthz", "/metrics"} {
		resp, body := get(t, e.main.URL+p)
		if h := resp.Header.Get(HashHeader); h != "" {
			t.Fatalf("%s: %s %q", p, HashHeader, h)
		}
		for _, h := range hashes {
			if strings.Contains(body, h) {
				t.Fatalf("%s shows hash %s:\n%s", p, h, body)
			}
		}
	}
	m, goroutines := metrics(t, e.main.URL)
	if len(m) != 0 || !goroutines {
		t.Fatalf("greeter_ series %v (want none), go_goroutines %v (want it)", m, goroutines)
	}
	for _, msg := range []string{"config loaded", ReloadOK, ReloadRejected} {
		lines := e.logLines(msg)
		if len(lines) != 1 {
			t.Fatalf("%d %q lines, want 1", len(lines), msg)
		}
		if _, has := lines[0]["hash"]; has {
			t.Fatalf("%q line has a hash: %v", msg, lines[0])
		}
	}
	if !strings.Contains(fmt.Sprint(e.logLines(ReloadRejected)[0]["error"]), "rate_limit: -1") {
		t.Fatalf("rejection without its error: %v", e.logLines(ReloadRejected)[0])
	}
	for _, h := range hashes {
		if strings.Contains(e.logs.String(), h) {
			t.Fatalf("logs show hash %s:\n%s", h, e.logs)
		}
	}
}

// What each --observe mode serves, on the main listener or on the admin one.
func TestObserve(t *testing.T) {
	const goroutineDump = "/debug/pprof/goroutine?debug=1"
	for _, tc := range []struct {
		observe              string
		separateAdmin        bool
		metrics, pprof, main int // status of /metrics and of the dump on the admin handler, of both on main
	}{
		{ObservePrometheus, false, 200, 404, 0},
		{ObservePprof, false, 404, 200, 0},
		{ObserveNone, false, 404, 404, 0},
		{ObservePrometheus, true, 200, 404, 404},
		{ObservePprof, true, 404, 200, 404},
		{ObserveNone, true, 404, 404, 404},
	} {
		t.Run(fmt.Sprintf("%s/separate-admin=%v", tc.observe, tc.separateAdmin), func(t *testing.T) {
			e := newEnv(t, envOpt{observe: tc.observe, separateAdmin: tc.separateAdmin})
			admin := e.main.URL
			if tc.separateAdmin {
				admin = e.admin.URL
				for _, p := range []string{"/metrics", goroutineDump, "/debug/pprof/"} {
					if resp, _ := get(t, e.main.URL+p); resp.StatusCode != tc.main {
						t.Fatalf("main %s: %d, want %d", p, resp.StatusCode, tc.main)
					}
				}
				// The admin listener serves no routes, only health.
				if resp, _ := get(t, admin+"/hello"); resp.StatusCode != 404 {
					t.Fatalf("admin /hello: %d", resp.StatusCode)
				}
				if resp, body := get(t, admin+"/-/healthz"); resp.StatusCode != 200 || body != "ok\n" {
					t.Fatalf("admin /-/healthz: %d %q", resp.StatusCode, body)
				}
			}
			resp, body := get(t, admin+"/metrics")
			if resp.StatusCode != tc.metrics {
				t.Fatalf("/metrics: %d, want %d", resp.StatusCode, tc.metrics)
			}
			if tc.metrics == 200 {
				for _, want := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", MetricConfigInfo + "{hash=", MetricLastReloadSuccessful + " 1"} {
					if !strings.Contains(body, want) {
						t.Fatalf("/metrics lacks %q:\n%s", want, body)
					}
				}
			}
			resp, body = get(t, admin+goroutineDump)
			if resp.StatusCode != tc.pprof {
				t.Fatalf("%s: %d, want %d", goroutineDump, resp.StatusCode, tc.pprof)
			}
			if tc.pprof == 200 && !strings.Contains(body, "greeter.(*Server).refreshQuota") {
				t.Fatalf("the goroutine dump does not show refreshQuota:\n%s", body)
			}
			if resp, body := get(t, e.main.URL+"/hello"); resp.StatusCode != 200 || body != "hello\n" {
				t.Fatalf("/hello: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// Watch reloads when the content changes, once per change, a rejected
// change included, and never while it stays the same.
func TestWatch(t *testing.T) {
	old := WatchInterval
	WatchInterval = 10 * time.Millisecond
	t.Cleanup(func() { WatchInterval = old })
	e := newEnv(t, envOpt{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.srv.Watch(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	outcomes := func() int { return len(e.logLines(ReloadOK)) + len(e.logLines(ReloadRejected)) }
	wait := func(n int) {
		t.Helper()
		if got := settle(n, outcomes); got != n {
			t.Fatalf("%d reload outcomes, want %d:\n%s", got, n, e.logs)
		}
	}
	time.Sleep(5 * WatchInterval)
	wait(0) // unchanged: no reload
	hash := e.write(t, `{"greeting": "watched", "rate_limit": 100, "routes": ["/"]}`)
	wait(1)
	if e.srv.Hash() != hash {
		t.Fatalf("live %s, want %s", e.srv.Hash(), hash)
	}
	e.write(t, negativeRate)
	wait(2)
	time.Sleep(5 * WatchInterval)
	wait(2) // the invalid file is not retried while it stays the same
	if e.srv.Hash() != hash || len(e.logLines(ReloadRejected)) != 1 {
		t.Fatalf("live %s, want %s still; logs:\n%s", e.srv.Hash(), hash, e.logs)
	}
	// A SIGHUP-style reload of the same bytes makes the watcher see no change.
	hash = e.write(t, `{"greeting": "hup", "rate_limit": 100, "routes": ["/"]}`)
	_ = e.srv.Reload()
	time.Sleep(5 * WatchInterval)
	if got := outcomes(); got != 3 && got != 4 {
		t.Fatalf("%d outcomes", got)
	}
	if e.srv.Hash() != hash {
		t.Fatalf("live %s, want %s", e.srv.Hash(), hash)
	}
}

// stuck-reload: a valid reload never finishes and the old config stays live
// and served; the fixed build takes it at once.
func TestBugStuckReload(t *testing.T) {
	for _, tc := range []struct {
		bug      string
		wantLive bool
	}{
		{BugStuckReload, false},
		{BugNone, true},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			e := newEnv(t, envOpt{bug: tc.bug})
			old := e.srv.Hash()
			hash := e.write(t, `{"greeting": "hi", "rate_limit": 100, "routes": ["/", "/hello"]}`)
			done := make(chan error, 1)
			go func() { done <- e.srv.Reload() }()
			select {
			case err := <-done:
				if !tc.wantLive || err != nil {
					t.Fatalf("reload returned %v; want it stuck: %v", err, !tc.wantLive)
				}
			case <-time.After(300 * time.Millisecond):
				if tc.wantLive {
					t.Fatal("the fixed reload did not finish within 300ms")
				}
			}
			want := old
			if tc.wantLive {
				want = hash
			}
			resp, _ := get(t, e.main.URL+"/hello")
			if resp.StatusCode != http.StatusOK || resp.Header.Get(HashHeader) != want {
				t.Fatalf("%d with hash %q, want 200 with %q", resp.StatusCode, resp.Header.Get(HashHeader), want)
			}
			if n := len(e.logLines(ReloadStarted)); n != 1 {
				t.Fatalf("%d %q lines, want 1", n, ReloadStarted)
			}
		})
	}
}
