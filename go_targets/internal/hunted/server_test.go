package hunted

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// env is a Server on a temporary config file, its Handler served by
// httptest, with a registry of its own.
type env struct {
	srv  *Server
	path string
	logs *proctest.SyncBuffer
	url  string
}

func newEnv(t *testing.T, bug, config string) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hunted.yaml")
	writeReplace(t, path, config)
	reg := prometheus.NewRegistry()
	logs := &proctest.SyncBuffer{}
	srv, err := New(Options{ConfigPath: path, Bug: bug, Registerer: reg, Gatherer: reg}, NewLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &env{srv: srv, path: path, logs: logs, url: hs.URL}
}

// writeReplace writes data by rename-replace, as editors and sed -i do.
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
func (e *env) write(t testing.TB, data string) string {
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

var client = &http.Client{Timeout: 5 * time.Second}

func get(t testing.TB, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
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

// getRoot is GET / decoded; it fails unless the answer is 200 JSON whose hash
// is X-Config-Hash's.
func getRoot(t testing.TB, base string) (Body, http.Header) {
	t.Helper()
	resp, raw := get(t, base+"/")
	var b Body
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		t.Fatalf("GET /: %v: %q", err, raw)
	}
	if b.Hash != resp.Header.Get(HashHeader) {
		t.Fatalf("GET /: body hash %s, %s %s", b.Hash, HashHeader, resp.Header.Get(HashHeader))
	}
	return b, resp.Header
}

// metrics returns the hunted_ series of /metrics as "name{labels}" -> value.
func metrics(t *testing.T, url string) map[string]float64 {
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
		if !strings.HasPrefix(name, "hunted_") {
			continue
		}
		for _, m := range f.Metric {
			key := name
			for _, l := range m.Label {
				key += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			out[key] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

// waitFor polls cond until it holds, failing after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proctest.WaitFor(ctx, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestServe(t *testing.T) {
	sample := readSample(t)
	e := newEnv(t, BugNone, sample)
	hash := Hash([]byte(sample))
	b, h := getRoot(t, e.url)
	want := Body{Greeting: "Hello", Hash: hash, Workers: 4, PerWorkerRPS: 25, Burst: 10, BufferSize: 64,
		Middleware: []string{"logging", "auth"}, Backends: []string{"primary", "secondary"},
		Headers: map[string]string{"X-Team": "payments", "X-Env": "staging", ServedByHeader: ServedBy}, ServedBy: "hunted"}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("GET / body %+v, want %+v", b, want)
	}
	for k, v := range map[string]string{"X-Team": "payments", "X-Env": "staging", ServedByHeader: ServedBy, "X-Auth-User": "anonymous"} {
		if h.Get(k) != v {
			t.Errorf("GET /: %s %q, want %q", k, h.Get(k), v)
		}
	}
	if got := h.Values(MiddlewareHeader); !slices.Equal(got, []string{"logging", "auth"}) {
		t.Errorf("GET /: %s %q, want logging, auth", MiddlewareHeader, got)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"HEAD", "/", 200, ""},
		{"POST", "/", 405, "Method Not Allowed\n"},
		{"GET", "/nope", 404, "404 page not found\n"},
		{"GET", "/-/healthz", 200, "ok\n"},
		{"POST", "/-/healthz", 404, "404 page not found\n"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.url+tc.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || string(got) != tc.body || resp.Header.Get(HashHeader) != hash {
				t.Fatalf("%d %q %s=%q, want %d %q %s", resp.StatusCode, got, HashHeader, resp.Header.Get(HashHeader), tc.status, tc.body, hash)
			}
		})
	}
	waitFor(t, "backend checks", func() bool { return e.srv.Checks() >= 2 })
	m := metrics(t, e.url)
	if m[MetricConfigInfo+`{hash="`+hash+`"}`] != 1 || m[MetricLastReloadSuccessful] != 1 || m[MetricBackendChecks] < 2 || len(m) != 3 {
		t.Fatalf("metrics %v", m)
	}
	if l := e.logLines("config loaded"); len(l) != 1 || l[0]["hash"] != hash || l[0]["level"] != "info" || l[0]["target"] != "hunted" {
		t.Fatalf("config loaded lines %v", l)
	}
}

