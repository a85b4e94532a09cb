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
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/gochaos/gochaos/go_targets/internal/hunted"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run hunted as a subprocess (built once without the race
// detector, so a crash is the runtime's own report) on 127.0.0.1:0.

var (
	bin    string
	sample string // configs/hunted.yaml
	// raceBin is hunted built with -race (cgo needed), or "" and raceErr.
	raceBin string
	raceErr error
)

func TestMain(m *testing.M) {
	proctest.Main(m, "hunted-test-", func(dir string) (err error) {
		b, err := os.ReadFile("../../configs/hunted.yaml")
		if err != nil {
			return err
		}
		sample = string(b)
		raceBin, raceErr = buildRace(dir)
		bin, err = proctest.Build(".", dir, "hunted")
		return err
	})
}

// buildRace builds this package with the race detector into dir.
func buildRace(dir string) (string, error) {
	out := filepath.Join(dir, "hunted-race")
	cmd := exec.Command(proctest.GoTool(), "build", "-race", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -race: %v\n%s", err, b)
	}
	return out, nil
}

var client = &http.Client{Timeout: 5 * time.Second}

// mutate returns sample with old replaced by new, once; old must be there.
func mutate(t testing.TB, old, new string) string {
	t.Helper()
	if strings.Count(sample, old) != 1 {
		t.Fatalf("the sample has %d copies of %q, want 1", strings.Count(sample, old), old)
	}
	return strings.Replace(sample, old, new, 1)
}

const headersSection = "headers:\n  x-team: payments\n  x-env: staging\n"

