package kvd

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestLeaderLoss(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{rpctypes.ErrNoLeader, true},
		{rpctypes.ErrLeaderChanged, true},
		{rpctypes.ErrTimeout, true},
		{rpctypes.ErrTimeoutDueToLeaderFail, true},
		{rpctypes.ErrGRPCNoLeader, true},
		{fmt.Errorf("put: %w", rpctypes.ErrNoLeader), true},
		{status.Error(codes.Unavailable, "connection refused"), true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{rpctypes.ErrCompacted, false},
		{rpctypes.ErrKeyNotFound, false},
		{errors.New("boom"), false},
	} {
		if got := leaderLoss(tc.err); got != tc.want {
			t.Errorf("leaderLoss(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestWatchCache(t *testing.T) {
	c := newWatchCache()
	kv := func(k, v string) *mvccpb.KeyValue { return &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v)} }
	c.replace([]*mvccpb.KeyValue{kv("cache/a", "1"), kv("cache/b", "1")}, 10)
	c.apply([]*clientv3.Event{
		{Type: mvccpb.PUT, Kv: kv("cache/a", "2")},
		{Type: mvccpb.DELETE, Kv: kv("cache/b", "")},
		{Type: mvccpb.PUT, Kv: kv("cache/c", "3")},
	}, 12)
	c.apply(nil, 11) // an older revision never moves the cache back
	for _, tc := range []struct {
		key, value string
		found      bool
	}{
		{"cache/a", "2", true},
		{"cache/b", "", false},
		{"cache/c", "3", true},
	} {
		v, ok, rev := c.get(tc.key)
		if ok != tc.found || string(v) != tc.value || rev != 12 {
			t.Errorf("get(%s) = %q %v rev %d; want %q %v rev 12", tc.key, v, ok, rev, tc.value, tc.found)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	cli := &clientv3.Client{}
	for _, opt := range []Options{
		{Client: cli, Mode: "sloppy", CachePrefix: "p/"},
		{Mode: Isolated, CachePrefix: "p/"},
		{Client: cli, Mode: Isolated},
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
}
