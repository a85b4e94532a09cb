package hunted

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Bug classes (--bug). BugNone is the fixed build; each other build has
// exactly one of the bugs and is the fixed build everywhere else.
const (
	BugNone              = "none"
	BugEmptyListIndex    = "empty-list-index"
	BugEmptyStringIndex  = "empty-string-index"
	BugZeroDivision      = "zero-division"
	BugNegativeMake      = "negative-make"
	BugNilMapAfterRemove = "nil-map-after-remove"
	BugSliceShrinkRace   = "slice-shrink-race"
	BugMapRace           = "map-race"
)

// Reload triggers (--reload). SIGHUP reloads in both modes; watch also polls.
const (
	ReloadSIGHUP = "sighup"
	ReloadWatch  = "watch"
)

var (
	Bugs = []string{BugNone, BugEmptyListIndex, BugEmptyStringIndex, BugZeroDivision, BugNegativeMake,
		BugNilMapAfterRemove, BugSliceShrinkRace, BugMapRace}
	Reloads = []string{ReloadSIGHUP, ReloadWatch}
)

// Log messages of a reload outcome.
const (
	ReloadStarted  = "reload started"
	ReloadOK       = "reload ok"
	ReloadRejected = "reload rejected"
)

// ServedByHeader is the header every GET / response carries, "hunted" unless
// the config's headers set it.
const (
	ServedByHeader = "X-Served-By"
	ServedBy       = "hunted"
)

var (
	// WatchInterval is how often Watch reads the config file.
	WatchInterval = 100 * time.Millisecond
	// HealthInterval is how often the health checker starts a pass over the
	// backends (a pass longer than that starts the next one at once).
	HealthInterval = time.Millisecond
	// ProbeDelay stands in for one probe's round trip: the checker never
	// dials a backend, it pauses this long (at least; about 1 ms on Linux)
	// per backend with a weight above 0.
	ProbeDelay = 200 * time.Microsecond
)

// Options are the service's settings, as main parses them.
type Options struct {
	ConfigPath string
	Bug        string // one of Bugs; "" is BugNone

	// Where the hunted_ metrics are registered and what /metrics serves; nil
	// means the default registry (so /metrics also has the go_ and process_
	// collectors). Tests pass a registry of their own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// snapshot is one live config, immutable once stored: a request reads one
// snapshot for its whole response (the map-race build's headers excepted).
type snapshot struct {
	hash         string
	greeting     string // the config's, first letter upper-cased
	workers      int
	perWorkerRPS int // limits.rps / workers
	burst        int
	bufferSize   int
	middleware   []string // never nil
	backends     []Backend
	headers      map[string]string // canonical names, ServedByHeader included; never written
	bufs         *sync.Pool        // of *[]byte response buffers, bufferSize bytes each
	root         http.Handler      // the middleware chain around (*Server).answer
}

// Server owns the live config: it loads, validates and swaps it, runs the
// backend health checker, and serves HTTP (Handler).
type Server struct {
	opt    Options
	log    *slog.Logger
	live   atomic.Pointer[snapshot]
	lastOK atomic.Bool   // whether the last load or reload was accepted
	checks atomic.Uint64 // backend probes made

	mu      sync.Mutex // serializes loads; guards seen, seenErr and, for the writers, what follows
	seen    []byte     // the bytes the last load read
	seenErr bool       // the last load could not read the file

	// State of the two race builds, updated in place by every load with no
	// lock for the readers (the fixed build and the others never touch it):
	backends []Backend         // slice-shrink-race: the health checker's list
	headers  map[string]string // map-race: the headers GET / sets

	stop      chan struct{} // closed by Close: the health checker returns
	checkDone chan struct{} // closed when the health checker has returned
	closeOnce sync.Once
}

// New loads the config at opt.ConfigPath through the same path as Reload (so
// a bug's trigger config crashes a buggy build here too), starts the health
// checker and returns the Server. Call Close when done.
func New(opt Options, log *slog.Logger) (*Server, error) {
	if opt.Bug == "" {
		opt.Bug = BugNone
	}
	if !slices.Contains(Bugs, opt.Bug) {
		return nil, fmt.Errorf("unknown bug %q (want one of %v)", opt.Bug, Bugs)
	}
	if opt.Registerer == nil {
		opt.Registerer = prometheus.DefaultRegisterer
	}
	if opt.Gatherer == nil {
		opt.Gatherer = prometheus.DefaultGatherer
	}
	s := &Server{opt: opt, log: log, headers: map[string]string{}, stop: make(chan struct{}), checkDone: make(chan struct{})}
	data, err := os.ReadFile(opt.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	snap, err := s.build(data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.seen = data
	s.commitLocked(snap)
	s.mu.Unlock()
	s.lastOK.Store(true)
	if err := opt.Registerer.Register(collector(s)); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	go s.checkBackends()
	s.log.Info("config loaded", "hash", snap.hash, "path", opt.ConfigPath)
	return s, nil
}

// Close stops the health checker (waiting at most 2 s for it).
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.stop) })
	select {
	case <-s.checkDone:
	case <-time.After(2 * time.Second):
	}
}