// withBackends is the sample with n backends of weight 1.
func withBackends(t testing.TB, n int) string {
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

// svc is one hunted subprocess and its config file.
type svc struct {
	*proctest.Proc
	path, url string
}

// start writes config and runs hunted on it with flags (plus --listen
// 127.0.0.1:0).
func start(t *testing.T, config string, flags ...string) *svc {
	t.Helper()
	return startBin(t, bin, config, flags...)
}

func startBin(t *testing.T, bin, config string, flags ...string) *svc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hunted.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := proctest.Start(bin, append([]string{"--listen", "127.0.0.1:0", "--config", path}, flags...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return &svc{Proc: p, path: path, url: "http://" + p.Addr}
}

// replace writes data by rename-replace (as sed -i does) and returns its hash.
func (s *svc) replace(t testing.TB, data string) string {
	t.Helper()
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		t.Fatal(err)
	}
	return hunted.Hash([]byte(data))
}

func (s *svc) hup(t testing.TB) {
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

// root is GET / decoded; it fails unless the answer is 200 JSON.
func root(t *testing.T, url string) (hunted.Body, http.Header) {
	t.Helper()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b hunted.Body
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /: %d %v", resp.StatusCode, err)
	}
	return b, resp.Header
}

// infoHashes returns the hash labels of hunted_config_info and the value of
// hunted_config_last_reload_successful.
func infoHashes(t *testing.T, url string) ([]string, float64) {
	t.Helper()
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	var hashes []string
	for _, m := range fams[hunted.MetricConfigInfo].GetMetric() {
		for _, l := range m.GetLabel() {
			hashes = append(hashes, l.GetValue())
		}
	}
	ok := fams[hunted.MetricLastReloadSuccessful].GetMetric()
	if len(ok) != 1 {
		t.Fatalf("no %s", hunted.MetricLastReloadSuccessful)
	}
	return hashes, ok[0].GetGauge().GetValue()
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

// wantCrash waits up to 5 s for a crash (exit status 2) whose headline
// matches headline and whose stack names every frame.
func wantCrash(t *testing.T, s *svc, headline string, frames ...string) {
	t.Helper()
	code, exited := s.Wait(5 * time.Second)
	if !exited || code != 2 {
		t.Fatalf("exited=%v code=%d, want a crash (status 2)\n%s", exited, code, s.Stderr())
	}
	if h := s.CrashHeadline(); !regexp.MustCompile(headline).MatchString(h) {
		t.Fatalf("crash headline %q, want %q\n%s", h, headline, s.Stderr())
	}
	for _, f := range frames {
		if !strings.Contains(s.Stderr(), f) {
			t.Fatalf("the crash stack lacks %s:\n%s", f, s.Stderr())
		}
	}
}

func TestServeAndSIGTERM(t *testing.T) {
	s := start(t, sample)
	hash := hunted.Hash([]byte(sample))
	b, h := root(t, s.url)
	if b.Greeting != "Hello" || b.PerWorkerRPS != 25 || b.Hash != hash || h.Get(hunted.HashHeader) != hash || h.Get("X-Team") != "payments" {
		t.Fatalf("GET /: %+v %v", b, h)
	}
	for path, want := range map[string]int{"/-/healthz": 200, "/nope": 404, "/metrics": 200} {
		resp, err := client.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get(hunted.HashHeader) != hash {
			t.Errorf("GET %s: %d %s=%q, want %d %s", path, resp.StatusCode, hunted.HashHeader, resp.Header.Get(hunted.HashHeader), want, hash)
		}
	}
	if hashes, ok := infoHashes(t, s.url); len(hashes) != 1 || hashes[0] != hash || ok != 1 {
		t.Fatalf("info hashes %v, last_reload_successful %v", hashes, ok)
	}
	if l := waitLines(t, s.Proc, "config loaded", 1)[0]; l["level"] != "info" || l["hash"] != hash || l["target"] != "hunted" {
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
	good := write("good.yaml", sample)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		msg      string // exit 1: the log line's msg; exit 2: the crash headline
		wantText string
	}{
		{"no --config", nil, 1, "bad_flag", "--config is required"},
		{"unknown bug", []string{"--config", good, "--bug", "panic"}, 1, "bad_flag", `--bug "panic"`},
		{"unknown reload", []string{"--config", good, "--reload", "inotify"}, 1, "bad_flag", `--reload "inotify"`},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, 1, "startup_failed", "no such file"},
		{"unknown field", []string{"--config", write("unk.yaml", sample+"threads: 2\n")}, 1, "startup_failed", "field threads not found"},
		{"does not parse", []string{"--config", write("bad.yaml", "workers: [")}, 1, "startup_failed", "yaml: "},
		{"workers 0, fixed", []string{"--config", write("w0.yaml", mutate(t, "workers: 4", "workers: 0"))}, 1, "startup_failed", "initial config: workers: 0 not in 1..1024"},
		{"address in use", []string{"--config", good, "--listen", busy.Addr().String()}, 1, "startup_failed", "address already in use"},
		// A trigger at startup crashes its build the same way as on reload.
		{"workers 0, zero-division", []string{"--config", write("w0z.yaml", mutate(t, "workers: 4", "workers: 0")), "--bug", "zero-division"}, 2,
			"panic: runtime error: integer divide by zero", "hunted.New("},
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
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != tc.code {
				t.Fatalf("exit %v, want status %d\n%s", err, tc.code, stderr.String())
			}
			if tc.code == 2 {
				if h := proctest.CrashHeadline(stderr.String()); h != tc.msg || !strings.Contains(stderr.String(), tc.wantText) {
					t.Fatalf("headline %q, want %q and %s on the stack\n%s", h, tc.msg, tc.wantText, stderr.String())
				}
				return
			}
			found := false
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == tc.msg && m["level"] == "error" &&
					strings.Contains(fmt.Sprint(m["error"]), tc.wantText) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %q line with an error containing %q:\n%s", tc.msg, tc.wantText, stderr.String())
			}
		})
	}
}

