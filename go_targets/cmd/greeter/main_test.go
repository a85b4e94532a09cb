package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/gochaos/gochaos/go_targets/internal/greeter"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run greeter as a subprocess (built once without the race
// detector, so a crash is the runtime's own report) on 127.0.0.1:0.

var bin string

func TestMain(m *testing.M) {
	proctest.Main(m, "greeter-test-", func(dir string) (err error) {
		bin, err = proctest.Build(".", dir, "greeter")
		return err
	})
}

const (
	sample       = `{"greeting": "hello", "rate_limit": 100, "routes": ["/", "/hello"]}`
	negativeRate = `{"greeting": "hello", "rate_limit": -1, "routes": ["/", "/hello"]}`
)

// svc is one greeter subprocess, its config file and base URLs.
type svc struct {
	*proctest.Proc
	path        string
	main, admin string // admin is main without --admin-listen
}

// start writes config and runs greeter on it with flags (plus --listen
// 127.0.0.1:0), waiting for every listener.
func start(t *testing.T, config string, flags ...string) *svc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "greeter.json")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := proctest.Start(bin, append([]string{"--listen", "127.0.0.1:0", "--config", path}, flags...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	s := &svc{Proc: p, path: path}
	want := 1
	for _, f := range flags {
		if strings.HasPrefix(f, "--admin-listen") {
			want = 2
		}
	}
	lines := waitLines(t, p, "listening", want)
	for _, l := range lines {
		url := fmt.Sprintf("http://%s", l["addr"])
		if l["listener"] == "admin" {
			s.admin = url
		} else {
			s.main = url
		}
	}
	if s.admin == "" {
		s.admin = s.main
	}
	return s
}

// replace writes data by rename-replace and returns its hash.
func (s *svc) replace(t *testing.T, data string) string {
	t.Helper()
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		t.Fatal(err)
	}
	return greeter.Hash([]byte(data))
}

func (s *svc) hup(t *testing.T) {
	t.Helper()
	if err := s.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func waitLines(t *testing.T, p *proctest.Proc, msg string, n int) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proctest.WaitFor(ctx, func() bool { return len(p.LogLines(msg)) >= n }); err != nil {
		t.Fatalf("want %d %q lines: %v\n%s", n, msg, err, p.Stderr())
	}
	return p.LogLines(msg)
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// gauge reads one unlabelled gauge (or the label values of a labelled one)
// from /metrics.
func gauge(t *testing.T, url, name string) (float64, []string) {
	t.Helper()
	_, body := get(t, url+"/metrics")
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no %s in /metrics", name)
	}
	var labels []string
	for _, m := range f.Metric {
		for _, l := range m.Label {
			labels = append(labels, l.GetValue())
		}
	}
	return f.Metric[0].GetGauge().GetValue(), labels
}

func stopCleanly(t *testing.T, s *svc) {
	t.Helper()
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, exited := s.Wait(5 * time.Second); !exited || code != 0 {
		t.Fatalf("SIGTERM: exited=%v code=%d\n%s", exited, code, s.Stderr())
	}
	if len(s.LogLines("stopped")) == 0 {
		t.Fatalf("no stopped line:\n%s", s.Stderr())
	}
}

func TestServeAndSIGTERM(t *testing.T) {
	s := start(t, sample)
	hash := greeter.Hash([]byte(sample))
	for path, want := range map[string]struct {
		status int
		body   string
	}{
		"/": {200, "hello\n"}, "/hello": {200, "hello\n"}, "/nope": {404, "404 page not found\n"}, "/-/healthz": {200, "ok\n"},
	} {
		resp, body := get(t, s.main+path)
		if resp.StatusCode != want.status || body != want.body || resp.Header.Get(greeter.HashHeader) != hash {
			t.Errorf("GET %s: %d %q %s=%q, want %d %q %s", path, resp.StatusCode, body, greeter.HashHeader,
				resp.Header.Get(greeter.HashHeader), want.status, want.body, hash)
		}
	}
	if _, hashes := gauge(t, s.main, greeter.MetricConfigInfo); len(hashes) != 1 || hashes[0] != hash {
		t.Fatalf("%s hashes %v, want [%s]", greeter.MetricConfigInfo, hashes, hash)
	}
	l := waitLines(t, s.Proc, "config loaded", 1)[0]
	if l["level"] != "info" || l["hash"] != hash {
		t.Fatalf("config loaded line %v", l)
	}
	stopCleanly(t, s)
}

func TestStartupFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", sample)
	for _, tc := range []struct {
		name    string
		args    []string
		msg     string // the log line's msg
		wantErr string
	}{
		{"no --config", nil, "bad_flag", "--config is required"},
		{"unknown bug", []string{"--config", good, "--bug", "panic"}, "bad_flag", `--bug "panic"`},
		{"unknown observe", []string{"--config", good, "--observe", "otel"}, "bad_flag", `--observe "otel"`},
		{"unknown reload", []string{"--config", good, "--reload", "inotify"}, "bad_flag", `--reload "inotify"`},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.json")}, "startup_failed", "no such file"},
		{"negative rate_limit", []string{"--config", write("neg.json", negativeRate)}, "startup_failed", "rate_limit: -1 not in 1..1000000"},
		{"negative rate_limit, reload-crash", []string{"--config", write("neg2.json", negativeRate), "--bug", "reload-crash"}, "startup_failed", "rate_limit: -1"},
		{"negative rate_limit, accept-invalid", []string{"--config", write("neg3.json", negativeRate), "--bug", "accept-invalid"}, "startup_failed", "rate_limit: -1"},
		{"unknown field", []string{"--config", write("unk.json", `{"greeting": "x", "rate_limit": 1, "routes": ["/"], "x": 1}`)}, "startup_failed", `unknown field "x"`},
		{"does not parse", []string{"--config", write("bad.json", `{"greeting"`)}, "startup_failed", "json: "},
		{"address in use", []string{"--config", good, "--listen", busy.Addr().String()}, "startup_failed", "address already in use"},
		{"admin address in use", []string{"--config", good, "--admin-listen", busy.Addr().String()}, "startup_failed", "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--listen") {
				args = append(args, "--listen", "127.0.0.1:0")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1\n%s", err, stderr.String())
			}
			found := false
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == tc.msg && m["level"] == "error" &&
					strings.Contains(fmt.Sprint(m["error"]), tc.wantErr) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %q line with an error containing %q:\n%s", tc.msg, tc.wantErr, stderr.String())
			}
		})
	}
}

// A config with rate_limit -1, then SIGHUP, on each build.
func TestSIGHUPNegativeRateLimit(t *testing.T) {
	old := greeter.Hash([]byte(sample))
	bad := greeter.Hash([]byte(negativeRate))
	for _, tc := range []struct {
		bug string
	}{{greeter.BugNone}, {greeter.BugReloadCrash}, {greeter.BugAcceptInvalid}, {greeter.BugLeakGoroutines}} {
		t.Run(tc.bug, func(t *testing.T) {
			s := start(t, sample, "--bug", tc.bug)
			s.replace(t, negativeRate)
			s.hup(t)
			switch tc.bug {
			case greeter.BugReloadCrash:
				code, exited := s.Wait(5 * time.Second)
				if !exited || code != 2 {
					t.Fatalf("exited=%v code=%d, want a crash (status 2)\n%s", exited, code, s.Stderr())
				}
				if h := s.CrashHeadline(); h != "panic: runtime error: makeslice: len out of range" {
					t.Fatalf("crash headline %q\n%s", h, s.Stderr())
				}
				for _, frame := range []string{"greeter.(*limiter).resize", "greeter.(*Server).Reload", "main.run.func"} {
					if !strings.Contains(s.Stderr(), frame) {
						t.Fatalf("the crash stack lacks %s:\n%s", frame, s.Stderr())
					}
				}
			case greeter.BugAcceptInvalid:
				l := waitLines(t, s.Proc, greeter.ReloadOK, 1)[0]
				if l["level"] != "info" || l["hash"] != bad {
					t.Fatalf("reload line %v, want info with hash %s", l, bad)
				}
				for range 3 {
					resp, _ := get(t, s.main+"/hello")
					if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get(greeter.HashHeader) != bad {
						t.Fatalf("GET /hello: %d %s=%q, want 429 with %s", resp.StatusCode, greeter.HashHeader, resp.Header.Get(greeter.HashHeader), bad)
					}
					time.Sleep(50 * time.Millisecond)
				}
				if ok, _ := gauge(t, s.main, greeter.MetricLastReloadSuccessful); ok != 1 {
					t.Fatalf("last_reload_successful %v, want 1", ok)
				}
				if _, hashes := gauge(t, s.main, greeter.MetricConfigInfo); len(hashes) != 1 || hashes[0] != bad {
					t.Fatalf("info hashes %v, want [%s]", hashes, bad)
				}
				stopCleanly(t, s)
			default: // the fixed reload path rejects it
				l := waitLines(t, s.Proc, greeter.ReloadRejected, 1)[0]
				if l["level"] != "warn" || l["hash"] != bad || !strings.Contains(fmt.Sprint(l["error"]), "rate_limit: -1 not in 1..1000000") {
					t.Fatalf("reject line %v", l)
				}
				resp, body := get(t, s.main+"/hello")
				if resp.StatusCode != 200 || body != "hello\n" || resp.Header.Get(greeter.HashHeader) != old {
					t.Fatalf("GET /hello: %d %q %s=%q, want 200 with %s", resp.StatusCode, body, greeter.HashHeader, resp.Header.Get(greeter.HashHeader), old)
				}
				if ok, _ := gauge(t, s.main, greeter.MetricLastReloadSuccessful); ok != 0 {
					t.Fatalf("last_reload_successful %v, want 0", ok)
				}
				if _, hashes := gauge(t, s.main, greeter.MetricConfigInfo); len(hashes) != 1 || hashes[0] != old {
					t.Fatalf("info hashes %v, want [%s]", hashes, old)
				}
				stopCleanly(t, s)
			}
		})
	}
}

