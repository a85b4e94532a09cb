package configd

import (
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// This file is incident 1, kept buggy on purpose (--reload-strategy=unsafe).
// Do not "fix" it: the test suite asserts that it still crashes.
//
// The incident's service applied a new config by mutating its global
// activeConfig in place, without a lock, while request goroutines read the same
// maps. Each file event started its own apply goroutine. The apply rolled the
// change out gradually, one entry per step over rolloutWindow (~300 ms), and a
// structural change threw the tables away (nil) and rebuilt them. A second
// reload less than ~300 ms after the first therefore lands while the first is
// still writing route entries: it writes into a nil map (panic: assignment to
// entry in nil map) or into the same map as the other apply (fatal error:
// concurrent map writes), and request goroutines reading the map meanwhile can
// hit fatal error: concurrent map read and map write.

// rolloutWindow is how long the unsafe apply spreads its per-entry writes over.
// It is a package variable so that sequential unit tests can skip the pacing.
var rolloutWindow = 300 * time.Millisecond

// activeConfig is the incident's global live config. Its maps are read by every
// request and rewritten by applyNewConfig, with no synchronization at all.
type activeConfig struct {
	Routes     map[string]*route
	RateLimits map[string]*rate.Limiter
	Middleware []string
	applied    *appliedConfig
}

type appliedConfig struct {
	cfg    *Config
	digest string
}

// Unsafe is the buggy strategy of incident 1.
type Unsafe struct {
	path   string
	log    *slog.Logger
	access *slog.Logger
	active *activeConfig

	// The version header and the status document are kept consistent with a
	// pointer swap and a mutex: the incident is about the maps, and torn
	// string reads here would only add noise to the crash signatures.
	version atomic.Pointer[string]
	mu      sync.Mutex
	status  serve.ConfigStatus
}

// NewUnsafe returns the incident's reload strategy for the config at path.
func NewUnsafe(path string, log, access *slog.Logger) *Unsafe {
	u := &Unsafe{path: path, log: log, access: access, active: &activeConfig{}}
	empty := ""
	u.version.Store(&empty)
	return u
}

// Trigger starts one apply goroutine per event, with no coalescing, as the
// incident's watcher did.
func (u *Unsafe) Trigger(trigger string) { go u.Reload(trigger) }

// Route reads the live routes map without a lock (the incident's read side).
func (u *Unsafe) Route(path string) (*route, bool) {
	rt, ok := u.active.Routes[path]
	return rt, ok
}

// Version implements Reloader.
func (u *Unsafe) Version() string { return *u.version.Load() }

// Status implements Reloader.
func (u *Unsafe) Status() serve.ConfigStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status
}

// Reload reads, parses (no schema validation) and applies the config in place.
func (u *Unsafe) Reload(trigger string) Outcome {
	data, err := os.ReadFile(u.path)
	if err != nil {
		return u.fail(trigger, "read config: "+err.Error())
	}
	cfg, err := ParseLax(data)
	if err != nil {
		return u.fail(trigger, err.Error())
	}
	digest := Digest(data)
	if prev := u.active.applied; prev != nil && prev.digest == digest {
		out := u.record(ReloadOK, "", versionOf(cfg, digest), digest, false)
		out.Unchanged = true
		u.log.Info(ReloadOK, "trigger", trigger, "version", out.Version, "sha256", digest, "unchanged", true)
		return out
	}
	start := time.Now()
	u.applyNewConfig(cfg, digest)
	out := u.record(ReloadOK, "", versionOf(cfg, digest), digest, true)
	u.log.Info(ReloadOK, "trigger", trigger, "version", out.Version, "sha256", digest, "apply_ms", ms(time.Since(start)))
	return out
}

// applyNewConfig is the incident's apply, unsynchronized by design.
func (u *Unsafe) applyNewConfig(nc *Config, digest string) {
	cfg := u.active // the global, shared with every request goroutine
	prev := cfg.applied
	cfg.applied = &appliedConfig{cfg: nc, digest: digest}
	v := versionOf(nc, digest)
	u.version.Store(&v)

	paths := make([]string, 0, len(nc.HTTP.Routes))
	for p := range nc.HTTP.Routes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	step := rolloutWindow / time.Duration(max(1, len(paths)))
	if prev == nil {
		step = 0 // the first load is not rolled out: nothing is serving yet
	}

	if prev == nil || !sameShape(prev.cfg, nc) {
		// Structural change: throw the tables away and rebuild them. Until the
		// warm-up pass below is done the live maps are nil.
		cfg.Routes = nil
		cfg.RateLimits = nil
		cfg.Middleware = nc.HTTP.Middleware
		limiters := newLimiters(nc)
		warmed := make([]*route, 0, len(paths))
		for _, p := range paths { // warm up each new route, one per rollout step
			warmed = append(warmed, compileRoute(p, nc.HTTP.Routes[p], nc, limiters, u.access))
			pause(step)
		}
		cfg.RateLimits = make(map[string]*rate.Limiter)
		for name, l := range limiters {
			cfg.RateLimits[name] = l
		}
		cfg.Routes = make(map[string]*route)
		for _, rt := range warmed {
			cfg.Routes[rt.path] = rt
		}
		return
	}
	// Value-only change: re-apply every route in place (its compiled form
	// carries the log level), one route per rollout step. cfg.Routes is read
	// again for every entry, so a concurrent structural apply swaps it under
	// this loop.
	for _, p := range paths {
		cfg.Routes[p] = compileRoute(p, nc.HTTP.Routes[p], nc, cfg.RateLimits, u.access)
		pause(step)
	}
}

func pause(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

func (u *Unsafe) fail(trigger, reason string) Outcome {
	out := u.record(ReloadRejected, reason, "", "", false)
	u.log.Warn(ReloadRejected, "trigger", trigger, "reason", reason, "version", out.Version,
		"consecutive_failures", out.ConsecutiveFailures)
	return out
}

func (u *Unsafe) record(kind, reason, version, digest string, loaded bool) Outcome {
	u.mu.Lock()
	defer u.mu.Unlock()
	if kind == ReloadOK {
		u.status.ConsecutiveFailures = 0
		u.status.Version, u.status.SHA256 = version, digest
		if loaded {
			u.status.LoadedAt = time.Now().UTC().Format(time.RFC3339Nano)
		}
	} else {
		u.status.ConsecutiveFailures++
		u.status.LastError = reason
	}
	return Outcome{Outcome: kind, Reason: reason, Version: u.status.Version, SHA256: u.status.SHA256,
		ConsecutiveFailures: u.status.ConsecutiveFailures}
}
