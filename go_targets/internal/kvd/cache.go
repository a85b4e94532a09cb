package kvd

import (
	"context"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchCache mirrors one prefix: a snapshot read at revision R, then every
// watch event after R.
type watchCache struct {
	mu       sync.RWMutex
	m        map[string][]byte
	rev      int64
	watching bool
}

func newWatchCache() *watchCache { return &watchCache{m: map[string][]byte{}} }

func (c *watchCache) get(key string) ([]byte, bool, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[key]
	return v, ok, c.rev
}

func (c *watchCache) state() (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev, c.watching
}

func (c *watchCache) replace(kvs []*mvccpb.KeyValue, rev int64) {
	m := make(map[string][]byte, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m, c.rev = m, rev
}

func (c *watchCache) apply(evs []*clientv3.Event, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		switch ev.Type {
		case mvccpb.PUT:
			c.m[string(ev.Kv.Key)] = ev.Kv.Value
		case mvccpb.DELETE:
			delete(c.m, string(ev.Kv.Key))
		}
	}
	if rev > c.rev {
		c.rev = rev
	}
}

func (c *watchCache) setWatching(w bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watching = w
}

// resync loads the prefix into the cache and returns the revision it reflects.
func (s *Service) resync(ctx context.Context) (int64, error) {
	var rev int64
	err := s.call(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, s.opt.CachePrefix, clientv3.WithPrefix())
		if err != nil {
			return err
		}
		s.cache.replace(resp.Kvs, resp.Header.Revision)
		rev = resp.Header.Revision
		return nil
	})
	return rev, err
}

// watchIsolated is the fix: whenever the watch ends (no leader, compaction,
// a lost member), resync and watch again, with backoff, until ctx is done.
func (s *Service) watchIsolated(ctx context.Context) {
	delay := 50 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := s.resync(ctx)
		if err != nil {
			s.log.Warn("cache_resync_failed", "prefix", s.opt.CachePrefix, "error", err.Error())
		} else {
			s.cache.setWatching(true)
			s.log.Info("watch_started", "prefix", s.opt.CachePrefix, "revision", rev)
			delivered, reason := s.consume(clientv3.WithRequireLeader(ctx), rev)
			s.cache.setWatching(false)
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("watch_ended", "prefix", s.opt.CachePrefix, "reason", reason, "restart", true)
			if delivered {
				delay = 50 * time.Millisecond
			}
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, time.Second)
	}
}

// watchLeaky is the incident: the watch runs under the shared session; when
// that is cancelled (or the watch fails) the watcher ends, and nothing ever
// starts it again, so the cache keeps serving what it had.
func (s *Service) watchLeaky() {
	rev, err := s.resync(s.session)
	if err == nil {
		s.cache.setWatching(true)
		s.log.Info("watch_started", "prefix", s.opt.CachePrefix, "revision", rev)
		var reason string
		_, reason = s.consume(s.session, rev)
		s.cache.setWatching(false)
		err = &endedError{reason}
	}
	s.abortSession(err)
	s.log.Warn("watch_ended", "prefix", s.opt.CachePrefix, "reason", err.Error(), "restart", false)
}

type endedError struct{ reason string }

func (e *endedError) Error() string { return "watch ended: " + e.reason }

// consume applies watch events after rev until the watch ends; it reports
// whether any event arrived and why the watch ended.
func (s *Service) consume(ctx context.Context, rev int64) (delivered bool, reason string) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := s.cli.Watch(wctx, s.opt.CachePrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for wr := range wch {
		if err := wr.Err(); err != nil {
			return delivered, err.Error()
		}
		if len(wr.Events) > 0 {
			delivered = true
		}
		s.cache.apply(wr.Events, wr.Header.Revision)
	}
	if err := context.Cause(wctx); err != nil {
		return delivered, "watch channel closed: " + err.Error()
	}
	return delivered, "watch channel closed"
}
