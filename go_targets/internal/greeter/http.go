package greeter

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// HashHeader carries the live config's hash on every response when
// Options.ConfigMetric is set.
const HashHeader = "X-Config-Hash"

type snapshotKey struct{}

// Handler is the main listener's handler: GET /-/healthz (200 "ok"), GET or
// HEAD on each configured route (200 with the greeting and a newline, 429
// when the limiter denies, 405 for other methods), 404 for anything else.
// With admin it also serves the admin routes (see AdminHandler): that is the
// case when there is no --admin-listen.
func (s *Server) Handler(admin bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	if admin {
		s.mountAdmin(mux)
	}
	mux.HandleFunc("/", s.serveRoute)
	return s.withSnapshot(mux)
}

// AdminHandler is the --admin-listen listener's handler: GET /-/healthz and,
// by Options.Observe, GET /metrics (prometheus) or /debug/pprof/ (pprof);
// anything else 404.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	s.mountAdmin(mux)
	mux.HandleFunc("/", http.NotFound)
	return s.withSnapshot(mux)
}

func (s *Server) mountAdmin(mux *http.ServeMux) {
	switch s.opt.Observe {
	case ObservePrometheus:
		mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(s.opt.Registerer,
			promhttp.HandlerFor(s.opt.Gatherer, promhttp.HandlerOpts{})))
	case ObservePprof:
		mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: goroutine, heap, ...
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
}

// withSnapshot reads the live snapshot once per request: the route handler
// answers from it and, with ConfigMetric, X-Config-Hash names it.
func (s *Server) withSnapshot(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := s.live.Load()
		if s.opt.ConfigMetric {
			w.Header().Set(HashHeader, snap.hash)
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), snapshotKey{}, snap)))
	})
}

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request) {
	snap, ok := r.Context().Value(snapshotKey{}).(*snapshot)
	if !ok {
		snap = s.live.Load()
	}
	if !snap.routes[r.URL.Path] {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if !snap.lim.allow(time.Now()) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(snap.body)
}
