package configd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// route is a compiled config route: everything a request needs, computed once
// when the config is applied.
type route struct {
	path      string
	status    int
	body      []byte
	etag      string
	delay     time.Duration
	limiter   *rate.Limiter // nil: not rate limited
	cors      bool
	requestID bool
	accessLog *slog.Logger // nil unless access_log is on and log_level is debug
}

var requestSeq atomic.Uint64

// compileRoute builds the served form of one route. The access-log decision
// depends on the log level, so a log_level change recompiles every route.
func compileRoute(path string, rc RouteConfig, c *Config, limiters map[string]*rate.Limiter, access *slog.Logger) *route {
	status := rc.Status
	if status == 0 {
		status = http.StatusOK
	}
	sum := sha256.Sum256([]byte(rc.Body))
	rt := &route{
		path:      path,
		status:    status,
		body:      []byte(rc.Body),
		etag:      `"` + hex.EncodeToString(sum[:8]) + `"`,
		delay:     rc.Delay,
		cors:      slices.Contains(c.HTTP.Middleware, "cors"),
		requestID: slices.Contains(c.HTTP.Middleware, "request_id"),
	}
	name := rc.RateLimit
	if name == "" {
		name = DefaultRateLimit
	}
	rt.limiter = limiters[name]
	if lvl, _ := parseLevel(c.LogLevel); lvl <= slog.LevelDebug && slices.Contains(c.HTTP.Middleware, "access_log") {
		rt.accessLog = access
	}
	return rt
}

func newLimiters(c *Config) map[string]*rate.Limiter {
	m := make(map[string]*rate.Limiter, len(c.RateLimits))
	for name, perSec := range c.RateLimits {
		m[name] = newLimiter(perSec)
	}
	return m
}

func newLimiter(perSec int64) *rate.Limiter {
	burst := int(min(perSec, 1<<20))
	return rate.NewLimiter(rate.Limit(perSec), max(burst, 1))
}

// serve answers one request with the route, applying its middleware.
func (rt *route) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := w.Header()
	if rt.requestID {
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			id = strconv.FormatUint(requestSeq.Add(1), 16)
		}
		h.Set("X-Request-Id", id)
	}
	if rt.cors {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	status := rt.status
	defer func() {
		if rt.accessLog != nil {
			rt.accessLog.Debug("access", "method", r.Method, "path", r.URL.Path, "status", status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000)
		}
	}()
	if rt.limiter != nil && !rt.limiter.Allow() {
		status = http.StatusTooManyRequests
		h.Set("Retry-After", "1")
		http.Error(w, "rate limited", status)
		return
	}
	if rt.delay > 0 {
		t := time.NewTimer(rt.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h.Set("ETag", rt.etag)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(rt.body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rt.body)
	}
}

func (rt *route) String() string { return fmt.Sprintf("%s -> %d", rt.path, rt.status) }
