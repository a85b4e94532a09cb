// Package kvd is the etcd-backed service of incident 3: key/value reads and
// writes through go.etcd.io/etcd/client/v3 with WithRequireLeader, a map built
// from a prefix range, and a watch-fed cache of one prefix.
//
// The context mode is the switch. "isolated" (the fix) gives every etcd call
// its own leader-required context with a timeout, retries leader-loss errors
// with backoff, builds maps without any etcd context, and re-establishes the
// cache watch whenever it ends. "leaky" (the incident) keeps one cancellable
// leader-required context for the life of the process, shares it between
// requests, the map-building path and the cache watcher, and cancels it on the
// first leader-loss error; after that every call fails with "context
// canceled", the cache is never updated again and map-building goroutines pile
// up, long after a new leader is elected.
package kvd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Context modes (--ctx-mode).
const (
	Isolated = "isolated"
	Leaky    = "leaky"
)

// Options configure a Service.
type Options struct {
	Client         *clientv3.Client
	Mode           string        // Isolated or Leaky
	CachePrefix    string        // the prefix the watch-fed cache mirrors
	RequestTimeout time.Duration // bound of one etcd call (default 2s)
	Retries        int           // isolated: extra attempts after a leader-loss error (default 3)
	Log            *slog.Logger
}

// Service owns the etcd client usage of kvd.
type Service struct {
	opt   Options
	cli   *clientv3.Client
	log   *slog.Logger
	cache *watchCache

	// Leaky mode only: the leader-required context that outlives every request.
	session    context.Context
	endSession context.CancelCauseFunc
	ended      sync.Once
}

// New checks opt and returns a Service; call Run to start the cache watcher.
func New(opt Options) (*Service, error) {
	if opt.Mode != Isolated && opt.Mode != Leaky {
		return nil, fmt.Errorf("ctx mode %q: want %s or %s", opt.Mode, Isolated, Leaky)
	}
	if opt.Client == nil {
		return nil, errors.New("kvd: nil etcd client")
	}
	if opt.CachePrefix == "" {
		return nil, errors.New("kvd: empty cache prefix: the cache must mirror a prefix")
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = 2 * time.Second
	}
	if opt.Retries < 0 {
		opt.Retries = 0
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	s := &Service{opt: opt, cli: opt.Client, log: opt.Log, cache: newWatchCache()}
	if opt.Mode == Leaky {
		s.session, s.endSession = context.WithCancelCause(clientv3.WithRequireLeader(context.Background()))
	}
	return s, nil
}

// Run keeps the cache of CachePrefix fed from an etcd watch until ctx is done.
func (s *Service) Run(ctx context.Context) {
	if s.opt.Mode == Leaky {
		go func() { <-ctx.Done(); s.endSession(context.Cause(ctx)) }()
		s.watchLeaky()
		return
	}
	s.watchIsolated(ctx)
}

// call runs one etcd operation under the mode's context discipline.
func (s *Service) call(ctx context.Context, op func(ctx context.Context) error) error {
	if s.opt.Mode == Leaky {
		// The incident: the shared session context, and on a leader-loss
		// error "fail fast" by cancelling it, which cancels everything that
		// shares it, for good.
		cctx, cancel := context.WithTimeout(s.session, s.opt.RequestTimeout)
		defer cancel()
		err := op(cctx)
		if err != nil && leaderLoss(err) {
			s.abortSession(err)
		}
		return err
	}
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), s.opt.RequestTimeout)
		err := op(cctx)
		cancel()
		if err == nil || !leaderLoss(err) || attempt >= s.opt.Retries || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return err
		}
		delay = min(2*delay, time.Second)
	}
}

func (s *Service) abortSession(cause error) {
	s.ended.Do(func() {
		s.log.Warn("session_cancelled", "cause", cause.Error())
		s.endSession(fmt.Errorf("leader lost: %w", cause))
	})
}

// leaderLoss reports whether err is the kind a leader loss or change produces
// (no leader, leader changed, request timed out, unavailable member).
func leaderLoss(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable || ee.Code() == codes.DeadlineExceeded
	}
	if st, ok := status.FromError(err); ok {
		return st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded
	}
	return false
}

// Put writes key.
func (s *Service) Put(ctx context.Context, key string, value []byte) (rev int64, err error) {
	err = s.call(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Put(ctx, key, string(value))
		if err == nil {
			rev = resp.Header.Revision
		}
		return err
	})
	return rev, err
}

// Get reads key; found is false when it does not exist.
func (s *Service) Get(ctx context.Context, key string) (value []byte, rev int64, found bool, err error) {
	err = s.call(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, key)
		if err != nil {
			return err
		}
		rev = resp.Header.Revision
		if len(resp.Kvs) > 0 {
			value, found = resp.Kvs[0].Value, true
		}
		return nil
	})
	return value, rev, found, err
}

// listPageSize is how many keys one range request of List fetches.
const listPageSize = 100

// List builds a map of every key under prefix, fetched page by page by a
// producer goroutine and assembled by the caller.
func (s *Service) List(ctx context.Context, prefix string) (map[string]string, int64, error) {
	pages := make(chan page)
	if s.opt.Mode == Leaky {
		// The incident: the producer sends unconditionally and the consumer
		// gives up when the shared session ends; the producer then blocks on
		// its send forever. Once the session is cancelled, every call leaks one.
		go func() {
			defer close(pages)
			s.rangePages(s.session, prefix, func(p page) bool { pages <- p; return true })
		}()
		return collect(s.session, pages)
	}
	// The fix: the etcd calls take a request-scoped context, the producer's
	// sends give up with it and it always closes the channel, and the
	// in-memory map building depends on no etcd context at all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(pages)
		s.rangePages(ctx, prefix, func(p page) bool {
			select {
			case pages <- p:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	return collect(context.Background(), pages)
}

type page struct {
	kvs  []*mvccpb.KeyValue
	rev  int64
	last bool
	err  error
}

// rangePages reads prefix in pages at one revision and hands them to send
// until send returns false, the last page is sent or a call fails.
func (s *Service) rangePages(ctx context.Context, prefix string, send func(page) bool) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	key, rev := prefix, int64(0)
	for {
		var resp *clientv3.GetResponse
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPageSize)}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			resp, err = s.cli.Get(ctx, key, opts...)
			return err
		})
		if err != nil {
			send(page{err: err})
			return
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		last := !resp.More || len(resp.Kvs) == 0
		if !send(page{kvs: resp.Kvs, rev: rev, last: last}) || last {
			return
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// collect assembles pages into a map until the last page, an error, or ctx ends.
func collect(ctx context.Context, pages <-chan page) (map[string]string, int64, error) {
	m := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return nil, 0, context.Cause(ctx)
		case p, ok := <-pages:
			if !ok {
				return nil, 0, errors.New("range ended before its last page")
			}
			if p.err != nil {
				return nil, 0, p.err
			}
			for _, kv := range p.kvs {
				m[string(kv.Key)] = string(kv.Value)
			}
			if p.last {
				return m, p.rev, nil
			}
		}
	}
}

// Cached returns key from the watch-fed cache and the revision the cache
// reflects.
func (s *Service) Cached(key string) (value []byte, found bool, rev int64) {
	return s.cache.get(key)
}

// CacheState reports the cache's revision and whether its watch is running.
func (s *Service) CacheState() (rev int64, watching bool) { return s.cache.state() }

// Ready checks that etcd answers a leader-required read.
func (s *Service) Ready(ctx context.Context) error {
	_, _, _, err := s.Get(ctx, s.opt.CachePrefix)
	return err
}
