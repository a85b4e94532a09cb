package greeter

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Bug classes (--bug). BugNone is the fixed build.
const (
	BugNone           = "none"
	BugReloadCrash    = "reload-crash"
	BugAcceptInvalid  = "accept-invalid"
	BugLeakGoroutines = "leak-goroutines"
	BugStuckReload    = "stuck-reload"
)

// Observability modes (--observe).
const (
	ObservePrometheus = "prometheus"
	ObservePprof      = "pprof"
	ObserveNone       = "none"
)

// Reload triggers (--reload). SIGHUP reloads in both modes; watch also polls.
const (
	ReloadSIGHUP = "sighup"
	ReloadWatch  = "watch"
)

var (
	Bugs     = []string{BugNone, BugReloadCrash, BugAcceptInvalid, BugLeakGoroutines, BugStuckReload}
	Observes = []string{ObservePrometheus, ObservePprof, ObserveNone}
	Reloads  = []string{ReloadSIGHUP, ReloadWatch}
)

// Log messages of a reload outcome.
const (
	ReloadStarted  = "reload started"
	ReloadOK       = "reload ok"
	ReloadRejected = "reload rejected"
)

// quotaRefreshers is how many refreshQuota goroutines each limiter
// generation runs, staggered over one QuotaTick.
const quotaRefreshers = 3

var (
	// WatchInterval is how often Watch reads the config file.
	WatchInterval = 100 * time.Millisecond
	// QuotaTick is how often each refreshQuota goroutine refills the bucket.
	QuotaTick = 100 * time.Millisecond
)

// Options are the service's settings, as main parses them.
type Options struct {
	ConfigPath   string
	Bug          string // one of Bugs; "" is BugNone
	Observe      string // one of Observes; "" is ObservePrometheus
	ConfigMetric bool   // expose the live config's hash (header, metric, log lines)

	// Where the greeter_ gauges are registered and what /metrics serves;
	// nil means the default registry (so /metrics has the go_ and process_
	// collectors). Tests pass a registry of their own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// snapshot is one live config, immutable once stored: a request reads one
// snapshot for its whole response.
type snapshot struct {
	hash   string
	body   []byte // greeting + "\n"
	routes map[string]bool
	lim    *limiter
}

func newSnapshot(c *Config, hash string, lim *limiter) *snapshot {
	s := &snapshot{hash: hash, body: []byte(c.Greeting + "\n"), routes: map[string]bool{}, lim: lim}
	for _, p := range c.Routes {
		s.routes[p] = true
	}
	return s
}

// Server owns the live config and its limiter: it loads, validates and swaps
// them, and serves HTTP (Handler, AdminHandler).
type Server struct {
	opt    Options
	log    *slog.Logger
	live   atomic.Pointer[snapshot]
	lastOK atomic.Bool // whether the last load or reload was accepted

	mu        sync.Mutex    // serializes loads; guards what follows
	seen      []byte        // the bytes the last load read
	seenErr   bool          // the last load could not read the file
	stopQuota chan struct{} // closes the live generation's refreshQuota goroutines
	handoff   chan struct{} // stuck-reload: where a reload waits for a hand-over nobody makes
	closing   chan struct{} // closed by Close first: a stuck reload gives up, so shutdown is not stuck too
	closeOnce sync.Once
}

// New loads the config at opt.ConfigPath, which must parse and pass Validate
// in every mode, starts its limiter and returns the Server. Call Close when
// done.
func New(opt Options, log *slog.Logger) (*Server, error) {
	if opt.Bug == "" {
		opt.Bug = BugNone
	}
	if opt.Observe == "" {
		opt.Observe = ObservePrometheus
	}
	if !slices.Contains(Bugs, opt.Bug) {
		return nil, fmt.Errorf("unknown bug %q (want one of %v)", opt.Bug, Bugs)
	}
	if !slices.Contains(Observes, opt.Observe) {
		return nil, fmt.Errorf("unknown observe mode %q (want one of %v)", opt.Observe, Observes)
	}
	if opt.Registerer == nil {
		opt.Registerer = prometheus.DefaultRegisterer
	}
	if opt.Gatherer == nil {
		opt.Gatherer = prometheus.DefaultGatherer
	}
	s := &Server{opt: opt, log: log, handoff: make(chan struct{}), closing: make(chan struct{})}

	data, err := os.ReadFile(opt.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opt.Observe == ObservePrometheus && opt.ConfigMetric {
		if err := opt.Registerer.Register(collector(s)); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	lim := newLimiter(c.RateLimit, time.Now())
	s.seen = data
	s.live.Store(newSnapshot(c, Hash(data), lim))
	s.lastOK.Store(true)
	s.startQuota(lim)
	s.log.Info("config loaded", s.hashAttr(Hash(data), "path", opt.ConfigPath)...)
	return s, nil
}

// Close stops the live limiter's refreshQuota goroutines.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopQuota != nil {
		close(s.stopQuota)
		s.stopQuota = nil
	}
}

// Hash is the live config's hash.
func (s *Server) Hash() string { return s.live.Load().hash }

// Reload reads the config file again, parses and validates it and, if it
// passes, makes it live with a new limiter; otherwise the last good config
// stays live. It logs "reload ok" or "reload rejected" and returns the
// rejection. SIGHUP and Watch call it on their own goroutines.
func (s *Server) Reload() error {
	s.log.Info(ReloadStarted)
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.opt.ConfigPath)
	s.seen, s.seenErr = data, err != nil
	if err != nil {
		return s.rejectLocked("", fmt.Errorf("read config: %w", err))
	}
	hash := Hash(data)
	c, err := Parse(data)
	if err != nil {
		return s.rejectLocked(hash, err)
	}
	if err := s.checkReload(c); err != nil {
		return s.rejectLocked(hash, err)
	}
	if s.opt.Bug == BugStuckReload {
		s.awaitHandoff()
	}
	lim := s.limiterFor(c)
	s.live.Store(newSnapshot(c, hash, lim))
	s.lastOK.Store(true)
	s.startQuota(lim)
	s.log.Info(ReloadOK, s.hashAttr(hash)...)
	return nil
}

