package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/chaosagent"
	"github.com/gochaos/gochaos/go_targets/internal/allocd"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run allocd as a subprocess (built without the race detector)
// with the chaos agent enabled, and drive GC pressure through it.

var bin string

func TestMain(m *testing.M) {
	proctest.Main(m, "allocd-test-", func(dir string) (err error) {
		bin, err = proctest.Build(".", dir, "allocd")
		return err
	})
}

const token = "allocd-test-token"

func chaos(t *testing.T, p *proctest.Proc, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.URL("/-/chaos/"+path), strings.NewReader(body))
	req.Header.Set(chaosagent.TokenHeader, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func runtimeOf(t *testing.T, p *proctest.Proc) chaosagent.Runtime {
	var rt chaosagent.Runtime
	chaos(t, p, "GET", "runtime", "", &rt)
	return rt
}

func start(t *testing.T, args ...string) *proctest.Proc {
	p, err := proctest.Start(bin, append([]string{"--listen", "127.0.0.1:0"}, args...),
		[]string{chaosagent.TokenEnv + "=" + token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Under GC pressure, merges time out; with --leak=goroutines every timed-out
// worker stays blocked forever, with --leak=none they all exit.
func TestIncident4GoroutineLeak(t *testing.T) {
	const requests, clients = 120, 8
	for _, tc := range []struct {
		leak      string
		minLeaked int
		maxLeaked int
	}{
		{allocd.LeakGoroutines, requests * 9 / 10, requests + 10},
		{allocd.LeakNone, -5, 5},
	} {
		t.Run(tc.leak, func(t *testing.T) {
			p := start(t, "--leak", tc.leak)
			before := runtimeOf(t, p)
			chaos(t, p, "POST", "gc-percent", `{"percent":10,"duration":"30s"}`, nil)
			chaos(t, p, "POST", "churn", `{"mb_per_sec":100,"duration":"30s"}`, nil)

			var timeouts, ok atomic.Int64
			var next atomic.Int64
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > requests {
							return
						}
						resp, err := http.Get(p.URL(fmt.Sprintf("/merge?size=2000&nonce=%d&timeout_ms=1", i)))
						if err != nil {
							t.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						switch resp.StatusCode {
						case http.StatusGatewayTimeout:
							timeouts.Add(1)
						case http.StatusOK:
							ok.Add(1)
						default:
							t.Errorf("status %d", resp.StatusCode)
						}
					}
				}()
			}
			wg.Wait()
			during := runtimeOf(t, p)
			chaos(t, p, "POST", "revert", "", nil)

			// Let the timed-out workers finish their merges.
			var after chaosagent.Runtime
			deadline := time.Now().Add(15 * time.Second)
			for {
				time.Sleep(250 * time.Millisecond)
				after = runtimeOf(t, p)
				leaked := int(after.Goroutines) - int(before.Goroutines)
				if leaked <= tc.maxLeaked && (tc.leak == allocd.LeakNone || leaked >= int(timeouts.Load())) ||
					time.Now().After(deadline) {
					break
				}
			}
			leaked := int(after.Goroutines) - int(before.Goroutines)
			t.Logf("leak=%s: %d/%d merges timed out under GC pressure (GOGC=10, churn 100 MiB/s; %d GC cycles, GC pause p99 %.3fms); goroutines %d before, %d after the pressure ended (%+d)",
				tc.leak, timeouts.Load(), requests, during.GCCycles-before.GCCycles, during.GCPauseSeconds.P99*1000,
				before.Goroutines, after.Goroutines, leaked)
			if timeouts.Load() < requests/2 {
				t.Fatalf("only %d/%d merges timed out; the test needs timeouts", timeouts.Load(), requests)
			}
			if leaked < tc.minLeaked || leaked > tc.maxLeaked {
				t.Errorf("leak=%s: %+d goroutines, want %d..%d", tc.leak, leaked, tc.minLeaked, tc.maxLeaked)
			}
			if tc.leak == allocd.LeakGoroutines && leaked < int(timeouts.Load())*9/10 {
				t.Errorf("leak=goroutines: %d goroutines left for %d timeouts", leaked, timeouts.Load())
			}
		})
	}
}

// --shed-over-pct answers 503 + Retry-After while a ballast holds the heap
// over its baseline, and recovers once it is released.
func TestShedOverBaseline(t *testing.T) {
	p := start(t, "--shed-over-pct", "15")
	status := func() (int, string) {
		resp, err := http.Get(p.URL("/merge?size=10"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if code, _ := status(); code != 200 {
		t.Fatalf("before the ballast: %d", code)
	}
	waitStatus := func(want int) (time.Duration, string) {
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			if code, ra := status(); code == want {
				return time.Since(start), ra
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no %d within 5s", want)
		return 0, ""
	}
	chaos(t, p, "POST", "ballast", `{"mb":64,"duration":"30s"}`, nil)
	shedAfter, retryAfter := waitStatus(503)
	if retryAfter != "1" {
		t.Errorf("503 with Retry-After %q, want 1", retryAfter)
	}
	chaos(t, p, "POST", "revert", "", nil)
	recoveredAfter, _ := waitStatus(200)
	t.Logf("shed-over-pct=15: a 64 MiB ballast was shed (503, Retry-After: 1) after %s; after the revert /merge answered 200 again after %s",
		shedAfter.Round(time.Millisecond), recoveredAfter.Round(time.Millisecond))
	if n := len(p.LogLines("shedding_on")); n != 1 {
		t.Errorf("%d shedding_on lines, want 1", n)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, exited := p.Wait(5 * time.Second); !exited || code != 0 {
		t.Fatalf("SIGTERM: exited=%v code=%d", exited, code)
	}
}
