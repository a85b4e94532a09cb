// Package chaosagent mounts in-process fault injection for Go services under
// /-/chaos/: GC and memory pressure (ballast, garbage churn, GC percent, memory
// limit, a forced-GC loop), every action bounded by a duration after which it
// reverts by itself, and a runtime/metrics snapshot at /-/chaos/runtime.
//
// It is off unless a token is configured (WithToken, or the CHAOSAGENT_TOKEN
// environment variable); every request must then carry that token in the
// X-Chaos-Token header, or it gets 403. One call mounts it:
//
//	mux := http.NewServeMux()
//	agent := chaosagent.Mount(mux) // nil when disabled
//	defer agent.Close()            // reverts whatever is still active
//
// The request and response documents are described in go_targets/README.md.
package chaosagent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

const (
	// Prefix is where the agent is mounted.
	Prefix = "/-/chaos/"
	// TokenEnv names the environment variable that enables the agent.
	TokenEnv = "CHAOSAGENT_TOKEN"
	// TokenHeader is the request header that must carry the token.
	TokenHeader = "X-Chaos-Token"
	// MaxDuration bounds every action.
	MaxDuration = time.Hour
)

// Option configures an Agent.
type Option func(*Agent)

// WithToken enables the agent with tok, whatever the environment says.
func WithToken(tok string) Option { return func(a *Agent) { a.token = []byte(tok) } }

// WithLogger sets where the agent logs its actions (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// Agent serves the /-/chaos/ endpoints and owns the active actions.
type Agent struct {
	token []byte
	log   *slog.Logger
	mux   *http.ServeMux
	now   func() time.Time

	mu     sync.Mutex
	seq    int
	active map[Kind]*action
}

// New returns an Agent, or nil when no token is configured (the agent is off).
func New(opts ...Option) *Agent {
	a := &Agent{log: slog.Default(), now: time.Now, active: map[Kind]*action{}}
	if tok := os.Getenv(TokenEnv); tok != "" {
		a.token = []byte(tok)
	}
	for _, o := range opts {
		o(a)
	}
	if len(a.token) == 0 {
		return nil
	}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("GET "+Prefix+"runtime", a.handleRuntime)
	a.mux.HandleFunc("GET "+Prefix+"actions", a.handleList)
	a.mux.HandleFunc("POST "+Prefix+"revert", a.handleRevertAll)
	a.mux.HandleFunc("DELETE "+Prefix+"actions/{id}", a.handleRevertOne)
	for _, k := range kinds {
		a.mux.HandleFunc("POST "+Prefix+string(k), a.handleStart(k))
	}
	return a
}

// Mount mounts a new Agent on mux under Prefix and returns it, or returns nil
// and mounts nothing when the agent is off.
func Mount(mux *http.ServeMux, opts ...Option) *Agent {
	a := New(opts...)
	if a == nil {
		return nil
	}
	mux.Handle(Prefix, a)
	a.log.Info("chaosagent_enabled", "prefix", Prefix)
	return a
}

// ServeHTTP checks the token, then routes to the endpoint.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got := []byte(r.Header.Get(TokenHeader))
	if subtle.ConstantTimeCompare(got, a.token) != 1 {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "missing or wrong " + TokenHeader + " header"})
		return
	}
	a.mux.ServeHTTP(w, r)
}

// Close reverts every active action. It is safe on a nil Agent.
func (a *Agent) Close() {
	if a == nil {
		return
	}
	a.revertAll("close")
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *Agent) handleRuntime(w http.ResponseWriter, r *http.Request) {
	s := ReadRuntime()
	s.ActiveActions = a.list()
	if r.URL.Query().Get("creators") == "1" {
		s.Creators = GoroutineCreators()
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *Agent) handleList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Status{"actions": a.list()})
}

func (a *Agent) handleRevertAll(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Status{"reverted": a.revertAll("revert")})
}

func (a *Agent) handleRevertOne(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	var found *action
	for _, act := range a.active {
		if act.status.ID == id {
			found = act
		}
	}
	if found != nil {
		a.stopLocked(found, "revert")
	}
	a.mu.Unlock()
	if found == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no active action %q", id)})
		return
	}
	writeJSON(w, http.StatusOK, map[string][]Status{"reverted": {found.status}})
}

func (a *Agent) handleStart(k Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeRequest(r.Body)
		if err == nil {
			err = req.validate(k)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("%s: %v", k, err)})
			return
		}
		st := a.start(k, req)
		writeJSON(w, http.StatusOK, st)
	}
}

func decodeRequest(body io.Reader) (Request, error) {
	var req Request
	dec := json.NewDecoder(io.LimitReader(body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, errors.New("empty body: a JSON object with at least \"duration\" is required")
		}
		return req, fmt.Errorf("bad JSON body: %v", err)
	}
	return req, nil
}

// Request is the body of every POST /-/chaos/{kind}; which fields apply depends
// on the kind (see the README).
type Request struct {
	// Duration (Go syntax, e.g. "30s") after which the action reverts by itself.
	// Required, at most one hour.
	Duration string `json:"duration"`
	// MB is the ballast size (ballast) or the memory limit (memory-limit), in MiB.
	MB int64 `json:"mb,omitempty"`
	// MBPerSec is the garbage allocation rate of churn, in MiB/s.
	MBPerSec int64 `json:"mb_per_sec,omitempty"`
	// Percent is the GOGC value for gc-percent (-1 turns the GC off).
	Percent *int `json:"percent,omitempty"`
	// Interval between forced GCs for force-gc (Go syntax, default "100ms").
	Interval string `json:"interval,omitempty"`

	duration time.Duration
	interval time.Duration
}

func (r *Request) validate(k Kind) error {
	d, err := time.ParseDuration(r.Duration)
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as \"30s\"", r.Duration)
	}
	if d <= 0 || d > MaxDuration {
		return fmt.Errorf("duration %s: want > 0 and <= %s", d, MaxDuration)
	}
	r.duration = d
	switch k {
	case KindBallast:
		if r.MB <= 0 || r.MB > 1<<16 {
			return fmt.Errorf("mb %d: want 1..65536", r.MB)
		}
	case KindMemoryLimit:
		if r.MB <= 0 || r.MB > 1<<20 {
			return fmt.Errorf("mb %d: want 1..1048576", r.MB)
		}
	case KindChurn:
		if r.MBPerSec <= 0 || r.MBPerSec > 1<<14 {
			return fmt.Errorf("mb_per_sec %d: want 1..16384", r.MBPerSec)
		}
	case KindGCPercent:
		if r.Percent == nil || *r.Percent < -1 {
			return errors.New("percent: required, >= -1 (-1 turns the GC off)")
		}
	case KindForceGC:
		r.interval = 100 * time.Millisecond
		if r.Interval != "" {
			iv, err := time.ParseDuration(r.Interval)
			if err != nil || iv < time.Millisecond {
				return fmt.Errorf("interval %q: want a Go duration >= 1ms", r.Interval)
			}
			r.interval = iv
		}
	}
	return nil
}