// Each reload trigger by SIGHUP on its build (a crash, exit status 2, on
// the SIGHUP goroutine) and on the fixed build (rejected with the last good
// config kept, or served).
func TestSIGHUPTriggers(t *testing.T) {
	for _, tc := range []struct {
		bug, name string
		config    string
		headline  string
		frame     string
		rejected  string                   // the fixed build's rejection; "" when it serves it
		served    func(b hunted.Body) bool // the fixed build's answer
	}{
		{hunted.BugEmptyListIndex, "middleware: []", mutate(t, "middleware: [logging, auth]", "middleware: []"),
			`^panic: runtime error: index out of range \[0\] with length 0$`, "hunted.(*Server).chain(", "",
			func(b hunted.Body) bool { return len(b.Middleware) == 0 }},
		{hunted.BugEmptyStringIndex, `greeting: ""`, mutate(t, `greeting: "hello"`, `greeting: ""`),
			`^panic: runtime error: index out of range \[0\] with length 0$`, "hunted.(*Server).capitalize(", "",
			func(b hunted.Body) bool { return b.Greeting == "" }},
		{hunted.BugZeroDivision, "workers: 0", mutate(t, "workers: 4", "workers: 0"),
			`^panic: runtime error: integer divide by zero$`, "hunted.(*Server).build(", "workers: 0 not in 1..1024", nil},
		{hunted.BugNegativeMake, "buffer_size: -1", mutate(t, "buffer_size: 64", "buffer_size: -1"),
			`^panic: runtime error: makeslice: len out of range$`, "hunted.newBufPool(", "buffer_size: -1 not in 1..1048576", nil},
		{hunted.BugNilMapAfterRemove, "headers removed", mutate(t, headersSection, ""),
			`^panic: assignment to entry in nil map$`, "hunted.(*Server).headersOf(", "",
			func(b hunted.Body) bool { return b.ServedBy == hunted.ServedBy }},
	} {
		old := hunted.Hash([]byte(sample))
		t.Run(tc.bug, func(t *testing.T) {
			s := start(t, sample, "--bug", tc.bug)
			s.replace(t, tc.config)
			s.hup(t)
			wantCrash(t, s, tc.headline, tc.frame, "hunted.(*Server).Reload(", "main.run.func")
		})
		t.Run("none/"+tc.name, func(t *testing.T) {
			s := start(t, sample)
			hash := s.replace(t, tc.config)
			s.hup(t)
			waitLines(t, s.Proc, hunted.ReloadStarted, 1)
			live, wantOK := hash, 1.0
			if tc.rejected != "" {
				l := waitLines(t, s.Proc, hunted.ReloadRejected, 1)[0]
				if l["level"] != "warn" || l["hash"] != hash || !strings.Contains(fmt.Sprint(l["error"]), tc.rejected) {
					t.Fatalf("reject line %v", l)
				}
				live, wantOK = old, 0
			} else if l := waitLines(t, s.Proc, hunted.ReloadOK, 1)[0]; l["level"] != "info" || l["hash"] != hash {
				t.Fatalf("reload line %v", l)
			}
			b, h := root(t, s.url)
			if b.Hash != live || h.Get(hunted.HashHeader) != live || (tc.served != nil && !tc.served(b)) {
				t.Fatalf("GET /: %+v %s=%q, want %s live", b, hunted.HashHeader, h.Get(hunted.HashHeader), live)
			}
			if hashes, ok := infoHashes(t, s.url); len(hashes) != 1 || hashes[0] != live || ok != wantOK {
				t.Fatalf("info hashes %v, last_reload_successful %v; want [%s], %v", hashes, ok, live, wantOK)
			}
			stopCleanly(t, s)
		})
	}
}

// alternate writes configs[i%len] by rename-replace and sends SIGHUP every
// period until the process exits, d has passed or until (if not nil) holds,
// and returns how many writes it made.
func alternate(t *testing.T, s *svc, configs []string, period, d time.Duration, until func() bool) int {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for i := 0; ; i++ {
		if until != nil && until() {
			return i
		}
		s.replace(t, configs[i%len(configs)])
		if err := s.Signal(syscall.SIGHUP); err != nil {
			return i // exited
		}
		select {
		case <-s.Done():
			return i + 1
		case <-deadline:
			return i + 1
		case <-tick.C:
		}
	}
}