func TestMiddlewareChain(t *testing.T) {
	sample := readSample(t)
	for _, tc := range []struct {
		list string
		want []string
		set  []string // headers the chain sets
	}{
		{"[logging, auth]", []string{"logging", "auth"}, []string{"X-Auth-User"}},
		{"[cors, request-id, logging]", []string{"cors", "request-id", "logging"}, []string{"Access-Control-Allow-Origin", "X-Request-Id"}},
		{"[]", nil, nil},
	} {
		t.Run(tc.list, func(t *testing.T) {
			e := newEnv(t, BugNone, mutate(t, sample, "middleware: [logging, auth]", "middleware: "+tc.list))
			b, h := getRoot(t, e.url)
			if got := h.Values(MiddlewareHeader); !slices.Equal(got, tc.want) || !slices.Equal(b.Middleware, append([]string{}, tc.want...)) {
				t.Fatalf("%s %q, body %q; want %q", MiddlewareHeader, got, b.Middleware, tc.want)
			}
			for _, k := range tc.set {
				if h.Get(k) == "" {
					t.Errorf("no %s", k)
				}
			}
		})
	}
}

func TestCapitalize(t *testing.T) {
	s := &Server{opt: Options{Bug: BugNone}}
	for in, want := range map[string]string{"hello": "Hello", "": "", "Hi": "Hi", "élan": "Élan", "1st": "1st", "\xffx": "\xffx"} {
		if got := s.capitalize(in); got != want {
			t.Errorf("capitalize(%q) = %q, want %q", in, got, want)
		}
	}
	s.opt.Bug = BugEmptyStringIndex
	if got := s.capitalize("hello"); got != "Hello" {
		t.Errorf("empty-string-index: capitalize(hello) = %q", got)
	}
}

