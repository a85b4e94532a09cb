package hunted

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// HashHeader carries the live config's hash on every response.
const HashHeader = "X-Config-Hash"

// MiddlewareHeader lists, one value per middleware, the middleware a GET /
// went through, outermost first.
const MiddlewareHeader = "X-Middleware"

// maxPooledBuffer bounds the response buffers put back in a pool.
const maxPooledBuffer = 1 << 20

type snapshotKey struct{}

// Handler serves GET /-/healthz (200 "ok"), GET /metrics (Prometheus, from
// Options.Gatherer), GET or HEAD / (see answer; 405 for other methods) and 404
// for anything else. Every response carries X-Config-Hash.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(s.opt.Registerer,
		promhttp.HandlerFor(s.opt.Gatherer, promhttp.HandlerOpts{})))
	mux.HandleFunc("/", s.serveRoot)
	return s.withSnapshot(mux)
}

// withSnapshot reads the live snapshot once per request: X-Config-Hash names
// it and GET / answers from it.
func (s *Server) withSnapshot(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := s.live.Load()
		w.Header().Set(HashHeader, snap.hash)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), snapshotKey{}, snap)))
	})
}

func (s *Server) snapshotOf(r *http.Request) *snapshot {
	if snap, ok := r.Context().Value(snapshotKey{}).(*snapshot); ok {
		return snap
	}
	return s.live.Load()
}

func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	s.snapshotOf(r).root.ServeHTTP(w, r)
}

// Body is what GET / answers (application/json), built from the live config.
type Body struct {
	Greeting     string            `json:"greeting"` // first letter upper-cased
	Hash         string            `json:"hash"`
	Workers      int               `json:"workers"`
	PerWorkerRPS int               `json:"per_worker_rps"` // limits.rps / workers
	Burst        int               `json:"burst"`
	BufferSize   int               `json:"buffer_size"`
	Middleware   []string          `json:"middleware"`
	Backends     []string          `json:"backends"` // names
	Headers      map[string]string `json:"headers"`  // what the response carries from the config, X-Served-By included
	ServedBy     string            `json:"served_by"`
}

// answer is the innermost handler of GET /: it sets the config's headers and
// writes Body, encoded into a buffer from the snapshot's pool. The map-race
// build ranges over the shared map Reload writes in place instead of the
// snapshot's own.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshotOf(r)
	headers := snap.headers
	if s.opt.Bug == BugMapRace {
		headers = s.headers
	}
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	body := Body{
		Greeting: snap.greeting, Hash: snap.hash, Workers: snap.workers, PerWorkerRPS: snap.perWorkerRPS,
		Burst: snap.burst, BufferSize: snap.bufferSize, Middleware: snap.middleware,
		Backends: make([]string, 0, len(snap.backends)), Headers: headers, ServedBy: headers[ServedByHeader],
	}
	for _, b := range snap.backends {
		body.Backends = append(body.Backends, b.Name)
	}
	bp := snap.bufs.Get().(*[]byte)
	buf := bytes.NewBuffer((*bp)[:0])
	_ = json.NewEncoder(buf).Encode(body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
	if buf.Cap() <= maxPooledBuffer {
		*bp = buf.Bytes()[:0]
		snap.bufs.Put(bp)
	}
}

var requestIDs atomic.Uint64

// middlewares by name: each adds its name to X-Middleware and, except
// logging, one header of its own. None refuses a request (auth admits
// everyone as anonymous).
var middlewares = map[string]func(http.Handler) http.Handler{
	"logging":    tag("logging", nil),
	"auth":       tag("auth", func(h http.Header) { h.Set("X-Auth-User", "anonymous") }),
	"cors":       tag("cors", func(h http.Header) { h.Set("Access-Control-Allow-Origin", "*") }),
	"request-id": tag("request-id", func(h http.Header) { h.Set("X-Request-Id", strconv.FormatUint(requestIDs.Add(1), 10)) }),
}

func tag(name string, set func(http.Header)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add(MiddlewareHeader, name)
			if set != nil {
				set(w.Header())
			}
			next.ServeHTTP(w, r)
		})
	}
}