// Hash is the live config's hash.
func (s *Server) Hash() string { return s.live.Load().hash }

// Checks is how many backend probes the health checker has made.
func (s *Server) Checks() uint64 { return s.checks.Load() }

// Reload reads the config file again, parses, validates and builds it and,
// if that succeeds, makes it live; otherwise the last good config stays live.
// It logs "reload started", then "reload ok" or "reload rejected", and
// returns the rejection. SIGHUP and Watch call it on their own goroutines,
// which do not recover: a bug's panic here is the process's crash.
func (s *Server) Reload() error {
	s.log.Info(ReloadStarted)
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.opt.ConfigPath)
	s.seen, s.seenErr = data, err != nil
	if err != nil {
		return s.rejectLocked("", fmt.Errorf("read config: %w", err))
	}
	snap, err := s.build(data)
	if err != nil {
		return s.rejectLocked(Hash(data), err)
	}
	s.commitLocked(snap)
	s.lastOK.Store(true)
	s.log.Info(ReloadOK, "hash", snap.hash)
	return nil
}

func (s *Server) rejectLocked(hash string, err error) error {
	s.lastOK.Store(false)
	attrs := []any{"error", err.Error()}
	if hash != "" {
		attrs = append([]any{"hash", hash}, attrs...)
	}
	s.log.Warn(ReloadRejected, attrs...)
	return err
}

// build parses, validates (with the check of s's build) and compiles a
// config into a snapshot, touching nothing live. Five of the bugs are here,
// each on a line that the fixed build reaches only with a value it has
// checked or handles:
//
//   - empty-string-index: capitalize reads greeting[0];
//   - zero-division: limits.rps / workers, workers 0 let through;
//   - negative-make: make([]byte, buffer_size), a negative size let through;
//   - nil-map-after-remove: the default X-Served-By written into the decoded
//     headers map, nil when the section is missing;
//   - empty-list-index: the middleware chain seeded with middleware[0].
func (s *Server) build(data []byte) (*snapshot, error) {
	c, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := c.validate(s.opt.Bug); err != nil {
		return nil, err
	}
	snap := &snapshot{
		hash:       Hash(data),
		greeting:   s.capitalize(c.Greeting),
		workers:    c.Workers,
		burst:      c.Limits.Burst,
		bufferSize: c.BufferSize,
		middleware: append([]string{}, c.Middleware...),
		backends:   c.Backends, // a new slice per parse: never written after this
	}
	snap.perWorkerRPS = c.Limits.RPS / c.Workers
	snap.bufs = newBufPool(c.BufferSize)
	snap.headers = s.headersOf(c)
	snap.root = s.chain(c.Middleware, http.HandlerFunc(s.answer))
	return snap, nil
}

// capitalize upper-cases the greeting's first letter. The fixed build leaves
// an empty greeting empty; empty-string-index's ASCII fast path reads g[0]
// first: "index out of range [0] with length 0".
func (s *Server) capitalize(g string) string {
	if s.opt.Bug == BugEmptyStringIndex {
		if c := g[0]; 'a' <= c && c <= 'z' {
			return string(rune(c-'a'+'A')) + g[1:]
		}
		return g
	}
	r, n := utf8.DecodeRuneInString(g)
	if n == 0 || r == utf8.RuneError {
		return g
	}
	return string(unicode.ToUpper(r)) + g[n:]
}

// newBufPool returns the pool of response buffers, made with
// make([]byte, size) (and used from length 0). One is made at once, so the
// pool is warm before the config goes live; a negative size panics there
// ("makeslice: len out of range"), which only negative-make lets through.
func newBufPool(size int) *sync.Pool {
	p := &sync.Pool{New: func() any {
		b := make([]byte, size)
		return &b
	}}
	p.Put(p.New())
	return p
}

