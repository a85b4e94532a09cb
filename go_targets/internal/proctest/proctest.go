// Package proctest runs the bundled targets as subprocesses in tests: it builds
// a main package once (without the race detector, so the runtime's own crash
// reports are what the test sees), starts it, waits for its "listening" log
// line, and reports how it exited and with which crash headline.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GoTool returns the path of the go command.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// Build compiles pkg (a package path, or a directory such as ".") into
// dir/name with the race detector off and returns the binary's path. It runs
// from the current directory, so module-local packages resolve.
// Main is a TestMain body: it gives build a fresh temporary directory to build
// the binaries the tests run as subprocesses, runs the tests, removes the
// directory and exits with the tests' status (or 1 when a build failed).
func Main(m *testing.M, prefix string, build func(dir string) error) {
	dir, err := os.MkdirTemp("", prefix)
	if err == nil {
		err = build(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func Build(pkg, dir, name string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command(GoTool(), "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// Proc is a running target.
type Proc struct {
	Addr string // the address from the "listening" log line

	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	exited time.Time
	err    error
}

// Start runs bin with args (plus env on top of the test's environment, with
// GOTRACEBACK=all) and waits up to 10 s for its "listening" log line.
func Start(bin string, args, env []string) (*Proc, error) {
	p := &Proc{stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(append(os.Environ(), "GOTRACEBACK=all"), env...)
	pr, pw := io.Pipe()
	p.cmd.Stderr = io.MultiWriter(p.stderr, pw)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.exited = time.Now()
		_ = pw.Close()
		close(p.done)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case p.Addr = <-addr:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", bin, p.err, p.Stderr())
	case <-time.After(10 * time.Second):
		p.Kill()
		return nil, fmt.Errorf("%s did not log \"listening\" within 10s\n%s", bin, p.Stderr())
	}
}

// URL returns http://Addr + path.
func (p *Proc) URL(path string) string { return "http://" + p.Addr + path }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitedAt is when the process exit was observed (zero while it runs).
func (p *Proc) ExitedAt() time.Time {
	select {
	case <-p.done:
		return p.exited
	default:
		return time.Time{}
	}
}

// Wait waits up to timeout for the process to exit and returns its exit code
// (-1 if killed by a signal) and whether it exited.
func (p *Proc) Wait(timeout time.Duration) (code int, exited bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills the process (by its own pid) and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM, waits up to 5 s, then kills.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := p.Wait(5 * time.Second); !ok {
		p.Kill()
	}
}

// Stderr is everything the process wrote to stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

var headline = regexp.MustCompile(`(?m)^(panic: .*|fatal error: .*|runtime: out of memory.*|unexpected signal.*|SIGSEGV.*)$`)

// CrashHeadline returns the first Go crash line on stderr (panic:, fatal
// error:, ...), or "" if there is none.
func (p *Proc) CrashHeadline() string { return CrashHeadline(p.Stderr()) }

// CrashHeadline returns the first Go crash line in s, or "".
func CrashHeadline(s string) string {
	m := headline.FindString(s)
	return strings.TrimSuffix(strings.TrimSpace(m), " [recovered]")
}

// LogLines returns the JSON log lines on stderr whose msg is msg.
func (p *Proc) LogLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.Stderr()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor polls cond every 20 ms until it holds or ctx ends.
func WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.New("condition not met before deadline")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SyncBuffer is a bytes.Buffer safe for one writer (a logger) and concurrent
// readers (the test), for capturing a component's log output.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