// Every reload outcome of the fixed build: live hash (header, body, metric),
// the served greeting and the log lines.
func TestReloadOutcomes(t *testing.T) {
	sample := readSample(t)
	e := newEnv(t, BugNone, sample)
	live := Hash([]byte(sample))
	greeting := func(g string) string { return mutate(t, sample, `greeting: "hello"`, "greeting: "+g) }
	for _, tc := range []struct {
		name     string
		config   string // "-" deletes the file
		wantErr  string
		greeting string // served afterwards
	}{
		{"new greeting", greeting("hi"), "", "Hi"},
		{"identical bytes", greeting("hi"), "", "Hi"},
		{"workers 0", mutate(t, sample, "workers: 4", "workers: 0"), "workers: 0 not in 1..1024", "Hi"},
		{"buffer_size -1", mutate(t, sample, "buffer_size: 64", "buffer_size: -1"), "buffer_size: -1 not in 1..1048576", "Hi"},
		{"limits removed", mutate(t, sample, "limits:\n  rps: 100\n  burst: 10\n", ""), "limits.rps: 0 not in 1..1000000", "Hi"},
		{"unknown field", sample + "threads: 2\n", "field threads not found in type hunted.Config", "Hi"},
		{"does not parse", "greeting: [", "yaml: ", "Hi"},
		{"empty file", "", "yaml: empty config", "Hi"},
		{"valid again", greeting("back"), "", "Back"},
		{"missing file", "-", "read config: ", "Back"},
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
			started := len(e.logLines(ReloadStarted))
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
			if b, _ := getRoot(t, e.url); b.Greeting != tc.greeting || b.Hash != live {
				t.Fatalf("GET /: greeting %q hash %s, want %q %s", b.Greeting, b.Hash, tc.greeting, live)
			}
			m := metrics(t, e.url)
			if m[MetricConfigInfo+`{hash="`+live+`"}`] != 1 || m[MetricLastReloadSuccessful] != ok || len(m) != 3 {
				t.Fatalf("metrics %v, want the info series of %s and last_reload_successful %v", m, live, ok)
			}
			if n := len(e.logLines(ReloadStarted)); n != started+1 {
				t.Fatalf("%d %q lines, want %d", n, ReloadStarted, started+1)
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
			if _, has := line["time"]; !has || line["target"] != "hunted" {
				t.Fatalf("log line %v: want time and target hunted", line)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	sample := readSample(t)
	for _, tc := range []struct {
		name, config, want string
	}{
		{"workers -1", mutate(t, sample, "workers: 4", "workers: -1"), "workers: -1 not in 1..1024"},
		{"unknown field", sample + "x: 1\n", "field x not found"},
		{"does not parse", "{", "yaml: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hunted.yaml")
			writeReplace(t, path, tc.config)
			reg := prometheus.NewRegistry()
			if _, err := New(Options{ConfigPath: path, Registerer: reg, Gatherer: reg}, NewLogger(io.Discard)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{ConfigPath: "x", Bug: "nope", Registerer: reg, Gatherer: reg}, NewLogger(io.Discard)); err == nil || !strings.Contains(err.Error(), `unknown bug "nope"`) {
		t.Fatalf("New with an unknown bug: %v", err)
	}
}

// trigger is a schema-free mutation of the sample that crashes one build's
// reload; every other build, the fixed one included, rejects it or serves it.
type trigger struct {
	name     string
	bug      string                              // the build whose reload panics
	edit     func(t testing.TB, s string) string // the mutation of the sample
	panic    string                              // text of the runtime error
	frame    string                              // a function on the panicking stack
	rejected string                              // the other builds' rejection, or "" when they serve it
	check    func(Body, http.Header) string      // when served: "" if the answer is right
}

func edit(old, new string) func(testing.TB, string) string {
	return func(t testing.TB, s string) string { return mutate(t, s, old, new) }
}

const headersSection = "headers:\n  x-team: payments\n  x-env: staging\n"

var triggers = []trigger{
	{
		name: "middleware emptied", bug: BugEmptyListIndex, edit: edit("middleware: [logging, auth]", "middleware: []"),
		panic: "index out of range [0] with length 0", frame: "hunted.(*Server).chain",
		check: func(b Body, h http.Header) string {
			if len(b.Middleware) != 0 || len(h.Values(MiddlewareHeader)) != 0 {
				return fmt.Sprintf("middleware %q, %s %q: want none", b.Middleware, MiddlewareHeader, h.Values(MiddlewareHeader))
			}
			return ""
		},
	},
	{
		name: "middleware removed", bug: BugEmptyListIndex, edit: edit("middleware: [logging, auth]\n", ""),
		panic: "index out of range [0] with length 0", frame: "hunted.(*Server).chain",
		check: func(b Body, h http.Header) string {
			if len(b.Middleware) != 0 || h.Get(MiddlewareHeader) != "" {
				return fmt.Sprintf("middleware %q: want none", b.Middleware)
			}
			return ""
		},
	},
	{
		name: "greeting emptied", bug: BugEmptyStringIndex, edit: edit(`greeting: "hello"`, `greeting: ""`),
		panic: "index out of range [0] with length 0", frame: "hunted.(*Server).capitalize",
		check: func(b Body, _ http.Header) string {
			if b.Greeting != "" {
				return fmt.Sprintf("greeting %q, want empty", b.Greeting)
			}
			return ""
		},
	},
	{
		name: "workers 0", bug: BugZeroDivision, edit: edit("workers: 4", "workers: 0"),
		panic: "integer divide by zero", frame: "hunted.(*Server).build",
		rejected: "workers: 0 not in 1..1024",
	},
	{
		name: "buffer_size -1", bug: BugNegativeMake, edit: edit("buffer_size: 64", "buffer_size: -1"),
		panic: "makeslice: len out of range", frame: "hunted.newBufPool",
		rejected: "buffer_size: -1 not in 1..1048576",
	},
	{
		name: "headers removed", bug: BugNilMapAfterRemove, edit: edit(headersSection, ""),
		panic: "assignment to entry in nil map", frame: "hunted.(*Server).headersOf",
		check: servedByOnly,
	},
	{
		name: "headers null", bug: BugNilMapAfterRemove, edit: edit(headersSection, "headers: null\n"),
		panic: "assignment to entry in nil map", frame: "hunted.(*Server).headersOf",
		check: servedByOnly,
	},
}

func servedByOnly(b Body, h http.Header) string {
	if b.ServedBy != ServedBy || h.Get(ServedByHeader) != ServedBy || h.Get("X-Team") != "" || !reflect.DeepEqual(b.Headers, map[string]string{ServedByHeader: ServedBy}) {
		return fmt.Sprintf("served_by %q, X-Team %q: want %q and none", b.ServedBy, h.Get("X-Team"), ServedBy)
	}
	return ""
}

// reloadRecovering runs Reload, returning what it panicked with, if
// anything, and the stack of the panic.
func reloadRecovering(s *Server) (recovered any, stack string, err error) {
	defer func() {
		if recovered = recover(); recovered != nil {
			stack = string(debug.Stack())
		}
	}()
	return nil, "", s.Reload()
}

// Each trigger against every build but slice-shrink-race (whose health
// checker reads what any reload writes, which -race reports by design; see
// cmd/hunted): its own build's reload panics with the runtime error and
// the old config stays live, the others reject or serve it, as the fixed
// build does. The panic is recovered here; in the process nothing recovers
// it (SIGHUP's or Watch's goroutine).
func TestBugTriggers(t *testing.T) {
	sample := readSample(t)
	for _, tr := range triggers {
		for _, bug := range Bugs {
			if bug == BugSliceShrinkRace {
				continue
			}
			t.Run(tr.name+"/"+bug, func(t *testing.T) {
				e := newEnv(t, bug, sample)
				old := e.srv.Hash()
				hash := e.write(t, tr.edit(t, sample))
				recovered, stack, err := reloadRecovering(e.srv)
				if bug == tr.bug {
					rerr, ok := recovered.(runtime.Error)
					if !ok || !strings.Contains(rerr.Error(), tr.panic) {
						t.Fatalf("recovered %v (err %v), want a runtime error %q", recovered, err, tr.panic)
					}
					if !strings.Contains(stack, tr.frame+"(") || !strings.Contains(stack, "hunted.(*Server).Reload(") {
						t.Fatalf("the panic's stack lacks %s or (*Server).Reload:\n%s", tr.frame, stack)
					}
					if e.srv.Hash() != old || len(e.logLines(ReloadOK))+len(e.logLines(ReloadRejected)) != 0 || len(e.logLines(ReloadStarted)) != 1 {
						t.Fatalf("after the panic: live %s (want %s still), logs:\n%s", e.srv.Hash(), old, e.logs)
					}
					// The reload lock was released: a valid config reloads.
					e.write(t, mutate(t, sample, `greeting: "hello"`, `greeting: "again"`))
					done := make(chan error, 1)
					go func() { done <- e.srv.Reload() }()
					select {
					case err := <-done:
						if err != nil {
							t.Fatalf("reload after the panic: %v", err)
						}
					case <-time.After(5 * time.Second):
						t.Fatal("a reload after the panic did not finish in 5s")
					}
					if b, _ := getRoot(t, e.url); b.Greeting != "Again" {
						t.Fatalf("after the panic and a valid reload: greeting %q", b.Greeting)
					}
					return
				}
				if recovered != nil {
					t.Fatalf("reload panicked: %v", recovered)
				}
				b, h := getRoot(t, e.url)
				if tr.rejected != "" {
					if err == nil || !strings.Contains(err.Error(), tr.rejected) || b.Hash != old || len(e.logLines(ReloadRejected)) != 1 {
						t.Fatalf("reload: %v, live %s; want rejected (%q) with %s still live", err, b.Hash, tr.rejected, old)
					}
					return
				}
				if err != nil || b.Hash != hash || len(e.logLines(ReloadOK)) != 1 {
					t.Fatalf("reload: %v, live %s; want %s served", err, b.Hash, hash)
				}
				if msg := tr.check(b, h); msg != "" {
					t.Fatal(msg)
				}
			})
		}
	}
}

// A trigger at startup crashes its build in New, through the same code.
func TestBugTriggersAtStartup(t *testing.T) {
	sample := readSample(t)
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hunted.yaml")
			writeReplace(t, path, tr.edit(t, sample))
			reg := prometheus.NewRegistry()
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				s, _ := New(Options{ConfigPath: path, Bug: tr.bug, Registerer: reg, Gatherer: reg}, NewLogger(io.Discard))
				if s != nil {
					s.Close()
				}
			}()
			if rerr, ok := recovered.(runtime.Error); !ok || !strings.Contains(rerr.Error(), tr.panic) {
				t.Fatalf("recovered %v, want a runtime error %q", recovered, tr.panic)
			}
		})
	}
}

