package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/configd"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run configd as a subprocess, built once without the race
// detector, so that the buggy switches can be seen to crash the way the
// incidents did, and the fixed defaults to survive the same trigger.

var bin string

func TestMain(m *testing.M) {
	proctest.Main(m, "configd-test-", func(dir string) (err error) {
		bin, err = proctest.Build(".", dir, "configd")
		return err
	})
}

// trials is the number of trials per reproduction (env GOCHAOS_TRIALS, default 10).
func trials(t *testing.T) int {
	if s := os.Getenv("GOCHAOS_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("GOCHAOS_TRIALS=%q: want a positive integer", s)
		}
		return n
	}
	return 10
}

// Crash signatures incident 1 and 2 are allowed to produce.
var mapCrashes = []string{
	"fatal error: concurrent map writes",
	"fatal error: concurrent map read and map write",
	"panic: assignment to entry in nil map",
}

var sampleRoutes = []string{"/", "/hello", "/api/users", "/api/orders", "/static/banner.txt", "/teapot"}

func sampleConfig(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../configs/configd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startOnSampleConfig writes the sample config into a fresh temporary directory
// and starts configd on it with the extra flags; it returns the process, the
// config path and the sample bytes.
func startOnSampleConfig(t *testing.T, flags ...string) (*proctest.Proc, string, []byte) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	orig := sampleConfig(t)
	if err := os.WriteFile(cfg, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := proctest.Start(bin, append([]string{"--listen", "127.0.0.1:0", "--config", cfg}, flags...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, cfg, orig
}

// renameReplace writes data the way sed -i does: a temporary file in the same
// directory, renamed over path.
func renameReplace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".sed%d", rand.Int()))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The reported edits: s/log_level: info/log_level: debug/, then a
// `middleware: []` list inserted after the line opening the http section.
func valueOnlyEdit(b []byte) []byte {
	return bytes.Replace(b, []byte("log_level: info"), []byte("log_level: debug"), 1)
}

func structuralEdit(b []byte) []byte {
	return bytes.Replace(b, []byte("\nhttp:\n"), []byte("\nhttp:\n  middleware: []\n"), 1)
}

// traffic hammers paths of p from n goroutines until stop is called.
type traffic struct {
	ok, failed atomic.Int64
	stop       func()
}

func hammer(p *proctest.Proc, n int, req func(c *http.Client, base string, rng *rand.Rand) (int, error)) *traffic {
	tr := &traffic{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
			defer c.CloseIdleConnections()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				select {
				case <-p.Done():
					return
				default:
				}
				if _, err := req(c, p.URL(""), rng); err != nil {
					tr.failed.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				tr.ok.Add(1)
			}
		}()
	}
	tr.stop = func() { cancel(); wg.Wait() }
	return tr
}

func getRoute(c *http.Client, base string, rng *rand.Rand) (int, error) {
	resp, err := c.Get(base + sampleRoutes[rng.IntN(len(sampleRoutes))])
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

type trial struct {
	crashed  bool
	code     int
	headline string
	ttc      time.Duration // from the second (structural) write to the exit
	requests int64
}

// reloadTrial is the reported incident-1 trigger: traffic, a value-only edit by
// rename-replace, ~100 ms later a structural edit, then observe.
func reloadTrial(t *testing.T, strategy string) trial {
	p, cfg, orig := startOnSampleConfig(t, "--watch-config", "--reload-strategy", strategy)
	defer p.Kill()
	tr := hammer(p, 8, getRoute)
	time.Sleep(200 * time.Millisecond)
	renameReplace(t, cfg, valueOnlyEdit(orig))
	time.Sleep(100 * time.Millisecond)
	second := time.Now()
	final := structuralEdit(valueOnlyEdit(orig))
	renameReplace(t, cfg, final)
	code, exited := p.Wait(time.Second)
	tr.stop()
	res := trial{crashed: exited, code: code, requests: tr.ok.Load()}
	if exited {
		res.headline = p.CrashHeadline()
		res.ttc = p.ExitedAt().Sub(second)
		return res
	}
	if strategy == configd.StrategyAtomic { // the last good config must be live
		var st struct{ SHA256, LastError string }
		getJSON(t, p.URL("/-/config"), &st)
		if st.SHA256 != configd.Digest(final) {
			t.Errorf("atomic: live sha256 %s, want the final file's %s (last_error %q)", st.SHA256, configd.Digest(final), st.LastError)
		}
		if n := len(p.LogLines(configd.ReloadRejected)); n != 0 {
			t.Errorf("atomic: %d reload_rejected lines for valid edits:\n%s", n, p.Stderr())
		}
	}
	return res
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func summarize(results []trial) (crashes int, median time.Duration, heads map[string]int, reqs int64) {
	heads = map[string]int{}
	var ttcs []time.Duration
	for _, r := range results {
		reqs += r.requests
		if r.crashed {
			crashes++
			ttcs = append(ttcs, r.ttc)
			heads[r.headline]++
		}
	}
	sort.Slice(ttcs, func(i, j int) bool { return ttcs[i] < ttcs[j] })
	if len(ttcs) > 0 {
		median = ttcs[len(ttcs)/2]
	}
	return crashes, median, heads, reqs
}

func checkCrash(t *testing.T, label string, r trial) {
	t.Helper()
	if r.code != 2 || !slices.Contains(mapCrashes, r.headline) {
		t.Errorf("%s: exit status %d, headline %q; want status 2 and one of %q", label, r.code, r.headline, mapCrashes)
	}
}

func TestIncident1ReloadTrigger(t *testing.T) {
	n := trials(t)
	for _, tc := range []struct {
		strategy   string
		minCrashes int
		maxCrashes int
	}{
		{configd.StrategyUnsafe, (9*n + 9) / 10, n},
		{configd.StrategyAtomic, 0, 0},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			var results []trial
			for i := range n {
				r := reloadTrial(t, tc.strategy)
				if r.crashed {
					checkCrash(t, fmt.Sprintf("trial %d", i+1), r)
				}
				results = append(results, r)
			}
			crashes, median, heads, reqs := summarize(results)
			if crashes > 0 {
				t.Logf("%s: crashed %d/%d trials, median time-to-crash %s after the structural write; headlines %v; %d requests served",
					tc.strategy, crashes, n, median.Round(time.Millisecond), heads, reqs)
			} else {
				t.Logf("%s: crashed 0/%d trials; %d requests served", tc.strategy, n, reqs)
			}
			if crashes < tc.minCrashes || crashes > tc.maxCrashes {
				t.Errorf("%s: crashed %d/%d, want %d..%d", tc.strategy, crashes, n, tc.minCrashes, tc.maxCrashes)
			}
		})
	}
}

