package configd

import (
	"fmt"
	"hash/maphash"
	"sync"
)

// Cache is the /cache/{key} store.
type Cache interface {
	Get(key string) ([]byte, bool)
	// Set stores value; it reports false when the cache is full and key is new.
	Set(key string, value []byte) bool
	Len() int
}

// MaxCacheKeys bounds every cache, so unbounded key spaces cannot exhaust memory.
const MaxCacheKeys = 1 << 20

// Cache locking modes (--cache-lock).
const (
	LockNone    = "none"    // incident 2: a plain map, no lock
	LockRWMutex = "rwmutex" // one sync.RWMutex around every access
	LockSharded = "sharded" // 256 shards, each with its own sync.RWMutex
)

// NewCache returns the cache for a --cache-lock mode.
func NewCache(lock string) (Cache, error) {
	switch lock {
	case LockNone:
		return &unlockedCache{m: map[string][]byte{}}, nil
	case LockRWMutex:
		return &rwMutexCache{m: map[string][]byte{}}, nil
	case LockSharded:
		return newShardedCache(), nil
	}
	return nil, fmt.Errorf("cache lock %q: want %s, %s or %s", lock, LockNone, LockRWMutex, LockSharded)
}

// unlockedCache is incident 2, buggy on purpose: c.m[key] = value from many
// request goroutines with no lock. Under concurrent traffic the runtime kills
// the process with "fatal error: concurrent map writes" (or "concurrent map
// read and map write"), which recover() cannot catch.
type unlockedCache struct{ m map[string][]byte }

func (c *unlockedCache) Get(key string) ([]byte, bool) { v, ok := c.m[key]; return v, ok }
func (c *unlockedCache) Len() int                      { return len(c.m) }
func (c *unlockedCache) Set(key string, value []byte) bool {
	if len(c.m) >= MaxCacheKeys {
		if _, ok := c.m[key]; !ok {
			return false
		}
	}
	c.m[key] = value
	return true
}

// rwMutexCache guards every read and write, len included, with one RWMutex.
type rwMutexCache struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (c *rwMutexCache) Get(key string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *rwMutexCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *rwMutexCache) Set(key string, value []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= MaxCacheKeys {
		if _, ok := c.m[key]; !ok {
			return false
		}
	}
	c.m[key] = value
	return true
}

const cacheShards = 256

// shardedCache spreads keys over 256 independently locked maps.
type shardedCache struct {
	seed   maphash.Seed
	shards [cacheShards]rwMutexCache
}

func newShardedCache() *shardedCache {
	c := &shardedCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string][]byte{}
	}
	return c
}

func (c *shardedCache) shard(key string) *rwMutexCache {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

func (c *shardedCache) Get(key string) ([]byte, bool) { return c.shard(key).Get(key) }

func (c *shardedCache) Set(key string, value []byte) bool {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= MaxCacheKeys/cacheShards {
		if _, ok := s.m[key]; !ok {
			return false
		}
	}
	s.m[key] = value
	return true
}

func (c *shardedCache) Len() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].Len()
	}
	return n
}
