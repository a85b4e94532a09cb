package configd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// logBuffer captures a component's JSON log lines for the test to count.
type logBuffer struct{ proctest.SyncBuffer }

func (s *logBuffer) count(msg string) int {
	return strings.Count(s.String(), `"msg":"`+msg+`"`)
}

func testLogger(buf io.Writer) *slog.Logger { return serve.NewLogger(buf, slog.LevelDebug, "configd") }

// configYAML renders a valid config with the given version and number of
// routes; middleware toggles the http.middleware list.
func configYAML(version string, routes int, middleware bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: %q\nlog_level: info\nhttp:\n", version)
	if middleware {
		b.WriteString("  middleware: [request_id]\n")
	}
	b.WriteString("  routes:\n    /hello: {status: 200, body: \"hello\"}\n")
	for i := range routes {
		fmt.Fprintf(&b, "    /r%d: {status: 200, body: \"r%d\"}\n", i, i)
	}
	b.WriteString("rate_limits:\n  default: 1000000\n")
	return b.String()
}

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

func newTestAtomic(t *testing.T, initial string, opt AtomicOptions) (*Atomic, string, *logBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeReplace(t, path, initial)
	buf := &logBuffer{}
	a := NewAtomic(path, testLogger(buf), testLogger(io.Discard), opt, 20*time.Millisecond)
	if out := a.Reload("startup"); out.Outcome != ReloadOK {
		t.Fatalf("startup: %+v", out)
	}
	return a, path, buf
}

// A reload storm (valid structural changes interleaved with invalid configs,
// from two reloading goroutines) under concurrent readers: no response ever
// carries a version that was never valid, and the last valid one ends live.
func TestAtomicReloadStormWithConcurrentReaders(t *testing.T) {
	a, path, buf := newTestAtomic(t, configYAML("v0", 3, false), AtomicOptions{BreakerThreshold: 1000})
	cache, _ := NewCache(LockSharded)
	srv := httptest.NewServer(NewServer(a, cache, testLogger(io.Discard)))
	defer srv.Close()

	var valid sync.Map // versions ever written valid
	valid.Store("v0", true)
	var seen sync.Map
	var requests, bad atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for i := range 8 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			paths := []string{"/hello", "/r0", "/r1", "/-/config"}
			for n := 0; ctx.Err() == nil; n++ {
				resp, err := http.Get(srv.URL + paths[(i+n)%len(paths)])
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				v := resp.Header.Get(serve.VersionHeader)
				seen.Store(v, true)
				requests.Add(1)
				if resp.StatusCode >= 500 {
					bad.Add(1)
				}
			}
		}()
	}
	var writeMu sync.Mutex // one file writer; reloads race each other
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 90 {
				writeMu.Lock()
				var data string
				if i%3 == 2 {
					data = fmt.Sprintf("version: bad-%d-%d\nrate_limits:\n  default: -1\n", w, i)
				} else {
					v := fmt.Sprintf("v%d-%d", w, i)
					data = configYAML(v, i%7, i%2 == 0)
					valid.Store(v, true)
				}
				writeReplace(t, path, data)
				writeMu.Unlock()
				a.Reload("storm")
				time.Sleep(time.Millisecond)
			}
		}()
	}
	writers.Wait()
	valid.Store("final", true)
	writeReplace(t, path, configYAML("final", 4, true))
	a.Reload("final")
	time.Sleep(50 * time.Millisecond)
	cancel()
	readers.Wait()

	seen.Range(func(k, _ any) bool {
		if _, ok := valid.Load(k); !ok {
			t.Errorf("a response carried version %q, which was never a valid config", k)
		}
		return true
	})
	if got := a.Version(); got != "final" {
		t.Errorf("live version %q, want the last valid one, final", got)
	}
	t.Logf("storm: %d requests, %d 5xx, %d reload_ok, %d reload_rejected", requests.Load(), bad.Load(),
		buf.count(ReloadOK), buf.count(ReloadRejected))
	if bad.Load() != 0 {
		t.Errorf("%d responses were 5xx", bad.Load())
	}
	if buf.count(ReloadRejected) == 0 {
		t.Error("no reload_rejected logged for the invalid configs")
	}
}