// headersOf returns the headers GET / sets: the config's, canonicalized, plus
// ServedByHeader unless the config sets it. The fixed build adds the default
// to a map of its own; nil-map-after-remove adds it to the decoded map,
// which is nil when the headers section is missing (or null): "assignment
// to entry in nil map".
func (s *Server) headersOf(c *Config) map[string]string {
	if s.opt.Bug == BugNilMapAfterRemove {
		if !hasHeader(c.Headers, ServedByHeader) {
			c.Headers[strings.ToLower(ServedByHeader)] = ServedBy
		}
	}
	h := make(map[string]string, len(c.Headers)+1)
	for k, v := range c.Headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	if _, ok := h[ServedByHeader]; !ok {
		h[ServedByHeader] = ServedBy
	}
	return h
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// chain wraps h in the named middleware, the first outermost; no middleware
// is h itself. empty-list-index seeds the chain with names[0] and wraps the
// rest inside it, reading names[0] unchecked: "index out of range [0] with
// length 0" for an empty or missing list.
func (s *Server) chain(names []string, h http.Handler) http.Handler {
	if s.opt.Bug == BugEmptyListIndex {
		outer := middlewares[names[0]]
		for i := len(names) - 1; i >= 1; i-- {
			h = middlewares[names[i]](h)
		}
		return outer(h)
	}
	for i := len(names) - 1; i >= 0; i-- {
		h = middlewares[names[i]](h)
	}
	return h
}

// commitLocked makes snap live: one atomic pointer swap. The two race builds
// also update their shared state in place, with no lock for its readers.
func (s *Server) commitLocked(snap *snapshot) {
	s.live.Store(snap)
	switch s.opt.Bug {
	case BugSliceShrinkRace:
		s.setBackendsInPlace(snap.backends)
	case BugMapRace:
		s.setHeadersInPlace(snap.headers)
	}
}

// setBackendsInPlace is slice-shrink-race's update of the health checker's
// list: it reuses the backing array when it is large enough, shrinking (or
// regrowing) s.backends in place and copying the new entries over the old
// ones, while checkBackendsInPlace may be half-way through a pass.
func (s *Server) setBackendsInPlace(next []Backend) {
	if cap(s.backends) < len(next) {
		s.backends = make([]Backend, len(next))
	} else {
		s.backends = s.backends[:len(next)]
	}
	copy(s.backends, next)
}

// setHeadersInPlace is map-race's update of the live headers: it deletes the
// names the new config lacks and writes the others into the one map every
// GET / ranges over, with no lock: "fatal error: concurrent map iteration and
// map write" (or "... read and map write") under load.
func (s *Server) setHeadersInPlace(next map[string]string) {
	for k := range s.headers {
		if _, ok := next[k]; !ok {
			delete(s.headers, k)
		}
	}
	maps.Copy(s.headers, next)
}

// checkBackends is the health checker: every HealthInterval (or at once when
// a pass took longer) one pass probes each backend. The fixed build, and
// every build but slice-shrink-race, iterates over the live snapshot's
// backends, a slice no one writes (copy-on-write: a reload builds a new one
// and swaps the snapshot pointer).
func (s *Server) checkBackends() {
	defer close(s.checkDone)
	t := time.NewTicker(HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.opt.Bug == BugSliceShrinkRace {
			s.checkBackendsInPlace()
			continue
		}
		for _, b := range s.live.Load().backends {
			s.probe(b)
		}
	}
}

// checkBackendsInPlace is slice-shrink-race's pass: it takes the list's
// length once, then reads s.backends[i] afresh for every i while a reload may
// shrink s.backends in place. After a shrink the next i past the new length
// panics ("index out of range [2] with length 2") on the checker's
// goroutine, which has no recover: the process dies.
func (s *Server) checkBackendsInPlace() {
	n := len(s.backends)
	for i := 0; i < n; i++ {
		s.probe(s.backends[i])
	}
}

// probe stands in for one health probe: a backend with weight 0 is drained
// and skipped; any other takes ProbeDelay and is counted.
func (s *Server) probe(b Backend) {
	if b.Weight == 0 {
		return
	}
	select {
	case <-s.stop:
		return
	case <-time.After(ProbeDelay):
	}
	s.checks.Add(1)
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