// refreshersInDump counts refreshQuota goroutines in a debug=2 goroutine dump.
func refreshersInDump(t *testing.T, url string) float64 {
	t.Helper()
	_, body := get(t, url+"/debug/pprof/goroutine?debug=2")
	return float64(strings.Count(body, "greeter.(*Server).refreshQuota("))
}

// leak-goroutines: 5 accepted reloads leave 15 goroutines behind, seen in
// go_goroutines (prometheus) or the goroutine dump (pprof); the fixed build
// stays flat.
func TestLeakGoroutines(t *testing.T) {
	const reloads = 5
	for _, tc := range []struct {
		bug, observe string
		wantGrow     float64
	}{
		{greeter.BugLeakGoroutines, greeter.ObservePrometheus, 3 * reloads},
		{greeter.BugNone, greeter.ObservePrometheus, 0},
		{greeter.BugLeakGoroutines, greeter.ObservePprof, 3 * reloads},
		{greeter.BugNone, greeter.ObservePprof, 0},
	} {
		t.Run(tc.bug+"/"+tc.observe, func(t *testing.T) {
			s := start(t, sample, "--bug", tc.bug, "--observe", tc.observe)
			count := func() float64 {
				if tc.observe == greeter.ObservePprof {
					return refreshersInDump(t, s.main)
				}
				n, _ := gauge(t, s.main, "go_goroutines")
				return n
			}
			base := count()
			for i := range reloads {
				s.replace(t, fmt.Sprintf(`{"greeting": "hello %d", "rate_limit": 100, "routes": ["/"]}`, i))
				s.hup(t)
				waitLines(t, s.Proc, greeter.ReloadOK, i+1)
			}
			var grew float64
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = proctest.WaitFor(ctx, func() bool { grew = count() - base; return grew == tc.wantGrow })
			if grew < tc.wantGrow-2 || grew > tc.wantGrow+2 {
				t.Fatalf("grew by %v after %d reloads, want %v", grew, reloads, tc.wantGrow)
			}
			stopCleanly(t, s)
		})
	}
}

// --reload=watch picks up a rename-replace; on the reload-crash build the
// watcher's goroutine is the one that dies.
func TestWatch(t *testing.T) {
	s := start(t, sample, "--reload", "watch")
	hash := s.replace(t, `{"greeting": "watched", "rate_limit": 100, "routes": ["/w"]}`)
	if l := waitLines(t, s.Proc, greeter.ReloadOK, 1)[0]; l["hash"] != hash {
		t.Fatalf("reload line %v", l)
	}
	if resp, body := get(t, s.main+"/w"); resp.StatusCode != 200 || body != "watched\n" {
		t.Fatalf("GET /w: %d %q", resp.StatusCode, body)
	}
	// SIGHUP still reloads in watch mode.
	s.hup(t)
	waitLines(t, s.Proc, greeter.ReloadOK, 2)
	stopCleanly(t, s)

	s = start(t, sample, "--reload", "watch", "--bug", "reload-crash")
	s.replace(t, negativeRate)
	if code, exited := s.Wait(5 * time.Second); !exited || code != 2 || s.CrashHeadline() != "panic: runtime error: makeslice: len out of range" {
		t.Fatalf("exited=%v code=%d headline %q\n%s", exited, code, s.CrashHeadline(), s.Stderr())
	}
	if !strings.Contains(s.Stderr(), "greeter.(*Server).Watch") {
		t.Fatalf("the crash is not on the watcher:\n%s", s.Stderr())
	}
}

// --admin-listen moves /metrics off the main listener; --config-metric=false
// hides the live config everywhere.
func TestAdminListenConfigMetricOff(t *testing.T) {
	s := start(t, sample, "--admin-listen", "127.0.0.1:0", "--config-metric=false")
	if s.admin == s.main {
		t.Fatal("no admin listener")
	}
	if resp, _ := get(t, s.main+"/metrics"); resp.StatusCode != 404 {
		t.Fatalf("main /metrics: %d, want 404", resp.StatusCode)
	}
	hash := s.replace(t, negativeRate)
	s.hup(t)
	waitLines(t, s.Proc, greeter.ReloadRejected, 1)
	s.replace(t, `{"greeting": "hi", "rate_limit": 100, "routes": ["/"]}`)
	s.hup(t)
	waitLines(t, s.Proc, greeter.ReloadOK, 1)
	for _, u := range []string{s.main + "/", s.main + "/-/healthz", s.admin + "/metrics", s.admin + "/-/healthz"} {
		resp, body := get(t, u)
		if resp.StatusCode != 200 || resp.Header.Get(greeter.HashHeader) != "" || strings.Contains(body, "greeter_") {
			t.Fatalf("%s: %d %s=%q\n%s", u, resp.StatusCode, greeter.HashHeader, resp.Header.Get(greeter.HashHeader), body)
		}
	}
	if _, body := get(t, s.admin+"/metrics"); !strings.Contains(body, "go_goroutines ") {
		t.Fatal("admin /metrics has no go_goroutines")
	}
	if strings.Contains(s.Stderr(), `"hash"`) || strings.Contains(s.Stderr(), hash) {
		t.Fatalf("the logs show a hash:\n%s", s.Stderr())
	}
	stopCleanly(t, s)
}
