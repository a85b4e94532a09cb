package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/gochaos/gochaos/go_targets/chaosagent"
	"github.com/gochaos/gochaos/go_targets/internal/etcdtest"
	"github.com/gochaos/gochaos/go_targets/internal/kvd"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// These tests run a real 3-member etcd cluster (the etcd binary built from the
// pinned go.etcd.io/etcd/server/v3) and kvd both as a subprocess (leaky and
// isolated, built without the race detector) and in-process (isolated, under
// the race detector when the tests run with -race), kill the etcd leader under
// traffic, and compare how each recovers once a new leader is elected.

var kvdBin, etcdBin string

func TestMain(m *testing.M) {
	proctest.Main(m, "kvd-test-", func(dir string) (err error) {
		if kvdBin, err = proctest.Build(".", dir, "kvd"); err != nil {
			return err
		}
		etcdBin, err = etcdtest.Build(dir)
		return err
	})
}

const (
	token = "kvd-test-token"
	// reqTimeout is kvd's --request-timeout here. It is shorter than the
	// leaderless window after the leader dies (at least one election timeout,
	// 500 ms), so requests stalled on a member without a leader fail with
	// "context deadline exceeded": that is the leader-loss error every kvd
	// sees, and what the leaky mode turns into a permanent failure. With a
	// longer timeout an election can complete before any request fails.
	reqTimeout = 300 * time.Millisecond
	// slack is the recovery bound beyond the election: the isolated retries
	// (4 attempts of reqTimeout plus 50+100+200 ms backoff) and some margin.
	slack = 2 * time.Second
)

type sample struct {
	start, end time.Time
	ok         bool
	err        string
}

// driver sends a steady mix of PUT /kv, GET /kv and GET /kv?prefix to one kvd
// and records every request.
type driver struct {
	name, base string
	mu         sync.Mutex
	samples    []sample
	stop       func()
}

