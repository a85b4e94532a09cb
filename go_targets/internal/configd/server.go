package configd

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gochaos/gochaos/go_targets/chaosagent"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// MaxCacheValue bounds a PUT /cache/{key} body.
const MaxCacheValue = 1 << 20

// NewServer returns configd's HTTP handler: the config routes, /cache/{key},
// /-/config, POST /-/reload, the probes and (when enabled) the chaos agent.
// Every response carries X-Config-Version.
func NewServer(rl Reloader, cache Cache, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	mux.HandleFunc("GET /-/readyz", func(w http.ResponseWriter, r *http.Request) {
		if rl.Version() == "" {
			serve.WriteError(w, http.StatusServiceUnavailable, "no config loaded yet")
			return
		}
		serve.Healthz(w, r)
	})
	mux.HandleFunc("GET /-/config", func(w http.ResponseWriter, _ *http.Request) {
		serve.WriteJSON(w, http.StatusOK, rl.Status())
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		out := rl.Reload("http")
		if out.Outcome == ReloadSkipped {
			w.Header().Set("Retry-After", "1")
		}
		serve.WriteJSON(w, out.httpStatus(), out)
	})
	mux.HandleFunc("GET /cache/{key...}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := cache.Get(r.PathValue("key"))
		if !ok {
			serve.WriteError(w, http.StatusNotFound, "no such key")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(v)))
		_, _ = w.Write(v)
	})
	mux.HandleFunc("PUT /cache/{key...}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if key == "" {
			serve.WriteError(w, http.StatusBadRequest, "empty key")
			return
		}
		v, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCacheValue))
		if err != nil {
			serve.WriteError(w, http.StatusRequestEntityTooLarge, "value: "+err.Error())
			return
		}
		if !cache.Set(key, v) {
			serve.WriteError(w, http.StatusInsufficientStorage, "cache full")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rt, ok := rl.Route(r.URL.Path)
		if !ok || rt == nil {
			serve.WriteError(w, http.StatusNotFound, "no route for "+r.URL.Path)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			serve.WriteError(w, http.StatusMethodNotAllowed, "config routes answer GET and HEAD")
			return
		}
		rt.serve(w, r)
	})
	chaosagent.Mount(mux, chaosagent.WithLogger(log))
	return serve.WithVersion(mux, rl.Version)
}

// Options are configd's flags, as main parses them.
type Options struct {
	ConfigPath      string
	ReloadStrategy  string // "atomic" or "unsafe"
	BreakerCooldown time.Duration
	CommitTimeout   time.Duration
	Debounce        time.Duration
}

// Reload strategies (--reload-strategy).
const (
	StrategyAtomic = "atomic"
	StrategyUnsafe = "unsafe"
)

// NewReloader returns the strategy named by opt.ReloadStrategy.
func NewReloader(opt Options, log, access *slog.Logger) (Reloader, bool) {
	switch opt.ReloadStrategy {
	case StrategyAtomic:
		return NewAtomic(opt.ConfigPath, log, access, AtomicOptions{
			BreakerCooldown: opt.BreakerCooldown,
			CommitTimeout:   opt.CommitTimeout,
		}, opt.Debounce), true
	case StrategyUnsafe:
		return NewUnsafe(opt.ConfigPath, log, access), true
	}
	return nil, false
}