// slice-shrink-race: alternating 10 and 2 backends every 20 ms crashes the
// buggy build's health checker within 2 s; the fixed build takes every
// reload.
func TestSliceShrinkRace(t *testing.T) {
	configs := []string{withBackends(t, 10), withBackends(t, 2)}
	t.Run(hunted.BugSliceShrinkRace, func(t *testing.T) {
		s := start(t, sample, "--bug", hunted.BugSliceShrinkRace)
		began := time.Now()
		n := alternate(t, s, configs, 20*time.Millisecond, 2*time.Second, nil)
		wantCrash(t, s, `^panic: runtime error: index out of range \[\d+\] with length 2$`,
			"hunted.(*Server).checkBackendsInPlace(", "hunted.(*Server).checkBackends(")
		t.Logf("crashed after %d writes, %v", n, s.ExitedAt().Sub(began).Round(time.Millisecond))
	})
	t.Run(hunted.BugNone, func(t *testing.T) {
		s := start(t, sample)
		n := alternate(t, s, configs, 20*time.Millisecond, time.Second, nil)
		select {
		case <-s.Done():
			t.Fatalf("exited after %d writes:\n%s", n, s.Stderr())
		default:
		}
		s.hup(t) // the last write, for sure (SIGHUPs coalesce)
		want := hunted.Hash([]byte(configs[(n-1)%2]))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var b hunted.Body
		_ = proctest.WaitFor(ctx, func() bool { b, _ = root(t, s.url); return b.Hash == want })
		if b.Hash != want || len(s.LogLines(hunted.ReloadRejected)) != 0 {
			t.Fatalf("live %s, want %s; %d rejected", b.Hash, want, len(s.LogLines(hunted.ReloadRejected)))
		}
		t.Logf("%d writes, %d reloads ok", n, len(s.LogLines(hunted.ReloadOK)))
		stopCleanly(t, s)
	})
}

// hammer GETs / from 8 goroutines until stop is closed or the process
// exits, counting the answers by status (0: a transport error).
func hammer(s *svc, stop <-chan struct{}) (wait func() map[int]int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var quit atomic.Bool
	for range 8 {
		wg.Go(func() {
			for !quit.Load() {
				select {
				case <-stop:
					return
				case <-s.Done():
					return
				default:
				}
				code := 0
				if resp, err := c.Get(s.url + "/"); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				counts[code]++
				mu.Unlock()
			}
		})
	}
	return func() map[int]int {
		quit.Store(true)
		wg.Wait()
		tr.CloseIdleConnections()
		return counts
	}
}

// map-race: reloads every 5 ms under GET / load can crash the buggy build,
// but the runtime's concurrent map check only fires when a read starts
// while a write is under way on another CPU: on 2 cores, with this
// (race-instrumented, so slow) client, that is not reliable within 2 s, and a
// run that survives is skipped, not failed. TestRaceBuild shows the race
// every time. The fixed build answers every request.
func TestMapRace(t *testing.T) {
	configs := []string{mutate(t, headersSection, "headers:\n  x-env: prod\n  x-region: eu\n  x-tier: gold\n"), sample}
	t.Run(hunted.BugMapRace, func(t *testing.T) {
		s := start(t, sample, "--bug", hunted.BugMapRace)
		stop := make(chan struct{})
		wait := hammer(s, stop)
		began := time.Now()
		n := alternate(t, s, configs, 5*time.Millisecond, 2*time.Second, nil)
		close(stop)
		counts := wait()
		if _, exited := s.Wait(time.Second); !exited {
			t.Skipf("no crash in 2 s (%d reloads, answers by status %v): the map check is probabilistic", n, counts)
		}
		wantCrash(t, s, `^fatal error: concurrent map (iteration|read) and map write$`, "hunted.(*Server).answer(")
		t.Logf("%s after %d writes, %v (answers by status %v)", s.CrashHeadline(), n, s.ExitedAt().Sub(began).Round(time.Millisecond), counts)
	})
	t.Run(hunted.BugNone, func(t *testing.T) {
		s := start(t, sample)
		stop := make(chan struct{})
		wait := hammer(s, stop)
		n := alternate(t, s, configs, 5*time.Millisecond, time.Second, nil)
		close(stop)
		counts := wait()
		if counts[200] == 0 || len(counts) != 1 {
			t.Fatalf("answers by status %v, want only 200", counts)
		}
		t.Logf("%d writes, answers by status %v", n, counts)
		stopCleanly(t, s)
	})
}

