package cfgsvc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// env is a Service loaded from a sample config, with both handlers served by
// httptest (the addresses in the config are not bound in-process).
type env struct {
	svc         *Service
	path        string
	logs        *proctest.SyncBuffer
	main, admin *httptest.Server
}

func newEnv(t *testing.T, format string, applyInvalid bool) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config."+format)
	writeReplace(t, path, sample(t, format))
	logs := &proctest.SyncBuffer{}
	svc := New(Options{ConfigPath: path, Format: format, ApplyInvalid: applyInvalid},
		serve.NewLogger(logs, slog.LevelInfo, "cfgsvc"))
	if err := svc.Load(); err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, path: path, logs: logs,
		main: httptest.NewServer(NewServer(svc)), admin: httptest.NewServer(NewAdminServer(svc))}
	t.Cleanup(func() { e.main.Close(); e.admin.Close() })
	return e
}

// writeReplace writes data the way editors and sed -i do: a temporary file in
// the same directory, renamed over path.
func writeReplace(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".tmp-%d", time.Now().UnixNano()))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
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

func get(t testing.TB, url string) (*http.Response, []byte) {
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
	return resp, b
}

// reloadMetrics is what /metrics says about reloads.
type reloadMetrics struct {
	Hashes           []string // label values of cfgsvc_config_info
	Successful       float64
	SuccessTime      float64
	Success, Failure float64
}

// ParseMetrics parses a Prometheus text exposition and extracts the reload
// metrics, checking their types and labels.
func ParseMetrics(t testing.TB, r io.Reader) reloadMetrics {
	t.Helper()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	want := map[string]dto.MetricType{
		MetricConfigInfo:            dto.MetricType_GAUGE,
		MetricLastReloadSuccessful:  dto.MetricType_GAUGE,
		MetricLastReloadSuccessTime: dto.MetricType_GAUGE,
		MetricReloadsTotal:          dto.MetricType_COUNTER,
	}
	for name, typ := range want {
		if f, ok := fams[name]; !ok || f.GetType() != typ {
			t.Fatalf("%s: family %v, want type %v", name, f, typ)
		}
	}
	if len(fams) != len(want) {
		t.Fatalf("%d metric families, want only the %d reload ones", len(fams), len(want))
	}
	var m reloadMetrics
	for _, s := range fams[MetricConfigInfo].Metric {
		if len(s.Label) != 1 || s.Label[0].GetName() != "hash" || s.GetGauge().GetValue() != 1 {
			t.Fatalf("%s series %v: want one hash label, value 1", MetricConfigInfo, s)
		}
		m.Hashes = append(m.Hashes, s.Label[0].GetValue())
	}
	m.Successful = fams[MetricLastReloadSuccessful].Metric[0].GetGauge().GetValue()
	m.SuccessTime = fams[MetricLastReloadSuccessTime].Metric[0].GetGauge().GetValue()
	for _, s := range fams[MetricReloadsTotal].Metric {
		if len(s.Label) != 1 || s.Label[0].GetName() != "result" {
			t.Fatalf("%s series %v: want one result label", MetricReloadsTotal, s)
		}
		switch s.Label[0].GetValue() {
		case ResultSuccess:
			m.Success = s.GetCounter().GetValue()
		case ResultFailure:
			m.Failure = s.GetCounter().GetValue()
		default:
			t.Fatalf("%s: result %q", MetricReloadsTotal, s.Label[0].GetValue())
		}
	}
	return m
}

func (e *env) metrics(t testing.TB) reloadMetrics {
	t.Helper()
	resp, err := http.Get(e.admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	return ParseMetrics(t, resp.Body)
}

func TestHTTPSurface(t *testing.T) {
	e := newEnv(t, FormatTOML, false)
	hash := Digest(sample(t, FormatTOML))
	tree, _ := e.svc.Live().Config.tree()
	for _, tc := range []struct {
		server       *httptest.Server
		method, path string
		status       int
		body         string
	}{
		{e.main, "GET", "/", 200, `{"greeting":"hello from cfgsvc"}` + "\n"},
		{e.main, "GET", "/hello", 200, "hello\n"},
		{e.main, "GET", "/api/status", 200, "all systems go\n"},
		{e.main, "GET", "/teapot", 418, "short and stout\n"},
		{e.main, "HEAD", "/hello", 200, ""},
		{e.main, "GET", "/hello/", 404, `{"error":"not found"}` + "\n"},
		{e.main, "GET", "/metrics", 404, `{"error":"not found"}` + "\n"},
		{e.main, "POST", "/hello", 404, `{"error":"not found"}` + "\n"},
		{e.admin, "GET", "/-/healthz", 200, "ok\n"},
		{e.admin, "GET", "/-/config", 200, string(tree) + "\n"},
		{e.admin, "GET", "/", 404, `{"error":"not found"}` + "\n"},
		{e.admin, "GET", "/hello", 404, `{"error":"not found"}` + "\n"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.server.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
			if got := resp.Header.Get(HashHeader); got != hash {
				t.Fatalf("%s %q, want %q", HashHeader, got, hash)
			}
		})
	}
	m := e.metrics(t)
	if !slices.Equal(m.Hashes, []string{hash}) || m.Successful != 1 || m.Success != 0 || m.Failure != 0 ||
		math.Abs(m.SuccessTime-float64(time.Now().Unix())) > 60 {
		t.Fatalf("metrics after startup: %+v", m)
	}
	if n := len(e.logLines("config loaded")); n != 1 {
		t.Fatalf("%d config loaded lines:\n%s", n, e.logs)
	}
}