// A single value-only reload with no traffic does not crash the unsafe build:
// the reproduction needs the second, structural reload.
func TestIncident1SingleValueOnlyReloadSurvives(t *testing.T) {
	const runs = 3
	crashes := 0
	for range runs {
		p, cfg, orig := startOnSampleConfig(t, "--watch-config", "--reload-strategy", configd.StrategyUnsafe)
		renameReplace(t, cfg, valueOnlyEdit(orig))
		if _, exited := p.Wait(700 * time.Millisecond); exited {
			crashes++
			t.Logf("crashed: %s", p.CrashHeadline())
		} else if n := len(p.LogLines(configd.ReloadOK)); n < 2 {
			t.Errorf("want a reload_ok for the edit, got %d reload_ok lines", n)
		}
		p.Kill()
	}
	t.Logf("unsafe, single value-only reload, no traffic: crashed %d/%d", crashes, runs)
	if crashes != 0 {
		t.Errorf("crashed %d/%d", crashes, runs)
	}
}

func cacheRequest(c *http.Client, base string, rng *rand.Rand) (int, error) {
	key := "k" + strconv.Itoa(rng.IntN(50_000))
	var req *http.Request
	if rng.IntN(2) == 0 {
		req, _ = http.NewRequest(http.MethodPut, base+"/cache/"+key, strings.NewReader(key))
	} else {
		req, _ = http.NewRequest(http.MethodGet, base+"/cache/"+key, nil)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func cacheTrial(t *testing.T, lock string, limit time.Duration) trial {
	p, err := proctest.Start(bin, []string{"--listen", "127.0.0.1:0", "--config", "../../configs/configd.yaml",
		"--cache-lock", lock}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	start := time.Now()
	tr := hammer(p, 16, cacheRequest)
	code, exited := p.Wait(limit)
	tr.stop()
	res := trial{crashed: exited, code: code, requests: tr.ok.Load()}
	if exited {
		res.headline = p.CrashHeadline()
		res.ttc = p.ExitedAt().Sub(start)
	} else if tr.failed.Load() > tr.ok.Load()/100 {
		t.Errorf("%s: %d of %d requests failed", lock, tr.failed.Load(), tr.ok.Load()+tr.failed.Load())
	}
	return res
}

func TestIncident2CacheLock(t *testing.T) {
	n := trials(t)
	t.Run(configd.LockNone, func(t *testing.T) {
		var results []trial
		for i := range n {
			r := cacheTrial(t, configd.LockNone, 10*time.Second)
			if r.crashed {
				checkCrash(t, fmt.Sprintf("trial %d", i+1), r)
			}
			results = append(results, r)
		}
		crashes, median, heads, reqs := summarize(results)
		t.Logf("cache-lock=none: crashed %d/%d trials under 16 concurrent clients, median time-to-crash %s, mean requests before the crash %d; headlines %v",
			crashes, n, median.Round(time.Millisecond), reqs/int64(n), heads)
		if crashes < (9*n+9)/10 {
			t.Errorf("cache-lock=none crashed %d/%d, want >= 90%%", crashes, n)
		}
	})
	for _, lock := range []string{configd.LockRWMutex, configd.LockSharded} {
		t.Run(lock, func(t *testing.T) {
			const run = 3 * time.Second
			r := cacheTrial(t, lock, run)
			t.Logf("cache-lock=%s: crashed=%v, %d requests in %s (%.0f req/s)", lock, r.crashed, r.requests, run,
				float64(r.requests)/run.Seconds())
			if r.crashed {
				t.Errorf("cache-lock=%s crashed: exit %d, %s", lock, r.code, r.headline)
			}
		})
	}
}

func TestSignals(t *testing.T) {
	p, cfg, orig := startOnSampleConfig(t)
	defer p.Kill()
	// No --watch-config: a file change is picked up on SIGHUP only.
	if err := os.WriteFile(cfg, bytes.Replace(orig, []byte(`version: "1"`), []byte(`version: "2"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proctest.WaitFor(ctx, func() bool {
		resp, err := http.Get(p.URL("/hello"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.Header.Get("X-Config-Version") == "2"
	}); err != nil {
		t.Fatalf("SIGHUP did not reload version 2: %v\n%s", err, p.Stderr())
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, exited := p.Wait(5 * time.Second)
	if !exited || code != 0 {
		t.Fatalf("SIGTERM: exited=%v code=%d\n%s", exited, code, p.Stderr())
	}
	if len(p.LogLines("shutdown")) != 1 || len(p.LogLines("stopped")) != 1 {
		t.Errorf("want one shutdown and one stopped log line:\n%s", p.Stderr())
	}
}