// --reload=watch picks up a rename-replace; on a buggy build the watcher's
// goroutine is the one that dies.
func TestWatch(t *testing.T) {
	s := start(t, sample, "--reload", "watch")
	hash := s.replace(t, mutate(t, `greeting: "hello"`, `greeting: "watched"`))
	if l := waitLines(t, s.Proc, hunted.ReloadOK, 1)[0]; l["hash"] != hash {
		t.Fatalf("reload line %v", l)
	}
	if b, _ := root(t, s.url); b.Greeting != "Watched" {
		t.Fatalf("GET /: %+v", b)
	}
	// SIGHUP still reloads in watch mode.
	s.hup(t)
	waitLines(t, s.Proc, hunted.ReloadOK, 2)
	stopCleanly(t, s)

	s = start(t, sample, "--reload", "watch", "--bug", hunted.BugZeroDivision)
	s.replace(t, mutate(t, "workers: 4", "workers: 0"))
	wantCrash(t, s, `^panic: runtime error: integer divide by zero$`, "hunted.(*Server).Watch(")
}

// The buggy race builds built with -race: the race detector reports the
// race on the first reloads under traffic (within 2 s), naming the in-place
// writer and the reader; the fixed build under both triggers reports none.
func TestRaceBuild(t *testing.T) {
	if raceBin == "" {
		t.Skipf("no -race build of hunted: %v", raceErr)
	}
	slice := []string{withBackends(t, 10), withBackends(t, 2)}
	headers := []string{mutate(t, headersSection, "headers:\n  x-env: prod\n  x-region: eu\n  x-tier: gold\n"), sample}
	for _, tc := range []struct {
		bug     string
		configs []string
		frames  []string // both accesses; none for the fixed build
	}{
		{hunted.BugSliceShrinkRace, slice, []string{"hunted.(*Server).setBackendsInPlace()", "hunted.(*Server).checkBackendsInPlace()"}},
		{hunted.BugMapRace, headers, []string{"hunted.(*Server).setHeadersInPlace()", "hunted.(*Server).answer()"}},
		{hunted.BugNone, append(slice, headers...), nil},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			s := startBin(t, raceBin, sample, "--bug", tc.bug)
			stop := make(chan struct{})
			wait := hammer(s, stop)
			raced := func() bool { return strings.Contains(s.Stderr(), "WARNING: DATA RACE") }
			d := 2 * time.Second
			if tc.frames == nil {
				d = time.Second
			}
			n := alternate(t, s, tc.configs, 20*time.Millisecond, d, raced)
			close(stop)
			counts := wait()
			if tc.frames == nil {
				if raced() || counts[200] == 0 || len(counts) != 1 {
					t.Fatalf("%d writes, answers by status %v:\n%s", n, counts, s.Stderr())
				}
				stopCleanly(t, s)
				return
			}
			if !raced() {
				t.Fatalf("no DATA RACE after %d writes:\n%s", n, s.Stderr())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = proctest.WaitFor(ctx, func() bool { return strings.Count(s.Stderr(), "==================") >= 2 })
			for _, f := range tc.frames {
				if !strings.Contains(s.Stderr(), f) {
					t.Fatalf("the race report lacks %s:\n%s", f, s.Stderr())
				}
			}
			t.Logf("DATA RACE after %d writes", n)
		})
	}
}
