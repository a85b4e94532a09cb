// Package etcdtest runs a real etcd cluster for tests: the etcd binary built
// from the go.etcd.io/etcd/server/v3 module pinned in go.mod, one process per
// member on loopback ports, with fast elections.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// Election timing of every member.
const (
	HeartbeatInterval = 50 * time.Millisecond
	ElectionTimeout   = 500 * time.Millisecond
)

// Build compiles the etcd server into dir and returns the binary's path.
func Build(dir string) (string, error) {
	return proctest.Build("go.etcd.io/etcd/server/v3", dir, "etcd")
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	dataDir   string
	logPath   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Endpoint is the member's client address (host:port).
func (m *Member) Endpoint() string { return strings.TrimPrefix(m.ClientURL, "http://") }

// Running reports whether the member's process is alive.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Cluster is a set of members started together.
type Cluster struct {
	Members []*Member
	bin     string
	cli     *clientv3.Client
}

// Start launches an n-member cluster with data under dir and waits until it
// has a leader and accepts a write.
func Start(bin, dir string, n int) (*Cluster, error) {
	c := &Cluster{bin: bin}
	var initial []string
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d.etcd", i)),
			logPath:   filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	for _, m := range c.Members {
		if err := c.startMember(m, strings.Join(initial, ",")); err != nil {
			c.Close()
			return nil, err
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	c.cli = cli
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Put(pctx, "etcdtest/ready", "1")
		pcancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			c.Close()
			return nil, fmt.Errorf("etcd cluster not ready within 20s: %v\n%s", err, c.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) startMember(m *Member, initial string) error {
	logf, err := os.Create(m.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin,
		"--name", m.Name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", initial,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "etcdtest",
		"--heartbeat-interval", fmt.Sprint(HeartbeatInterval.Milliseconds()),
		"--election-timeout", fmt.Sprint(ElectionTimeout.Milliseconds()),
		"--unsafe-no-fsync",
		"--log-level", "warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start etcd %s: %w", m.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	return nil
}

// Client is a client of the whole cluster, owned by the Cluster.
func (c *Cluster) Client() *clientv3.Client { return c.cli }

// Endpoints lists every member's client address.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.Endpoint()
	}
	return eps
}

// Leader returns the member that running members agree is the leader.
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	ids := map[uint64]*Member{}
	var leader uint64
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		st, err := c.cli.Status(sctx, m.Endpoint())
		cancel()
		if err != nil {
			continue
		}
		ids[st.Header.MemberId] = m
		if st.Leader == 0 {
			return nil, fmt.Errorf("%s has no leader", m.Name)
		}
		if leader != 0 && st.Leader != leader {
			return nil, errors.New("members disagree on the leader")
		}
		leader = st.Leader
	}
	if m := ids[leader]; m != nil && leader != 0 {
		return m, nil
	}
	return nil, errors.New("no running member is the leader")
}

// WaitLeader polls until a running member other than not is the leader, and
// returns it.
func (c *Cluster) WaitLeader(ctx context.Context, not *Member) (*Member, error) {
	for {
		if m, err := c.Leader(ctx); err == nil && m != not {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no new leader: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Kill kills a member's process (SIGKILL, by its own pid) and waits for it.
func (c *Cluster) Kill(m *Member) {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Close kills every member and closes the client.
func (c *Cluster) Close() {
	if c.cli != nil {
		_ = c.cli.Close()
	}
	for _, m := range c.Members {
		c.Kill(m)
	}
}

// Logs returns every member's log, for failure messages.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, m := range c.Members {
		data, _ := os.ReadFile(m.logPath)
		fmt.Fprintf(&b, "--- %s ---\n%s\n", m.Name, data)
	}
	return b.String()
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