func drive(name, base string, workers int) *driver {
	d := &driver{name: name, base: base}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ctx.Err() == nil; i++ {
				var req *http.Request
				switch i % 3 {
				case 0:
					req, _ = http.NewRequest("PUT", fmt.Sprintf("%s/kv/data/w%d-%d", base, w, i%50), strings.NewReader(fmt.Sprint(i)))
				case 1:
					req, _ = http.NewRequest("GET", fmt.Sprintf("%s/kv/data/w%d-%d", base, w, (i-1)%50), nil)
				case 2:
					req, _ = http.NewRequest("GET", base+"/kv?prefix=list/", nil)
				}
				s := sample{start: time.Now()}
				resp, err := c.Do(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					s.ok = resp.StatusCode < 500
					if !s.ok {
						s.err = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
					}
				} else {
					s.err = err.Error()
				}
				s.end = time.Now()
				d.mu.Lock()
				d.samples = append(d.samples, s)
				d.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	d.stop = func() { cancel(); wg.Wait() }
	return d
}

// figures summarises a driver's requests around the fault.
type figures struct {
	failedBefore          int           // requests started before the kill that failed
	maxLatency            time.Duration // slowest request from the kill on
	total, failed         int
	lastFailedStart       time.Time // start of the last request that failed
	afterOK, afterFailed  int       // requests started after election+slack
	firstErr, lastErr     string
	recoveryAfterElection time.Duration
	recovered             bool
}

func (d *driver) figures(killed, elected time.Time) figures {
	d.mu.Lock()
	defer d.mu.Unlock()
	var f figures
	for _, s := range d.samples {
		if s.end.Before(killed) && !s.ok {
			f.failedBefore++
		}
		if s.start.Before(killed.Add(-time.Second)) {
			continue
		}
		if !s.start.Before(killed) && s.end.Sub(s.start) > f.maxLatency {
			f.maxLatency = s.end.Sub(s.start)
		}
		f.total++
		if s.start.After(elected.Add(slack)) {
			if s.ok {
				f.afterOK++
			} else {
				f.afterFailed++
			}
		}
		if !s.ok {
			f.failed++
			if f.firstErr == "" {
				f.firstErr = s.err
			}
			f.lastErr = s.err
			if s.start.After(f.lastFailedStart) {
				f.lastFailedStart = s.start
			}
		}
	}
	f.recovered = f.afterFailed == 0 && f.afterOK > 0
	if f.lastFailedStart.After(elected) {
		f.recoveryAfterElection = f.lastFailedStart.Sub(elected)
	}
	return f
}

func (f figures) String() string {
	s := fmt.Sprintf("%d/%d requests failed from 1s before the kill (slowest after the kill %s); after election+%s: %d ok, %d failed",
		f.failed, f.total, f.maxLatency.Round(time.Millisecond), slack, f.afterOK, f.afterFailed)
	if f.failed > 0 {
		s += fmt.Sprintf("; last failing request started %s after the election; first error %q; last error %q",
			f.recoveryAfterElection.Round(time.Millisecond), trim(f.firstErr), trim(f.lastErr))
	}
	return s
}

func trim(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func goroutines(t *testing.T, base string) int {
	req, _ := http.NewRequest("GET", base+"/-/chaos/runtime", nil)
	req.Header.Set(chaosagent.TokenHeader, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rt chaosagent.Runtime
	if err := json.NewDecoder(resp.Body).Decode(&rt); err != nil {
		t.Fatal(err)
	}
	return int(rt.Goroutines)
}

// roundTrip PUTs and GETs a key through kvd.
func roundTrip(base, key, value string) error {
	req, _ := http.NewRequest("PUT", base+"/kv/"+key, strings.NewReader(value))
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("PUT: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	resp, err = c.Get(base + "/kv/" + key)
	if err != nil {
		return err
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != value {
		return fmt.Errorf("GET: %d %q, want 200 %q", resp.StatusCode, b, value)
	}
	return nil
}

// cacheLag writes key directly to etcd and returns how long kvd's /cached
// took to show it, or false if it did not within limit.
func cacheLag(cli *clientv3.Client, base, key, value string, limit time.Duration) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := cli.Put(ctx, key, value); err != nil {
		return 0, false
	}
	for time.Since(start) < limit {
		resp, err := http.Get(base + "/cached/" + key)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == value {
				return time.Since(start), true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return limit, false
}

type target struct {
	name, mode string
	base       string
	proc       *proctest.Proc // nil for the in-process server
	drv        *driver
	baseG      int
}

func TestIncident3LeaderLoss(t *testing.T) {
	cluster, err := etcdtest.Start(etcdBin, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cli := cluster.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 250 {
		if _, err := cli.Put(ctx, fmt.Sprintf("list/k%03d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := cli.Put(ctx, fmt.Sprintf("cache/k%d", i), "v0"); err != nil {
			t.Fatal(err)
		}
	}
	endpoints := strings.Join(cluster.Endpoints(), ",")

	var targets []*target
	for _, mode := range []string{kvd.Leaky, kvd.Isolated} {
		p, err := proctest.Start(kvdBin, []string{"--listen", "127.0.0.1:0", "--endpoints", endpoints,
			"--ctx-mode", mode, "--request-timeout", reqTimeout.String(), "--cache-prefix", "cache/"},
			[]string{chaosagent.TokenEnv + "=" + token})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		targets = append(targets, &target{name: mode + " (subprocess)", mode: mode, base: p.URL(""), proc: p})
	}
	inproc := startInProcess(t, cluster.Endpoints())
	targets = append(targets, &target{name: "isolated (in-process)", mode: kvd.Isolated, base: inproc})

	for _, tg := range targets {
		if err := roundTrip(tg.base, "probe/before", "1"); err != nil {
			t.Fatalf("%s before the fault: %v", tg.name, err)
		}
		if _, ok := cacheLag(cli, tg.base, "cache/before-"+tg.mode, "1", 3*time.Second); !ok {
			t.Fatalf("%s: /cached not fed before the fault", tg.name)
		}
		tg.drv = drive(tg.name, tg.base, 4)
	}
	time.Sleep(time.Second)
	for _, tg := range targets {
		if tg.proc != nil {
			tg.baseG = goroutines(t, tg.base)
		}
	}

	leader, err := cluster.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cluster.Kill(leader)
	newLeader, err := cluster.WaitLeader(ctx, leader)
	if err != nil {
		t.Fatalf("%v\n%s", err, cluster.Logs())
	}
	elected := time.Now()
	t.Logf("killed leader %s; %s elected leader %s later (election timeout %s)", leader.Name, newLeader.Name,
		elected.Sub(killed).Round(time.Millisecond), etcdtest.ElectionTimeout)

	time.Sleep(slack + 3*time.Second)
	for _, tg := range targets {
		tg.drv.stop()
	}

	for _, tg := range targets {
		f := tg.drv.figures(killed, elected)
		rtErr := roundTrip(tg.base, "probe/after", "2")
		lag, fresh := cacheLag(cli, tg.base, "cache/after-"+strings.Fields(tg.name)[1], "2", 2*time.Second)
		g := ""
		var grew int
		if tg.proc != nil {
			now := goroutines(t, tg.base)
			grew = now - tg.baseG
			g = fmt.Sprintf("; goroutines %d before the fault, %d after (%+d)", tg.baseG, now, grew)
		}
		cache := fmt.Sprintf("/cached stale (a direct etcd write not visible after %s)", lag)
		if fresh {
			cache = fmt.Sprintf("/cached fresh (a direct etcd write visible after %s)", lag.Round(time.Millisecond))
		}
		probe := "PUT+GET /kv ok"
		if rtErr != nil {
			probe = "PUT+GET /kv fails: " + trim(rtErr.Error())
		}
		t.Logf("%s: %s; %s; %s%s", tg.name, f, probe, cache, g)
		if f.failedBefore > 0 {
			t.Errorf("%s: %d requests failed before the fault", tg.name, f.failedBefore)
		}

		switch tg.mode {
		case kvd.Isolated:
			if !f.recovered || f.recoveryAfterElection > slack || rtErr != nil || !fresh {
				t.Errorf("%s did not recover within the election + %s", tg.name, slack)
			}
			if tg.proc != nil && grew > 10 {
				t.Errorf("%s: goroutines grew by %d", tg.name, grew)
			}
		case kvd.Leaky:
			if f.recovered || f.afterOK != 0 || rtErr == nil || !strings.Contains(rtErr.Error(), "context canceled") || fresh {
				t.Errorf("%s recovered; the reproduction no longer reproduces", tg.name)
			}
			if grew < 20 {
				t.Errorf("%s: goroutines grew by only %d; want the map-building leak", tg.name, grew)
			}
		}
	}
}

// startInProcess runs an isolated kvd in this process (so -race covers the
// fixed path) and returns its base URL.
func startInProcess(t *testing.T, endpoints []string) string {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	log := serve.NewLogger(io.Discard, slog.LevelInfo, "kvd")
	svc, err := kvd.New(kvd.Options{Client: cli, Mode: kvd.Isolated, CachePrefix: "cache/",
		RequestTimeout: reqTimeout, Retries: 3, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	srv := httptest.NewServer(kvd.NewServer(svc, serve.StaticConfig(kvd.Version, nil, time.Now()), log))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv.URL
}

func TestEtcdTLSFlags(t *testing.T) {
	for _, tc := range []struct {
		name, ca, cert, key string
		wantTLS             bool
		wantErr             string
	}{
		{name: "none: plain HTTP"},
		{name: "CA only: server verified, no client cert", ca: "testdata-none/ca.crt", wantErr: "etcd TLS"},
		{name: "cert without key", cert: "c.crt", wantErr: "--etcd-cert and --etcd-key go together"},
		{name: "key without cert", key: "c.key", wantErr: "--etcd-cert and --etcd-key go together"},
		{name: "unreadable pair", cert: "missing.crt", key: "missing.key", wantErr: "etcd TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := etcdTLS(tc.ca, tc.cert, tc.key)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || (cfg != nil) != tc.wantTLS {
				t.Fatalf("cfg = %v, err = %v; want TLS %v", cfg, err, tc.wantTLS)
			}
		})
	}
}
