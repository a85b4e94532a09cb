package configd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Snapshot is one immutable, validated config, compiled for serving. Nothing in
// it changes after buildSnapshot returns.
type Snapshot struct {
	Version  string
	SHA256   string
	LoadedAt time.Time
	routes   map[string]*route
}

// buildSnapshot is the preload step: parse, validate and compile, touching
// nothing live.
func buildSnapshot(data []byte, access *slog.Logger, now time.Time) (*Snapshot, error) {
	c, err := ParseStrict(data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	digest := Digest(data)
	limiters := newLimiters(c)
	routes := make(map[string]*route, len(c.HTTP.Routes))
	for p, rc := range c.HTTP.Routes {
		routes[p] = compileRoute(p, rc, c, limiters, access)
	}
	return &Snapshot{Version: versionOf(c, digest), SHA256: digest, LoadedAt: now, routes: routes}, nil
}

// commitHook is a test seam: when set, commit calls it before the pointer swap,
// with the commit's deadline in ctx.
var commitHook func(ctx context.Context, next *Snapshot)

// AtomicOptions tunes the atomic strategy.
type AtomicOptions struct {
	BreakerThreshold int           // consecutive rejections that open the breaker (default 3)
	BreakerCooldown  time.Duration // how long an open breaker pauses reloads (default 5s)
	CommitTimeout    time.Duration // a commit slower than this is cancelled (default 200ms)
}

// Atomic is the fixed strategy: preload (parse, validate, build an immutable
// Snapshot) then commit (one atomic pointer swap). A failed preload keeps the
// last good config; after BreakerThreshold consecutive failures reloads pause
// for BreakerCooldown.
type Atomic struct {
	path   string
	log    *slog.Logger
	access *slog.Logger
	opt    AtomicOptions
	live   atomic.Pointer[Snapshot]

	debounce *debouncer

	mu           sync.Mutex // serializes reloads and guards the fields below
	failures     int
	lastErr      string
	breakerUntil time.Time
	pending      bool // a reload was skipped while the breaker was open
}

// NewAtomic returns the atomic strategy for the config at path. Reloads are
// logged to log; access lines of the access_log middleware go to access.
func NewAtomic(path string, log, access *slog.Logger, opt AtomicOptions, debounce time.Duration) *Atomic {
	if opt.BreakerThreshold <= 0 {
		opt.BreakerThreshold = 3
	}
	if opt.BreakerCooldown <= 0 {
		opt.BreakerCooldown = 5 * time.Second
	}
	if opt.CommitTimeout <= 0 {
		opt.CommitTimeout = 200 * time.Millisecond
	}
	a := &Atomic{path: path, log: log, access: access, opt: opt}
	a.debounce = newDebouncer(debounce, func(trigger string) { a.Reload(trigger) })
	return a
}

// Trigger coalesces events arriving within the debounce interval into one reload.
func (a *Atomic) Trigger(trigger string) { a.debounce.fire(trigger) }

// Route implements Reloader.
func (a *Atomic) Route(path string) (*route, bool) {
	s := a.live.Load()
	if s == nil {
		return nil, false
	}
	rt, ok := s.routes[path]
	return rt, ok
}

// Version implements Reloader.
func (a *Atomic) Version() string {
	if s := a.live.Load(); s != nil {
		return s.Version
	}
	return ""
}

// Status implements Reloader.
func (a *Atomic) Status() serve.ConfigStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := serve.ConfigStatus{
		LastError:           a.lastErr,
		ConsecutiveFailures: a.failures,
		BreakerOpen:         time.Now().Before(a.breakerUntil),
	}
	if s := a.live.Load(); s != nil {
		st.Version, st.SHA256 = s.Version, s.SHA256
		st.LoadedAt = s.LoadedAt.UTC().Format(time.RFC3339Nano)
	}
	return st
}

// Reload implements Reloader.
func (a *Atomic) Reload(trigger string) Outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if now.Before(a.breakerUntil) {
		a.pending = true
		out := a.outcomeLocked(ReloadSkipped, "breaker open until "+a.breakerUntil.UTC().Format(time.RFC3339Nano))
		a.log.Warn(ReloadSkipped, "trigger", trigger, "reason", out.Reason, "version", out.Version)
		return out
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		return a.rejectLocked(trigger, fmt.Sprintf("read config: %v", err))
	}
	if cur := a.live.Load(); cur != nil && cur.SHA256 == Digest(data) {
		a.failures = 0
		out := a.outcomeLocked(ReloadOK, "")
		out.Unchanged = true
		a.log.Info(ReloadOK, "trigger", trigger, "version", out.Version, "sha256", out.SHA256, "unchanged", true)
		return out
	}
	next, err := buildSnapshot(data, a.access, now)
	preload := time.Since(now)
	if err != nil {
		return a.rejectLocked(trigger, err.Error())
	}
	commitStart := time.Now()
	if err := a.commit(next); err != nil {
		return a.rejectLocked(trigger, err.Error())
	}
	a.failures = 0
	out := a.outcomeLocked(ReloadOK, "")
	a.log.Info(ReloadOK, "trigger", trigger, "version", out.Version, "sha256", out.SHA256,
		"preload_ms", ms(preload), "commit_ms", ms(time.Since(commitStart)))
	return out
}

// commit makes next live with one pointer swap, unless the commit's deadline
// passes first, in which case nothing is swapped and the old config stays.
func (a *Atomic) commit(next *Snapshot) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.opt.CommitTimeout)
	defer cancel()
	start := time.Now()
	if commitHook != nil {
		commitHook(ctx, next)
	}
	if ctx.Err() != nil || time.Since(start) > a.opt.CommitTimeout {
		return fmt.Errorf("commit of version %s took %s > %s: cancelled, rolled back to the last good config",
			next.Version, time.Since(start).Round(time.Millisecond), a.opt.CommitTimeout)
	}
	a.live.Store(next)
	return nil
}

func (a *Atomic) rejectLocked(trigger, reason string) Outcome {
	now := time.Now()
	a.failures++
	a.lastErr = reason
	if a.failures >= a.opt.BreakerThreshold {
		a.breakerUntil = now.Add(a.opt.BreakerCooldown)
		time.AfterFunc(a.opt.BreakerCooldown, a.breakerElapsed)
	}
	out := a.outcomeLocked(ReloadRejected, reason)
	a.log.Warn(ReloadRejected, "trigger", trigger, "reason", reason, "version", out.Version,
		"consecutive_failures", a.failures)
	if out.BreakerOpen {
		a.log.Warn(BreakerOpen, "consecutive_failures", a.failures, "cooldown", a.opt.BreakerCooldown.String(),
			"until", a.breakerUntil.UTC().Format(time.RFC3339Nano), "version", out.Version)
	}
	return out
}

// breakerElapsed closes the breaker and retries a reload that was skipped
// while it was open.
func (a *Atomic) breakerElapsed() {
	a.mu.Lock()
	if time.Now().Before(a.breakerUntil) { // re-opened since this timer was set
		a.mu.Unlock()
		return
	}
	retry := a.pending
	a.pending = false
	a.log.Info(BreakerClosed, "retry", retry)
	a.mu.Unlock()
	if retry {
		a.Reload("breaker_retry")
	}
}

func (a *Atomic) outcomeLocked(kind, reason string) Outcome {
	out := Outcome{Outcome: kind, Reason: reason, ConsecutiveFailures: a.failures,
		BreakerOpen: time.Now().Before(a.breakerUntil)}
	if s := a.live.Load(); s != nil {
		out.Version, out.SHA256 = s.Version, s.SHA256
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
