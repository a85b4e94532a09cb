package chaosagent

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

const token = "s3cret"

func newTestServer(t *testing.T) (*Agent, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	a := Mount(mux, WithToken(token), WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
	if a == nil {
		t.Fatal("Mount with a token returned nil")
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return a, srv
}

func call(t *testing.T, srv *httptest.Server, method, path, tok, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set(TokenHeader, tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestDisabledWithoutToken(t *testing.T) {
	t.Setenv(TokenEnv, "")
	mux := http.NewServeMux()
	if a := Mount(mux); a != nil {
		t.Fatal("Mount without a token returned an agent")
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if code := call(t, srv, "GET", "/-/chaos/runtime", token, "", nil); code != http.StatusNotFound {
		t.Fatalf("disabled agent answered %d, want 404", code)
	}
	t.Setenv(TokenEnv, "from-env")
	if a := New(); a == nil {
		t.Fatal("New with CHAOSAGENT_TOKEN set returned nil")
	}
}

func TestAuthAndValidation(t *testing.T) {
	_, srv := newTestServer(t)
	for _, tc := range []struct {
		name, method, path, tok, body string
		status                        int
		errPart                       string
	}{
		{"no token", "GET", "/-/chaos/runtime", "", "", 403, "X-Chaos-Token"},
		{"wrong token", "GET", "/-/chaos/runtime", "nope", "", 403, "X-Chaos-Token"},
		{"wrong token on action", "POST", "/-/chaos/ballast", "nope", `{"mb":1,"duration":"1s"}`, 403, "X-Chaos-Token"},
		{"empty body", "POST", "/-/chaos/ballast", token, "", 400, "empty body"},
		{"missing duration", "POST", "/-/chaos/ballast", token, `{"mb":1}`, 400, "duration"},
		{"duration too long", "POST", "/-/chaos/ballast", token, `{"mb":1,"duration":"2h"}`, 400, "<= 1h0m0s"},
		{"unknown field", "POST", "/-/chaos/ballast", token, `{"mb":1,"duration":"1s","gb":1}`, 400, "unknown field"},
		{"zero ballast", "POST", "/-/chaos/ballast", token, `{"mb":0,"duration":"1s"}`, 400, "mb 0"},
		{"churn rate", "POST", "/-/chaos/churn", token, `{"duration":"1s"}`, 400, "mb_per_sec"},
		{"gc percent missing", "POST", "/-/chaos/gc-percent", token, `{"duration":"1s"}`, 400, "percent"},
		{"gc percent too low", "POST", "/-/chaos/gc-percent", token, `{"duration":"1s","percent":-2}`, 400, "percent"},
		{"force-gc interval", "POST", "/-/chaos/force-gc", token, `{"duration":"1s","interval":"1us"}`, 400, "interval"},
		{"unknown kind", "POST", "/-/chaos/oom", token, `{"duration":"1s"}`, 404, ""},
		{"revert unknown id", "DELETE", "/-/chaos/actions/nope", token, "", 404, "no active action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body errorBody
			var out any = &body
			if tc.status == 404 && tc.errPart == "" {
				out = nil
			}
			if code := call(t, srv, tc.method, tc.path, tc.tok, tc.body, out); code != tc.status {
				t.Fatalf("status %d, want %d", code, tc.status)
			}
			if !strings.Contains(body.Error, tc.errPart) {
				t.Fatalf("error %q, want it to mention %q", body.Error, tc.errPart)
			}
		})
	}
}

func TestActionsApplyAndRevert(t *testing.T) {
	_, srv := newTestServer(t)
	gcBefore := debug.SetGCPercent(-1)
	debug.SetGCPercent(gcBefore)
	limitBefore := debug.SetMemoryLimit(-1)

	var before Runtime
	call(t, srv, "GET", "/-/chaos/runtime", token, "", &before)

	for _, tc := range []struct{ path, body string }{
		{"/-/chaos/ballast", `{"mb":64,"duration":"30s"}`},
		{"/-/chaos/churn", `{"mb_per_sec":50,"duration":"30s"}`},
		{"/-/chaos/gc-percent", `{"percent":25,"duration":"30s"}`},
		{"/-/chaos/memory-limit", `{"mb":4096,"duration":"30s"}`},
		{"/-/chaos/force-gc", `{"interval":"20ms","duration":"30s"}`},
	} {
		var st Status
		if code := call(t, srv, "POST", tc.path, token, tc.body, &st); code != 200 || st.ID == "" {
			t.Fatalf("POST %s: %d %+v", tc.path, code, st)
		}
	}
	if got := debug.SetGCPercent(25); got != 25 {
		t.Errorf("GC percent %d, want 25", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 4096<<20 {
		t.Errorf("memory limit %d, want %d", got, 4096<<20)
	}
	time.Sleep(100 * time.Millisecond) // a few forced GCs
	var during Runtime
	call(t, srv, "GET", "/-/chaos/runtime", token, "", &during)
	if len(during.ActiveActions) != 5 {
		t.Errorf("%d active actions, want 5", len(during.ActiveActions))
	}
	if during.HeapLiveBytes < before.HeapLiveBytes+60<<20 {
		t.Errorf("heap live %d with a 64 MiB ballast, before %d", during.HeapLiveBytes, before.HeapLiveBytes)
	}
	if during.GCCyclesForced <= before.GCCyclesForced {
		t.Errorf("forced GC cycles %d, before %d", during.GCCyclesForced, before.GCCyclesForced)
	}
	if during.GCPercent != 25 {
		t.Errorf("runtime gc_percent %d, want 25", during.GCPercent)
	}

	var reverted map[string][]Status
	if code := call(t, srv, "POST", "/-/chaos/revert", token, "", &reverted); code != 200 || len(reverted["reverted"]) != 5 {
		t.Fatalf("revert: %d %v", code, reverted)
	}
	if got := debug.SetGCPercent(gcBefore); got != gcBefore {
		t.Errorf("after revert GC percent %d, want %d", got, gcBefore)
	}
	if got := debug.SetMemoryLimit(-1); got != limitBefore {
		t.Errorf("after revert memory limit %d, want %d", got, limitBefore)
	}
	var list map[string][]Status
	call(t, srv, "GET", "/-/chaos/actions", token, "", &list)
	if len(list["actions"]) != 0 {
		t.Errorf("actions after revert: %v", list)
	}
}

func TestActionExpiresAndReplaces(t *testing.T) {
	_, srv := newTestServer(t)
	gcBefore := debug.SetGCPercent(-1)
	debug.SetGCPercent(gcBefore)

	var first, second Status
	call(t, srv, "POST", "/-/chaos/gc-percent", token, `{"percent":50,"duration":"10s"}`, &first)
	call(t, srv, "POST", "/-/chaos/gc-percent", token, `{"percent":30,"duration":"150ms"}`, &second)
	if first.ID == second.ID || *second.Previous != int64(gcBefore) {
		t.Fatalf("replacement: first %+v second %+v; want a new id restoring %d", first, second, gcBefore)
	}
	var list map[string][]Status
	call(t, srv, "GET", "/-/chaos/actions", token, "", &list)
	if len(list["actions"]) != 1 || list["actions"][0].ID != second.ID {
		t.Fatalf("actions %v, want only %s", list, second.ID)
	}
	time.Sleep(300 * time.Millisecond)
	if got := debug.SetGCPercent(gcBefore); got != gcBefore {
		t.Fatalf("GC percent %d after expiry, want %d", got, gcBefore)
	}
	call(t, srv, "GET", "/-/chaos/actions", token, "", &list)
	if len(list["actions"]) != 0 {
		t.Fatalf("actions after expiry: %v", list)
	}

	var ballast Status
	call(t, srv, "POST", "/-/chaos/ballast", token, `{"mb":8,"duration":"10s"}`, &ballast)
	var one map[string][]Status
	if code := call(t, srv, "DELETE", "/-/chaos/actions/"+ballast.ID, token, "", &one); code != 200 || len(one["reverted"]) != 1 {
		t.Fatalf("DELETE %s: %d %v", ballast.ID, code, one)
	}
}

func TestRuntimeSnapshot(t *testing.T) {
	r := ReadRuntime()
	if r.Goroutines == 0 || r.GOMAXPROCS == 0 || r.HeapGoalBytes == 0 || r.TotalMemoryBytes == 0 {
		t.Fatalf("implausible snapshot %+v", r)
	}
	if r.SchedLatency.Count == 0 || r.SchedLatency.P50 > r.SchedLatency.P99 || r.SchedLatency.P99 > r.SchedLatency.Max {
		t.Fatalf("scheduler latency quantiles %+v", r.SchedLatency)
	}
	if _, err := time.Parse(time.RFC3339Nano, r.Time); err != nil {
		t.Fatal(err)
	}
}

// parkedForTest blocks until release is closed: a goroutine with a known creator.
func parkedForTest(release <-chan struct{}) { <-release }

func TestRuntimeCreatorsNameTheStartingFunction(t *testing.T) {
	_, srv := newTestServer(t)
	release := make(chan struct{})
	defer close(release)
	for i := 0; i < 7; i++ {
		go parkedForTest(release)
	}
	var plain, named Runtime
	call(t, srv, "GET", "/-/chaos/runtime", token, "", &plain)
	if plain.Creators != nil {
		t.Fatalf("creators without ?creators=1: %v", plain.Creators)
	}
	call(t, srv, "GET", "/-/chaos/runtime?creators=1", token, "", &named)
	const fn = "github.com/gochaos/gochaos/go_targets/chaosagent.TestRuntimeCreatorsNameTheStartingFunction"
	if named.Creators[fn] != 7 {
		t.Fatalf("creators[%s] = %d, want 7; all: %v", fn, named.Creators[fn], named.Creators)
	}
}

func TestRuntimeGoroutinesLeaveOutTheRuntimesOwn(t *testing.T) {
	runtime.GC() // the GC's mark workers exist from the first collection on
	all := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}}
	metrics.Read(all)
	own := ReadRuntime().Goroutines
	if withRuntime := all[0].Value.Uint64(); own >= withRuntime {
		t.Fatalf("goroutines %d, with the runtime's own %d: the runtime's were counted", own, withRuntime)
	}
}