// The metrics exposition, line by line, as a scraper without a parser sees it.
func TestMetricsText(t *testing.T) {
	e := newEnv(t, FormatJSON, false)
	hash := Digest(sample(t, FormatJSON))
	_, b := get(t, e.admin.URL+"/metrics")
	for _, line := range []string{
		"# TYPE cfgsvc_config_info gauge",
		`cfgsvc_config_info{hash="` + hash + `"} 1`,
		"# TYPE cfgsvc_config_last_reload_successful gauge",
		"cfgsvc_config_last_reload_successful 1",
		"# TYPE cfgsvc_config_last_reload_success_timestamp_seconds gauge",
		"# TYPE cfgsvc_config_reloads_total counter",
		`cfgsvc_config_reloads_total{result="failure"} 0`,
		`cfgsvc_config_reloads_total{result="success"} 0`,
	} {
		if !slices.Contains(strings.Split(string(b), "\n"), line) {
			t.Errorf("no line %q in:\n%s", line, b)
		}
	}
}

// Every reload outcome, in both modes: what goes live, the metrics, /-/config,
// the X-Config-Hash header and the log line.
func TestReload(t *testing.T) {
	orig := string(sample(t, FormatYAML))
	edit := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("%q is not in the sample", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	for _, tc := range []struct {
		name        string
		edit        func(string) string // nil: delete the file
		parses      bool
		valid       bool
		wantErr     string
		wantPresent string // in /-/config when the new config is live
	}{
		{"valid change", edit("hello from cfgsvc", "hi"), true, true, "", `"greeting":"hi"`},
		{"identical bytes", func(s string) string { return s }, true, true, "", `"greeting":"hello from cfgsvc"`},
		{"features removed", func(s string) string { return s[:strings.Index(s, "features:")] }, true, true, "", `"limits"`},
		{"greeting empty", edit(`greeting: "hello from cfgsvc"`, `greeting: ""`), true, false,
			"greeting: must be a non-empty string", `"greeting":""`},
		{"relative path", edit("path: /teapot", "path: teapot"), true, false, `routes[2].path: "teapot" must start with /`, `"path":"teapot"`},
		{"status out of range", edit("status: 418", "status: 700"), true, false, "routes[2].status: 700 not in 100..599", `"status":700`},
		{"duplicate path", edit("path: /teapot", "path: /hello"), true, false, `routes[2].path: "/hello" is already the path of routes[0]`, `"body":"short and stout\n"`},
		{"burst 0", edit("burst: 8", "burst: 0"), true, false, "limits.burst: 0 must be > 0", `"burst":0`},
		{"max_inflight negative", edit("max_inflight: 64", "max_inflight: -1"), true, false, "limits.max_inflight: -1 must be > 0", `"max_inflight":-1`},
		{"negative weight", edit("weight: 3", "weight: -3"), true, false, "backends.primary.weight: -3 must be >= 0", `"weight":-3`},
		{"listen moved", edit(testListen, "127.0.0.1:18183"), true, false,
			`server.listen: "127.0.0.1:18183" differs from the live "127.0.0.1:18181"; the listen addresses cannot change on reload`,
			`"listen":"127.0.0.1:18183"`},
		{"admin_listen moved", edit(testAdmin, "127.0.0.1:18184"), true, false,
			`server.admin_listen: "127.0.0.1:18184" differs from the live "127.0.0.1:18182"`, `"admin_listen":"127.0.0.1:18184"`},
		{"unknown key", edit("  burst: 8", "  burst: 8\n  burst_window: 1"), false, false, "field burst_window not found", ""},
		{"syntax error", func(s string) string { return s + "routes: [\n" }, false, false, "yaml: line", ""},
		{"truncated to nothing", func(string) string { return "" }, false, false, "empty config", ""},
		{"file deleted", nil, false, false, "read config: open ", ""},
	} {
		for _, applyInvalid := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/apply-invalid=%v", tc.name, applyInvalid), func(t *testing.T) {
				e := newEnv(t, FormatYAML, applyInvalid)
				oldHash := e.svc.Live().Hash
				oldTree, _ := e.svc.Live().Config.tree()
				var data []byte
				if tc.edit == nil {
					if err := os.Remove(e.path); err != nil {
						t.Fatal(err)
					}
				} else {
					data = []byte(tc.edit(orig))
					writeReplace(t, e.path, data)
				}
				applied := tc.parses && (tc.valid || applyInvalid)
				out := e.svc.Reload("test")

				wantHash := ""
				if data != nil {
					wantHash = Digest(data)
				}
				if out.OK != applied || out.Hash != wantHash || (!applied && !strings.Contains(out.Error, tc.wantErr)) {
					t.Fatalf("outcome %+v; want ok=%v hash %s error containing %q", out, applied, wantHash, tc.wantErr)
				}
				live := oldHash
				if applied {
					live = wantHash
				}
				if got := e.svc.Live().Hash; got != live {
					t.Fatalf("live hash %s, want %s", got, live)
				}

				m := e.metrics(t)
				wantOK, wantSuccess, wantFailure := 0.0, 0.0, 1.0
				if applied {
					wantOK, wantSuccess, wantFailure = 1, 1, 0
				}
				if !slices.Equal(m.Hashes, []string{live}) || m.Successful != wantOK || m.Success != wantSuccess || m.Failure != wantFailure {
					t.Fatalf("metrics %+v; want hashes [%s] successful %v success %v failure %v", m, live, wantOK, wantSuccess, wantFailure)
				}

				resp, body := get(t, e.admin.URL+"/-/config")
				if resp.Header.Get(HashHeader) != live {
					t.Fatalf("/-/config %s %s, want %s", HashHeader, resp.Header.Get(HashHeader), live)
				}
				if applied {
					if !strings.Contains(string(body), tc.wantPresent) {
						t.Fatalf("/-/config %s lacks %s", body, tc.wantPresent)
					}
				} else if string(body) != string(oldTree)+"\n" {
					t.Fatalf("/-/config changed after a rejected reload: %s", body)
				}
				if resp, _ := get(t, e.main.URL+"/"); resp.Header.Get(HashHeader) != live {
					t.Fatalf("main %s %s, want %s", HashHeader, resp.Header.Get(HashHeader), live)
				}

				okLines, rejLines := e.logLines(ReloadOK), e.logLines(ReloadRejected)
				if applied {
					if len(okLines) != 1 || len(rejLines) != 0 || okLines[0]["hash"] != wantHash {
						t.Fatalf("want one %q line with hash %s:\n%s", ReloadOK, wantHash, e.logs)
					}
				} else if len(okLines) != 0 || len(rejLines) != 1 || rejLines[0]["hash"] != wantHash ||
					!strings.Contains(rejLines[0]["error"].(string), tc.wantErr) || rejLines[0]["live_hash"] != oldHash {
					t.Fatalf("want one %q line with hash %q and the error:\n%s", ReloadRejected, wantHash, e.logs)
				}
			})
		}
	}
}

