package cfgsvc

import (
	"io"
	"net/http"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// HashHeader carries the live config hash on every response of both listeners.
const HashHeader = "X-Config-Hash"

// NewServer returns the main listener's handler: GET / answers
// {"greeting": ...}, GET <path> of each configured route its status and body
// (a route at / takes precedence over the greeting), anything else 404. Each
// request reads one snapshot, whose hash is the X-Config-Hash header.
func NewServer(svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := svc.Live()
		if snap == nil {
			serve.WriteError(w, http.StatusServiceUnavailable, "no config loaded")
			return
		}
		w.Header().Set(HashHeader, snap.Hash)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			serve.WriteError(w, http.StatusNotFound, "not found")
			return
		}
		if rt, ok := snap.routes[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(rt.Status)
			_, _ = io.WriteString(w, rt.Body)
			return
		}
		if r.URL.Path == "/" {
			serve.WriteJSON(w, http.StatusOK, map[string]string{"greeting": snap.Config.Greeting})
			return
		}
		serve.WriteError(w, http.StatusNotFound, "not found")
	})
}

// NewAdminServer returns the admin listener's handler: GET /-/healthz, GET
// /metrics (the service's own registry) and GET /-/config (the live config
// tree as JSON); anything else 404. Responses carry X-Config-Hash too.
func NewAdminServer(svc *Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	mux.Handle("GET /metrics", svc.Metrics().Handler())
	mux.HandleFunc("GET /-/config", func(w http.ResponseWriter, _ *http.Request) {
		snap := svc.Live()
		if snap == nil {
			serve.WriteError(w, http.StatusServiceUnavailable, "no config loaded")
			return
		}
		w.Header().Set(HashHeader, snap.Hash)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(snap.tree)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		serve.WriteError(w, http.StatusNotFound, "not found")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if snap := svc.Live(); snap != nil {
			w.Header().Set(HashHeader, snap.Hash)
		}
		mux.ServeHTTP(w, r)
	})
}
