// Package allocd is the allocation-heavy service of incident 4: /merge merges
// request-sized maps and slices in a worker goroutine, caches results in a
// sync.Map, and can shed load when the live heap grows over its baseline.
//
// --leak=goroutines reproduces the goroutine pile-up: the worker sends its
// result on an unbuffered channel, so when the request times out first
// (typically under GC pressure) nobody ever receives and the worker blocks
// forever. --leak=none (the fix) gives the channel room for the one result.
package allocd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Leak modes (--leak).
const (
	LeakNone       = "none"
	LeakGoroutines = "goroutines"
)

// Options configure a Service.
type Options struct {
	Leak         string        // LeakNone or LeakGoroutines
	ShedOverPct  int           // shed when heap live exceeds baseline by this many percent; 0 = off
	MergeTimeout time.Duration // bound of one merge (default 1s)
	Log          *slog.Logger
}

// Service merges and caches.
type Service struct {
	opt      Options
	log      *slog.Logger
	cache    sync.Map // digest -> Result
	cached   atomic.Int64
	baseline uint64
	shedding atomic.Bool
	heapNow  atomic.Uint64
	lastGC   time.Time // forced by sample; only Run's goroutine touches it
}

// heapLive reads the live heap as of the last GC. A test seam.
var heapLive = func() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// minBaseline keeps a tiny startup heap from making shedding trigger-happy.
const minBaseline = 4 << 20

// New checks opt, measures the heap baseline (after a GC) and returns a Service.
func New(opt Options) (*Service, error) {
	if opt.Leak != LeakNone && opt.Leak != LeakGoroutines {
		return nil, fmt.Errorf("leak %q: want %s or %s", opt.Leak, LeakNone, LeakGoroutines)
	}
	if opt.ShedOverPct < 0 {
		return nil, fmt.Errorf("shed-over-pct %d: want >= 0 (0 turns shedding off)", opt.ShedOverPct)
	}
	if opt.MergeTimeout <= 0 {
		opt.MergeTimeout = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	runtime.GC()
	s := &Service{opt: opt, log: opt.Log, baseline: max(heapLive(), minBaseline)}
	s.heapNow.Store(heapLive())
	return s, nil
}

// Baseline is the heap live baseline shedding compares against.
func (s *Service) Baseline() uint64 { return s.baseline }

// Run samples the heap every 100 ms and turns shedding on and off, until ctx
// is done. While the heap is over the limit it forces a GC (at most once a
// second) before deciding, so that a heap that shrank is noticed even when
// nothing allocates enough to start a GC by itself.
func (s *Service) Run(ctx context.Context) {
	if s.opt.ShedOverPct == 0 {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *Service) sample() {
	live := heapLive()
	limit := s.baseline + s.baseline*uint64(s.opt.ShedOverPct)/100
	if live > limit && time.Since(s.lastGC) >= time.Second {
		runtime.GC()
		s.lastGC = time.Now()
		live = heapLive()
	}
	s.heapNow.Store(live)
	over := live > limit
	if over == s.shedding.Load() {
		return
	}
	s.shedding.Store(over)
	if over {
		s.log.Warn("shedding_on", "heap_live_bytes", live, "baseline_bytes", s.baseline, "over_pct", s.opt.ShedOverPct)
	} else {
		s.log.Info("shedding_off", "heap_live_bytes", live, "baseline_bytes", s.baseline)
	}
}

// Shedding reports whether requests are being shed, and why.
func (s *Service) Shedding() (bool, string) {
	if !s.shedding.Load() {
		return false, ""
	}
	live := s.heapNow.Load()
	return true, fmt.Sprintf("shedding load: heap live %d MiB is more than %d%% over the %d MiB baseline",
		live>>20, s.opt.ShedOverPct, s.baseline>>20)
}

// Input is a /merge request: maps merged left to right (later keys win) and
// lists concatenated, duplicates dropped.
type Input struct {
	Maps  []map[string]any `json:"maps"`
	Lists [][]any          `json:"lists"`
}

// Synthesize returns an Input of size keys per map and items per list, four of
// each, half overlapping: what GET/POST /merge?size=N merges.
func Synthesize(size int) Input {
	in := Input{}
	for m := range 4 {
		mp := make(map[string]any, size)
		list := make([]any, size)
		for i := range size {
			k := "k" + strconv.Itoa(i+m*size/2)
			mp[k] = map[string]any{"m": m, "i": i, "tag": k}
			list[i] = float64(i + m*size/2)
		}
		in.Maps = append(in.Maps, mp)
		in.Lists = append(in.Lists, list)
	}
	return in
}

// Result summarises a merge.
type Result struct {
	Keys   int    `json:"keys"`
	Items  int    `json:"items"`
	Digest string `json:"digest"`
	Cache  string `json:"cache"` // hit or miss
}

// ErrTimeout is returned when a merge takes longer than its timeout.
var ErrTimeout = errors.New("merge timed out")

// Merge merges in within timeout (the service's MergeTimeout if timeout is 0
// or larger), caching results by the digest of key.
func (s *Service) Merge(ctx context.Context, key string, in Input, timeout time.Duration) (Result, error) {
	if timeout <= 0 || timeout > s.opt.MergeTimeout {
		timeout = s.opt.MergeTimeout
	}
	sum := sha256.Sum256([]byte(key))
	digest := hex.EncodeToString(sum[:])
	if r, ok := s.cache.Load(digest); ok {
		res := r.(Result)
		res.Cache = "hit"
		return res, nil
	}
	var results chan Result
	if s.opt.Leak == LeakGoroutines {
		results = make(chan Result) // the bug: nobody receives after a timeout
	} else {
		results = make(chan Result, 1) // the fix: the worker can always deliver and exit
	}
	go func() {
		results <- merge(in, digest)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case res := <-results:
		if _, loaded := s.cache.LoadOrStore(digest, res); !loaded {
			s.cached.Add(1)
		}
		res.Cache = "miss"
		return res, nil
	case <-t.C:
		return Result{}, fmt.Errorf("%w after %s", ErrTimeout, timeout)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// CachedResults is how many results the cache holds.
func (s *Service) CachedResults() int64 { return s.cached.Load() }

// merge does the allocation-heavy work: copy every map into a fresh one, then
// build a deduplicated list sorted by each item's text form.
func merge(in Input, digest string) Result {
	merged := map[string]any{}
	for _, m := range in.Maps {
		for k, v := range m {
			merged[k] = cloneValue(v)
		}
	}
	type item struct {
		key string
		v   any
	}
	seen := map[string]bool{}
	var list []item
	for _, l := range in.Lists {
		for _, v := range l {
			k := fmt.Sprint(v)
			if !seen[k] {
				seen[k] = true
				list = append(list, item{k, v})
			}
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	return Result{Keys: len(merged), Items: len(list), Digest: digest}
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = cloneValue(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = cloneValue(e)
		}
		return c
	}
	return v
}

// encodeKey renders an input as its cache key.
func encodeKey(in Input) string {
	b, _ := json.Marshal(in)
	return string(b)
}