// checkReload is the validation a reload runs. The fixed build runs every
// rule, as at startup. reload-crash and accept-invalid run the reload path's
// own, looser check, which guards rate_limit against huge values only and
// lets 0 and negative values through to the limiter.
func (s *Server) checkReload(c *Config) error {
	switch s.opt.Bug {
	case BugReloadCrash, BugAcceptInvalid:
		return c.validateLoose()
	}
	return c.Validate()
}

// limiterFor returns the limiter of a config that passed checkReload. The
// fixed build (and every bug but reload-crash) builds a new one.
// reload-crash carries the live limiter over to the new rate, resizing its
// window in place with make([]int64, rate_limit) on the reloading goroutine:
// a negative rate_limit panics there ("makeslice: len out of range") and,
// with no recover on the SIGHUP or watch goroutine, kills the process.
func (s *Server) limiterFor(c *Config) *limiter {
	if s.opt.Bug == BugReloadCrash {
		lim := s.live.Load().lim
		lim.resize(c.RateLimit)
		return lim
	}
	return newLimiter(c.RateLimit, time.Now())
}

// startQuota starts the refreshQuota goroutines of lim's generation and
// retires the previous generation by closing its stop channel. The
// leak-goroutines build drops the previous stop channel without closing it,
// so every accepted reload leaves quotaRefreshers goroutines behind forever.
func (s *Server) startQuota(lim *limiter) {
	stop := make(chan struct{})
	for phase := range quotaRefreshers {
		go s.refreshQuota(lim, phase, stop)
	}
	prev := s.stopQuota
	s.stopQuota = stop
	if prev != nil && s.opt.Bug != BugLeakGoroutines {
		close(prev)
	}
}

// refreshQuota refills lim's bucket every QuotaTick, starting phase thirds of
// a tick late, until stop is closed.
func (s *Server) refreshQuota(lim *limiter, phase int, stop <-chan struct{}) {
	delay := time.NewTimer(QuotaTick * time.Duration(phase) / quotaRefreshers)
	defer delay.Stop()
	select {
	case <-stop:
		return
	case <-delay.C:
	}
	t := time.NewTicker(QuotaTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			lim.refill(now)
		}
	}
}

func (s *Server) rejectLocked(hash string, err error) error {
	s.lastOK.Store(false)
	attrs := s.hashAttr(hash)
	attrs = append(attrs, "error", err.Error())
	s.log.Warn(ReloadRejected, attrs...)
	return err
}

// hashAttr is ("hash", hash) followed by more, or just more when the config
// identity is not exposed (--config-metric=false) or hash is unknown.
func (s *Server) hashAttr(hash string, more ...any) []any {
	if !s.opt.ConfigMetric || hash == "" {
		return more
	}
	return append([]any{"hash", hash}, more...)
}

// Watch reads the config file every WatchInterval until ctx is done and
// reloads when its content differs from what the last load (of any outcome,
// SIGHUP included) read. A file that cannot be read is one rejected reload.
func (s *Server) Watch(ctx context.Context) {
	serve.PollFile(ctx, s.opt.ConfigPath, WatchInterval, func(data []byte, err error) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return (err != nil) != s.seenErr || (err == nil && !bytes.Equal(data, s.seen))
	}, func() { _ = s.Reload() })
}

// awaitHandoff is stuck-reload's bug: the reload waits, holding s.mu, for
// the live generation to hand its limiter state over on s.handoff, but no
// goroutine ever receives there. The reload never finishes, every later
// reload queues behind it, and the old config stays live and served: a stuck
// reload, visible only because the new config never goes live.
func (s *Server) awaitHandoff() {
	select {
	case s.handoff <- struct{}{}:
	case <-s.closing:
	}
}
