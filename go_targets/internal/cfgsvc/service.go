package cfgsvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Log messages of a reload outcome.
const (
	ReloadOK       = "reload ok"
	ReloadRejected = "reload rejected"
)

// PollInterval is how often Watch stats the config path (a test seam).
var PollInterval = 50 * time.Millisecond

// Snapshot is one loaded config, immutable once live: requests read one
// snapshot for the whole response.
type Snapshot struct {
	Config   *Config
	Hash     string // Digest of the file bytes
	LoadedAt time.Time

	tree   []byte            // the /-/config body
	routes map[string]*Route // by path; the first route of a path wins
}

func newSnapshot(c *Config, hash string, now time.Time) (*Snapshot, error) {
	tree, err := c.tree()
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	s := &Snapshot{Config: c, Hash: hash, LoadedAt: now, tree: append(tree, '\n'), routes: map[string]*Route{}}
	for i := range c.Routes {
		if _, ok := s.routes[c.Routes[i].Path]; !ok {
			s.routes[c.Routes[i].Path] = &c.Routes[i]
		}
	}
	return s, nil
}

// Options are cfgsvc's settings, as main parses them.
type Options struct {
	ConfigPath   string
	Format       string // json, yaml or toml (resolved, not auto)
	ApplyInvalid bool   // the bug: apply a config that fails validation, report success
}

// Service owns the live config: it loads, validates and swaps it, and keeps the
// reload metrics.
type Service struct {
	opt     Options
	log     *slog.Logger
	metrics *Metrics
	live    atomic.Pointer[Snapshot]

	mu      sync.Mutex // serializes loads and guards lastSig
	lastSig fileSig    // the file as the last load (of any outcome) read it
}

// New returns a Service with nothing loaded yet; call Load.
func New(opt Options, log *slog.Logger) *Service {
	return &Service{opt: opt, log: log, metrics: NewMetrics()}
}

// Live is the live snapshot (nil before Load succeeded).
func (s *Service) Live() *Snapshot { return s.live.Load() }

// Metrics is the service's own Prometheus registry and collectors.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Load is the startup load: the config must parse and pass Validate in every
// mode. It sets the metrics (last reload successful, its timestamp, the info
// hash) but is not counted in reloads_total, and logs "config loaded".
func (s *Service) Load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, sig, err := readConfig(s.opt.ConfigPath)
	s.lastSig = sig
	if err != nil {
		return err
	}
	c, err := Parse(data, s.opt.Format)
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	now := time.Now()
	snap, err := newSnapshot(c, Digest(data), now)
	if err != nil {
		return err
	}
	s.live.Store(snap)
	s.metrics.loaded(snap.Hash, now)
	s.log.Info("config loaded", "hash", snap.Hash, "format", s.opt.Format, "path", s.opt.ConfigPath)
	return nil
}

// Outcome is the result of one Reload.
type Outcome struct {
	OK    bool
	Hash  string // the hash of the bytes read ("" if the file could not be read)
	Error string // why it was rejected
}

// Reload reads the file, parses it strictly, validates it (ValidateReload)
// and, if all passed, makes it live with one pointer swap. Identical bytes
// count as a reload like any other. A parse failure is rejected in every mode;
// a validation failure is rejected unless ApplyInvalid, which applies it and
// reports success. The metrics are updated, then one line is logged:
// "reload ok" (hash) or "reload rejected" (hash, error, live_hash).
func (s *Service) Reload(trigger string) Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, sig, err := readConfig(s.opt.ConfigPath)
	s.lastSig = sig
	if err != nil {
		return s.rejectLocked(trigger, "", err)
	}
	hash := Digest(data)
	c, err := Parse(data, s.opt.Format)
	if err != nil {
		return s.rejectLocked(trigger, hash, err)
	}
	var live *Config
	if cur := s.live.Load(); cur != nil {
		live = cur.Config
	}
	if err := ValidateReload(live, c); err != nil && !s.opt.ApplyInvalid {
		return s.rejectLocked(trigger, hash, err)
	}
	now := time.Now()
	snap, err := newSnapshot(c, hash, now)
	if err != nil {
		return s.rejectLocked(trigger, hash, err)
	}
	s.live.Store(snap)
	s.metrics.reloaded(hash, now)
	s.log.Info(ReloadOK, "hash", hash, "trigger", trigger)
	return Outcome{OK: true, Hash: hash}
}

func (s *Service) rejectLocked(trigger, hash string, err error) Outcome {
	s.metrics.rejected()
	live := ""
	if cur := s.live.Load(); cur != nil {
		live = cur.Hash
	}
	s.log.Warn(ReloadRejected, "hash", hash, "error", err.Error(), "trigger", trigger, "live_hash", live)
	return Outcome{Hash: hash, Error: err.Error()}
}

// fileSig identifies a version of the config file by what stat says.
type fileSig struct {
	exists bool
	ino    uint64
	size   int64
	mtime  int64 // ns
}

func sigOf(fi os.FileInfo) fileSig {
	sig := fileSig{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		sig.ino = uint64(st.Ino)
	}
	return sig
}

func statSig(path string) fileSig {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}
	}
	return sigOf(fi)
}

// readConfig reads path and returns its bytes with the signature of the file
// it read (taken from the open file, so a rename in between cannot mix them).
func readConfig(path string) ([]byte, fileSig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileSig{}, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileSig{}, fmt.Errorf("read config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, sigOf(fi), fmt.Errorf("read config: %s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, sigOf(fi), fmt.Errorf("read config: %w", err)
	}
	return data, sigOf(fi), nil
}

// Watch polls the config path every PollInterval until ctx is done. When the
// file's (inode, size, mtime) differs from the one the last load read, and has
// stayed the same for two consecutive polls (so a truncate-then-write in place
// is read once, complete), it reloads with trigger "poll". Rename-replace
// changes the inode, an in-place rewrite the size or mtime; a deleted file is
// one rejected reload, and its reappearance another reload.
func (s *Service) Watch(ctx context.Context) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	var pending *fileSig
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := statSig(s.opt.ConfigPath)
		s.mu.Lock()
		seen := s.lastSig
		s.mu.Unlock()
		switch {
		case cur == seen:
			pending = nil
		case pending != nil && *pending == cur:
			pending = nil
			s.Reload("poll")
		default:
			pending = &cur
		}
	}
}