// After a rejected reload, a good one and then a parse failure: metrics count
// each, and the success timestamp stays that of the last success.
func TestReloadSequenceMetrics(t *testing.T) {
	e := newEnv(t, FormatJSON, false)
	orig := string(sample(t, FormatJSON))
	steps := []struct {
		doc string
		ok  bool
	}{
		{strings.Replace(orig, `"burst": 8`, `"burst": 0`, 1), false},
		{strings.Replace(orig, `"burst": 8`, `"burst": 9`, 1), true},
		{orig + "{}", false},
		{orig, true},
		{orig, true},
	}
	var success, failure float64
	var lastOK float64
	for i, s := range steps {
		writeReplace(t, e.path, []byte(s.doc))
		if out := e.svc.Reload("test"); out.OK != s.ok {
			t.Fatalf("step %d: %+v", i, out)
		}
		m := e.metrics(t)
		if s.ok {
			success++
			if m.SuccessTime < lastOK {
				t.Fatalf("step %d: success timestamp went back: %v < %v", i, m.SuccessTime, lastOK)
			}
			lastOK = m.SuccessTime
		} else {
			failure++
			if m.SuccessTime != lastOK && i > 0 {
				t.Fatalf("step %d: a rejection moved the success timestamp", i)
			}
		}
		want := 0.0
		if s.ok {
			want = 1
		}
		if m.Success != success || m.Failure != failure || m.Successful != want || len(m.Hashes) != 1 {
			t.Fatalf("step %d: %+v", i, m)
		}
	}
}

