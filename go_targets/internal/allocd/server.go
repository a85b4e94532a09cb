package allocd

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gochaos/gochaos/go_targets/chaosagent"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Version is allocd's fixed X-Config-Version (it has no config file).
const Version = "static"

// Bounds of a /merge request.
const (
	MaxBody = 32 << 20
	MaxSize = 200_000
)

// NewServer returns allocd's HTTP handler.
func NewServer(s *Service, cfg serve.ConfigStatus, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", serve.Healthz)
	mux.HandleFunc("GET /-/readyz", serve.Healthz)
	mux.HandleFunc("GET /-/config", func(w http.ResponseWriter, _ *http.Request) {
		serve.WriteJSON(w, http.StatusOK, cfg)
	})
	mux.HandleFunc("/merge", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			serve.WriteError(w, http.StatusMethodNotAllowed, "/merge answers GET and POST")
			return
		}
		if shed, why := s.Shedding(); shed {
			w.Header().Set("Retry-After", "1")
			serve.WriteError(w, http.StatusServiceUnavailable, why)
			return
		}
		in, key, err := readInput(w, r)
		if err != nil {
			serve.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		var timeout time.Duration
		if ms := r.URL.Query().Get("timeout_ms"); ms != "" {
			n, err := strconv.Atoi(ms)
			if err != nil || n <= 0 {
				serve.WriteError(w, http.StatusBadRequest, "timeout_ms: want a positive integer")
				return
			}
			timeout = time.Duration(n) * time.Millisecond
		}
		res, err := s.Merge(r.Context(), key, in, timeout)
		if err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, ErrTimeout) {
				status = http.StatusGatewayTimeout
			}
			serve.WriteError(w, status, err.Error())
			return
		}
		w.Header().Set("X-Cache", res.Cache)
		serve.WriteJSON(w, http.StatusOK, res)
	})
	chaosagent.Mount(mux, chaosagent.WithLogger(log))
	return serve.WithVersion(mux, func() string { return cfg.Version })
}

// readInput takes ?size=N (a synthesized input; nonce=... makes it uncached)
// or a JSON Input body.
func readInput(w http.ResponseWriter, r *http.Request) (Input, string, error) {
	q := r.URL.Query()
	if sz := q.Get("size"); sz != "" {
		n, err := strconv.Atoi(sz)
		if err != nil || n < 0 || n > MaxSize {
			return Input{}, "", errors.New("size: want an integer in 0..200000")
		}
		return Synthesize(n), "size=" + sz + "&nonce=" + q.Get("nonce"), nil
	}
	if r.Method != http.MethodPost {
		return Input{}, "", errors.New("GET /merge needs ?size=N; or POST a JSON body {\"maps\": [...], \"lists\": [...]}")
	}
	var in Input
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err == nil {
		err = json.Unmarshal(b, &in)
	}
	if err != nil {
		return Input{}, "", errors.New("body: " + err.Error())
	}
	return in, encodeKey(in), nil
}