// Near misses: mutations next to each trigger that its build serves.
func TestBuggyBuildsServeNearMisses(t *testing.T) {
	sample := readSample(t)
	for _, tc := range []struct {
		bug      string
		old, new string
		check    func(Body, http.Header) bool
	}{
		{BugEmptyListIndex, "middleware: [logging, auth]", "middleware: [auth]", func(b Body, _ http.Header) bool { return slices.Equal(b.Middleware, []string{"auth"}) }},
		{BugEmptyStringIndex, `greeting: "hello"`, `greeting: "h"`, func(b Body, _ http.Header) bool { return b.Greeting == "H" }},
		{BugZeroDivision, "workers: 4", "workers: 3", func(b Body, _ http.Header) bool { return b.PerWorkerRPS == 33 }},
		{BugNegativeMake, "buffer_size: 64", "buffer_size: 0", func(b Body, _ http.Header) bool { return b.BufferSize == 0 }},
		{BugNilMapAfterRemove, headersSection, "headers: {}\n", func(b Body, h http.Header) bool { return servedByOnly(b, h) == "" }},
		{BugMapRace, "x-env: staging", "x-env: prod", func(_ Body, h http.Header) bool { return h.Get("X-Env") == "prod" }},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			e := newEnv(t, tc.bug, sample)
			hash := e.write(t, mutate(t, sample, tc.old, tc.new))
			if err := e.srv.Reload(); err != nil {
				t.Fatal(err)
			}
			if b, h := getRoot(t, e.url); b.Hash != hash || !tc.check(b, h) {
				t.Fatalf("body %+v, headers %v", b, h)
			}
		})
	}
}

