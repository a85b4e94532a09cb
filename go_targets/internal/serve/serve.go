// Package serve is the HTTP plumbing every bundled target shares: the JSON-lines
// logger, the listen/serve/graceful-shutdown loop, the X-Config-Version header and
// the fixed /-/config document of targets without a config file.
package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// VersionHeader is set on every response of every bundled target.
const VersionHeader = "X-Config-Version"

// NewLogger returns a JSON-lines logger writing to w. Every line carries time
// (UTC, RFC 3339 with nanoseconds), level, msg and target.
func NewLogger(w io.Writer, level slog.Leveler, target string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
			}
			return a
		},
	})
	return slog.New(h).With("target", target)
}

// NewLowerCaseLogger is NewLogger (at info) with the level in lower case
// (debug, info, warn, error), as many teams' own services write it: greeter
// and hunted stand for those.
func NewLowerCaseLogger(w io.Writer, target string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(strings.ToLower(l.String()))
				}
			}
			return a
		},
	})
	return slog.New(h).With("target", target)
}

// Run listens on addr, logs msg "listening" with the bound address (field addr),
// serves h until ctx is done, then shuts down gracefully within grace.
func Run(ctx context.Context, log *slog.Logger, addr string, h http.Handler, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ctx, log, ln, h, grace)
}

// Serve is Run on a listener the caller has bound already (so a target with
// several listeners can bind them all before serving any); it closes ln.
func Serve(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
	}
	log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutdown", "reason", context.Cause(ctx).Error(), "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// WithVersion sets the X-Config-Version header, as reported by version, on every
// response of h.
func WithVersion(h http.Handler, version func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, version())
		h.ServeHTTP(w, r)
	})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// WriteError writes {"error": msg} with the given status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// ConfigStatus is the /-/config document. configd fills it from its live config;
// targets without a config file serve a fixed one (see StaticConfig).
type ConfigStatus struct {
	Version             string `json:"version"`
	SHA256              string `json:"sha256"`
	LoadedAt            string `json:"loaded_at"`
	LastError           string `json:"last_error"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	BreakerOpen         bool   `json:"breaker_open"`
}

// StaticConfig describes a target configured by flags only: the version is
// fixed, the hash is that of the flag settings, loaded_at is the start time.
func StaticConfig(version string, settings any, started time.Time) ConfigStatus {
	b, _ := json.Marshal(settings)
	sum := sha256.Sum256(b)
	return ConfigStatus{
		Version:  version,
		SHA256:   hex.EncodeToString(sum[:]),
		LoadedAt: started.UTC().Format(time.RFC3339Nano),
	}
}

// Healthz answers 200 "ok" while the process serves HTTP.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}
