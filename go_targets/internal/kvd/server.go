package kvd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/gochaos/gochaos/go_targets/chaosagent"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Version is kvd's fixed X-Config-Version (it has no config file).
const Version = "static"

// MaxValue bounds a PUT /kv/{key} body.
const MaxValue = 1 << 20

// NewServer returns kvd's HTTP handler.
func NewServer(s *Service, cfg serve.ConfigStatus, log *slog.Logger) http.Handler {
	errLog := &errorLog{log: log, limit: rate.NewLimiter(10, 10)}
	etcdError := errLog.respond
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	mux.HandleFunc("GET /-/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r.Context()); err != nil {
			serve.WriteError(w, http.StatusServiceUnavailable, "etcd: "+err.Error())
			return
		}
		serve.Healthz(w, r)
	})
	mux.HandleFunc("GET /-/config", func(w http.ResponseWriter, _ *http.Request) {
		serve.WriteJSON(w, http.StatusOK, cfg)
	})
	mux.HandleFunc("PUT /kv/{key...}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		v, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValue))
		if err != nil {
			serve.WriteError(w, http.StatusRequestEntityTooLarge, "value: "+err.Error())
			return
		}
		rev, err := s.Put(r.Context(), key, v)
		if err != nil {
			etcdError(w, log, "put", key, err)
			return
		}
		serve.WriteJSON(w, http.StatusOK, map[string]any{"key": key, "revision": rev})
	})
	mux.HandleFunc("GET /kv/{key...}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		v, rev, found, err := s.Get(r.Context(), key)
		if err != nil {
			etcdError(w, log, "get", key, err)
			return
		}
		w.Header().Set("X-Etcd-Revision", strconv.FormatInt(rev, 10))
		if !found {
			serve.WriteError(w, http.StatusNotFound, "no such key")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(v)
	})
	mux.HandleFunc("GET /kv", func(w http.ResponseWriter, r *http.Request) {
		prefix := r.URL.Query().Get("prefix")
		m, rev, err := s.List(r.Context(), prefix)
		if err != nil {
			etcdError(w, log, "list", prefix, err)
			return
		}
		serve.WriteJSON(w, http.StatusOK, map[string]any{"prefix": prefix, "revision": rev, "count": len(m), "items": m})
	})
	mux.HandleFunc("GET /cached/{key...}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !strings.HasPrefix(key, s.opt.CachePrefix) {
			serve.WriteError(w, http.StatusBadRequest, "key is outside the cached prefix "+strconv.Quote(s.opt.CachePrefix))
			return
		}
		v, found, rev := s.Cached(key)
		_, watching := s.CacheState()
		w.Header().Set("X-Cache-Revision", strconv.FormatInt(rev, 10))
		w.Header().Set("X-Cache-Watching", strconv.FormatBool(watching))
		if !found {
			serve.WriteError(w, http.StatusNotFound, "no such key in the cache")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(v)
	})
	chaosagent.Mount(mux, chaosagent.WithLogger(log))
	return serve.WithVersion(mux, func() string { return cfg.Version })
}

// errorLog logs failed etcd calls, at most 10 lines a second; a line reports
// how many were suppressed before it.
type errorLog struct {
	log        *slog.Logger
	limit      *rate.Limiter
	suppressed atomic.Int64
}

// respond answers 503 for a failed etcd call (504 for a timeout), with the
// error text, and logs it.
func (e *errorLog) respond(w http.ResponseWriter, _ *slog.Logger, op, key string, err error) {
	status := http.StatusServiceUnavailable
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	if e.limit.Allow() {
		e.log.Warn("etcd_error", "op", op, "key", key, "error", err.Error(), "status", status,
			"suppressed", e.suppressed.Swap(0))
	} else {
		e.suppressed.Add(1)
	}
	serve.WriteError(w, status, "etcd "+op+": "+err.Error())
}