// backendsConfig is the sample with n backends of weight 1.
func backendsConfig(t testing.TB, sample string, n int) string {
	var b strings.Builder
	b.WriteString("backends:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: b%d, url: \"http://127.0.0.1:%d\", weight: 1}\n", i, 9001+i)
	}
	start, end := strings.Index(sample, "backends:\n"), strings.Index(sample, "headers:\n")
	if start < 0 || end < start {
		t.Fatal("the sample's backends section is not where expected")
	}
	return sample[:start] + b.String() + sample[end:]
}

// The fixed build under the two race triggers, with -race watching: 200
// reloads alternating between 10 and 2 backends (slice-shrink-race's
// trigger) or between two header sets with different names (map-race's),
// while the health checker runs and four readers GET / without pause. Every
// answer must be 200 and come whole from one of the configs.
func TestFixedSurvivesRaceTriggers(t *testing.T) {
	sample := readSample(t)
	const reloads = 200
	for _, tc := range []struct {
		name string
		a, b string
	}{
		{"backends 10 and 2", backendsConfig(t, sample, 10), backendsConfig(t, sample, 2)},
		{"headers swapped", sample, mutate(t, sample, headersSection, "headers:\n  x-env: prod\n  x-region: eu\n  x-tier: gold\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, BugNone, tc.a)
			type want struct {
				backends int
				env      string
			}
			wants := map[string]want{}
			for _, c := range []string{tc.a, tc.b} {
				cfg, err := Parse([]byte(c))
				if err != nil {
					t.Fatal(err)
				}
				wants[Hash([]byte(c))] = want{len(cfg.Backends), cfg.Headers["x-env"]}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			checks := e.srv.Checks()
			var wg sync.WaitGroup
			var mu sync.Mutex
			answers, bad := 0, []string{}
			for range 4 {
				wg.Go(func() {
					for ctx.Err() == nil {
						resp, err := client.Get(e.url + "/")
						if err != nil {
							mu.Lock()
							bad = append(bad, err.Error())
							mu.Unlock()
							return
						}
						var b Body
						derr := json.NewDecoder(resp.Body).Decode(&b)
						resp.Body.Close()
						w, known := wants[b.Hash]
						mu.Lock()
						answers++
						if resp.StatusCode != 200 || derr != nil || !known || b.Hash != resp.Header.Get(HashHeader) ||
							len(b.Backends) != w.backends || resp.Header.Get("X-Env") != w.env || b.Headers["X-Env"] != w.env {
							bad = append(bad, fmt.Sprintf("%d %v %+v X-Env %q", resp.StatusCode, derr, b, resp.Header.Get("X-Env")))
						}
						mu.Unlock()
					}
				})
			}
			for i := range reloads {
				if ctx.Err() != nil {
					break
				}
				c := tc.a
				if i%2 == 0 {
					c = tc.b
				}
				e.write(t, c)
				if err := e.srv.Reload(); err != nil {
					t.Errorf("reload %d: %v", i, err)
				}
				time.Sleep(time.Millisecond)
			}
			cancel()
			wg.Wait()
			if got := len(e.logLines(ReloadOK)); got != reloads {
				t.Errorf("%d reloads ok, want %d (ran out of time?)", got, reloads)
			}
			if len(bad) > 0 || answers == 0 {
				t.Fatalf("%d answers, %d bad, first: %q", answers, len(bad), bad[:min(len(bad), 3)])
			}
			if e.srv.Checks() == checks {
				t.Fatal("the health checker made no probe during the reloads")
			}
			t.Logf("%d reloads, %d answers, %d probes", reloads, answers, e.srv.Checks()-checks)
		})
	}
}

// Watch reloads when the content changes, once per change, a rejected one
// included, and never while it stays the same.
func TestWatch(t *testing.T) {
	old := WatchInterval
	WatchInterval = 10 * time.Millisecond
	t.Cleanup(func() { WatchInterval = old })
	sample := readSample(t)
	e := newEnv(t, BugNone, sample)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.srv.Watch(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return within 5s of the cancel")
		}
	})
	outcomes := func() int { return len(e.logLines(ReloadOK)) + len(e.logLines(ReloadRejected)) }
	time.Sleep(5 * WatchInterval)
	if n := outcomes(); n != 0 {
		t.Fatalf("%d reloads of an unchanged file", n)
	}
	hash := e.write(t, mutate(t, sample, `greeting: "hello"`, `greeting: "watched"`))
	waitFor(t, "a reload", func() bool { return outcomes() == 1 })
	if e.srv.Hash() != hash {
		t.Fatalf("live %s, want %s", e.srv.Hash(), hash)
	}
	e.write(t, mutate(t, sample, "workers: 4", "workers: 0"))
	waitFor(t, "a second reload", func() bool { return outcomes() == 2 })
	time.Sleep(5 * WatchInterval)
	if outcomes() != 2 || len(e.logLines(ReloadRejected)) != 1 || e.srv.Hash() != hash {
		t.Fatalf("live %s (want %s), logs:\n%s", e.srv.Hash(), hash, e.logs)
	}
}

func TestCloseStopsChecker(t *testing.T) {
	e := newEnv(t, BugNone, readSample(t))
	waitFor(t, "a probe", func() bool { return e.srv.Checks() > 0 })
	e.srv.Close()
	n := e.srv.Checks()
	time.Sleep(20 * time.Millisecond)
	if e.srv.Checks() != n {
		t.Fatalf("probes went on after Close: %d -> %d", n, e.srv.Checks())
	}
	e.srv.Close() // idempotent
}