func TestAtomicBreaker(t *testing.T) {
	a, path, buf := newTestAtomic(t, configYAML("good-1", 1, false), AtomicOptions{BreakerCooldown: 300 * time.Millisecond})
	for i, want := range []struct {
		outcome string
		breaker bool
	}{
		{ReloadRejected, false},
		{ReloadRejected, false},
		{ReloadRejected, true},
		{ReloadSkipped, true},
	} {
		writeReplace(t, path, fmt.Sprintf("version: bad-%d\nhttp:\n  middleware: [nope]\n", i))
		out := a.Reload("test")
		if out.Outcome != want.outcome || out.BreakerOpen != want.breaker || out.Version != "good-1" {
			t.Fatalf("reload %d: %+v, want outcome %s breaker_open %v version good-1", i+1, out, want.outcome, want.breaker)
		}
	}
	st := a.Status()
	if !st.BreakerOpen || st.ConsecutiveFailures != 3 || !strings.Contains(st.LastError, `unknown middleware "nope"`) {
		t.Fatalf("status %+v", st)
	}
	if buf.count(BreakerOpen) != 1 || buf.count(ReloadSkipped) != 1 {
		t.Fatalf("want one breaker_open and one reload_skipped line:\n%s", buf)
	}
	// Fix the file while the breaker is open: the skipped reload is retried
	// when the cool-down ends.
	writeReplace(t, path, configYAML("good-2", 1, true))
	deadline := time.Now().Add(2 * time.Second)
	for a.Version() != "good-2" {
		if time.Now().After(deadline) {
			t.Fatalf("fixed config not loaded after the cool-down:\n%s", buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := a.Status(); st.BreakerOpen || st.ConsecutiveFailures != 0 {
		t.Fatalf("after recovery: %+v", st)
	}
	if !strings.Contains(buf.String(), `"trigger":"breaker_retry"`) || buf.count(BreakerClosed) != 1 {
		t.Fatalf("want a breaker_closed line and a reload with trigger breaker_retry:\n%s", buf)
	}
}

func TestAtomicCommitTimeoutRollsBack(t *testing.T) {
	a, path, buf := newTestAtomic(t, configYAML("old", 1, false), AtomicOptions{})
	commitHook = func(ctx context.Context, _ *Snapshot) { <-ctx.Done(); time.Sleep(10 * time.Millisecond) }
	defer func() { commitHook = nil }()
	writeReplace(t, path, configYAML("slow", 2, false))
	out := a.Reload("test")
	if out.Outcome != ReloadRejected || !strings.Contains(out.Reason, "rolled back") || a.Version() != "old" {
		t.Fatalf("slow commit: %+v, live %q; want rejected and rolled back to old", out, a.Version())
	}
	if _, ok := a.Route("/r1"); ok {
		t.Fatal("a route of the cancelled config is served")
	}
	commitHook = nil
	if out := a.Reload("test"); out.Outcome != ReloadOK || a.Version() != "slow" {
		t.Fatalf("fast commit: %+v\n%s", out, buf)
	}
}

// Every way a config file gets replaced reaches the reloader through the
// directory watch.
func TestWatchTriggersReload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout func(t *testing.T, dir string) string // returns the config path
		write  func(t *testing.T, dir, path, data string)
	}{
		{
			name:   "rename-replace",
			layout: plainLayout,
			write:  func(t *testing.T, _, path, data string) { writeReplace(t, path, data) },
		},
		{
			name:   "truncate and write in place",
			layout: plainLayout,
			write: func(t *testing.T, _, path, data string) {
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:   "configmap ..data symlink swap",
			layout: configMapLayout,
			write: func(t *testing.T, dir, _, data string) {
				swapConfigMap(t, dir, "..2", data)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.layout(t, dir)
			buf := &logBuffer{}
			a := NewAtomic(path, testLogger(buf), testLogger(io.Discard), AtomicOptions{}, 20*time.Millisecond)
			if out := a.Reload("startup"); out.Outcome != ReloadOK {
				t.Fatalf("startup: %+v", out)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := Watch(ctx, path, testLogger(buf), a.Trigger); err != nil {
				t.Fatal(err)
			}
			tc.write(t, dir, path, configYAML("v2", 2, true))
			deadline := time.Now().Add(3 * time.Second)
			for a.Version() != "v2" {
				if time.Now().After(deadline) {
					t.Fatalf("no reload to v2 within 3s; live %q\n%s", a.Version(), buf)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Deleting the file is rejected and the last good config stays.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			deadline = time.Now().Add(3 * time.Second)
			for buf.count(ReloadRejected) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no reload_rejected after deleting the config\n%s", buf)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if a.Version() != "v2" {
				t.Fatalf("after delete: live %q, want v2", a.Version())
			}
		})
	}
}

func plainLayout(t *testing.T, dir string) string {
	path := filepath.Join(dir, "config.yaml")
	writeReplace(t, path, configYAML("v1", 1, false))
	return path
}

// configMapLayout lays out dir the way the kubelet mounts a ConfigMap:
// config.yaml -> ..data/config.yaml, ..data -> ..1 (a timestamped directory).
func configMapLayout(t *testing.T, dir string) string {
	swapConfigMap(t, dir, "..1", configYAML("v1", 1, false))
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), filepath.Join(dir, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "config.yaml")
}

// swapConfigMap writes data into a new timestamped directory and atomically
// repoints ..data at it, as the kubelet's atomic writer does.
func swapConfigMap(t *testing.T, dir, version, data string) {
	if err := os.Mkdir(filepath.Join(dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, version, "config.yaml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}