// The poller reloads once for each way a file gets replaced, and not again
// while the file stays as it is.
func TestWatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		write    func(t *testing.T, e *env, data []byte)
		rejected int // reloads rejected on the way (the file missing)
	}{
		{"rename-replace", func(t *testing.T, e *env, data []byte) { writeReplace(t, e.path, data) }, 0},
		{"truncate and write in place", func(t *testing.T, e *env, data []byte) {
			if err := os.WriteFile(e.path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"same size in place", func(t *testing.T, e *env, data []byte) {
			f, err := os.OpenFile(e.path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"deleted, then written again", func(t *testing.T, e *env, data []byte) {
			if err := os.Remove(e.path); err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * PollInterval)
			if err := os.WriteFile(e.path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, FormatYAML, false)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go e.svc.Watch(ctx)
			time.Sleep(3 * PollInterval)
			if n := len(e.logLines(ReloadOK)); n != 0 {
				t.Fatalf("reloaded %d times with no change", n)
			}
			// Same length as the sample, so that "same size in place" keeps the size.
			data := []byte(strings.Replace(string(sample(t, FormatYAML)), "hello from cfgsvc", "HELLO FROM CFGSVC", 1))
			start := time.Now()
			tc.write(t, e, data)
			want := Digest(data)
			for e.svc.Live().Hash != want {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("not reloaded after 5s:\n%s", e.logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			took := time.Since(start)
			time.Sleep(5 * PollInterval)
			if ok, rej := len(e.logLines(ReloadOK)), len(e.logLines(ReloadRejected)); ok != 1 || rej != tc.rejected {
				t.Fatalf("%d %q and %d %q lines, want 1 and %d:\n%s", ok, ReloadOK, rej, ReloadRejected, tc.rejected, e.logs)
			}
			if l := e.logLines(ReloadOK)[0]; l["trigger"] != "poll" {
				t.Fatalf("trigger %v", l["trigger"])
			}
			t.Logf("%s: live %s after the write", tc.name, took.Round(time.Millisecond))
		})
	}
}

// A reload already made by a signal is not repeated by the poller.
func TestWatchSkipsWhatAReloadRead(t *testing.T) {
	e := newEnv(t, FormatYAML, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.svc.Watch(ctx)
	data := []byte(strings.Replace(string(sample(t, FormatYAML)), "burst: 8", "burst: 7", 1))
	writeReplace(t, e.path, data)
	e.svc.Reload("sighup")
	time.Sleep(5 * PollInterval)
	lines := e.logLines(ReloadOK)
	if len(lines) != 1 || lines[0]["trigger"] != "sighup" {
		t.Fatalf("want exactly the sighup reload:\n%s", e.logs)
	}
}

// Readers on both listeners during a storm of valid and invalid reloads: every
// response comes from one snapshot (its header hash and body agree) of a
// valid config.
func TestConcurrentReadersSeeOneSnapshot(t *testing.T) {
	e := newEnv(t, FormatJSON, false)
	orig := string(sample(t, FormatJSON))
	greetings := sync.Map{} // hash -> greeting of every valid config written
	greetings.Store(e.svc.Live().Hash, "hello from cfgsvc")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var requests atomic.Int64
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				url := e.main.URL + "/"
				if i%2 == 1 {
					url = e.admin.URL + "/-/config"
				}
				resp, err := http.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				var v struct{ Greeting string } // both bodies have a greeting field
				err = json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				greeting := v.Greeting
				h := resp.Header.Get(HashHeader)
				want, ok := greetings.Load(h)
				if !ok || want != greeting {
					t.Errorf("response with hash %s and greeting %q: not a valid config's (%v)", h, greeting, want)
					return
				}
				requests.Add(1)
			}
		}()
	}
	for i := range 60 {
		var doc string
		if i%3 == 2 {
			doc = strings.Replace(orig, `"burst": 8`, `"burst": 0`, 1)
		} else {
			g := fmt.Sprintf("greeting %d", i)
			doc = strings.Replace(orig, "hello from cfgsvc", g, 1)
			greetings.Store(Digest([]byte(doc)), g)
		}
		writeReplace(t, e.path, []byte(doc))
		e.svc.Reload("storm")
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	m := e.metrics(t)
	t.Logf("%d requests during 60 reloads; metrics %+v", requests.Load(), m)
	if m.Success != 40 || m.Failure != 20 {
		t.Fatalf("metrics %+v", m)
	}
}
