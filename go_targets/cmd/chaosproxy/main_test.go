package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run chaosproxy as a subprocess (built once) with a control API
// on 127.0.0.1:0 and links to an echo server in the test process.

var bin string

func TestMain(m *testing.M) {
	proctest.Main(m, "chaosproxy-test-", func(dir string) (err error) {
		bin, err = proctest.Build(".", dir, "chaosproxy")
		return err
	})
}

// proc is a running chaosproxy.
type proc struct {
	cmd     *exec.Cmd
	stderr  *proctest.SyncBuffer
	control string
	done    chan struct{}
}

// start runs chaosproxy with args and waits for its ready line.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{stderr: &proctest.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if lines := logLines(p.stderr.String(), "ready"); len(lines) > 0 {
			p.control, _ = lines[0]["control"].(string)
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("exited before ready: %s", p.stderr)
		default:
		}
	}
	t.Fatalf("no ready line within 10 s: %s", p.stderr)
	return nil
}

// wait waits up to timeout for the exit and returns its code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("still running after %v: %s", timeout, p.stderr)
		return 0
	}
}

func logLines(s, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// api calls the control API and decodes the JSON answer.
func (p *proc) api(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.control+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// echo is a TCP echo server in the test process.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, addr, msg string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write([]byte(msg))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("round trip via %s: %q %v", addr, buf, err)
	}
	return c
}

func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func TestReadyLineAndForwarding(t *testing.T) {
	p := start(t)
	ready := logLines(p.stderr.String(), "ready")[0]
	if ready["level"] != "INFO" || ready["target"] != "chaosproxy" || ready["pid"] != float64(p.cmd.Process.Pid) ||
		!strings.HasPrefix(p.control, "127.0.0.1:") || strings.HasSuffix(p.control, ":0") {
		t.Fatalf("ready line %v", ready)
	}
	status, link := p.api(t, "POST", "/links", fmt.Sprintf(`{"name":"echo","upstream":%q}`, echo(t)))
	if status != 201 {
		t.Fatalf("create: %d %v", status, link)
	}
	listen := link["listen"].(string)
	roundTrip(t, listen, "hello")
	if status, body := p.api(t, "PUT", "/links/echo/fault", `{"kind":"delay","latency_ms":30,"direction":"upstream"}`); status != 200 {
		t.Fatalf("fault: %d %v", status, body)
	}
	start := time.Now()
	roundTrip(t, listen, "slow")
	if took := time.Since(start); took < 30*time.Millisecond || took > 100*time.Millisecond {
		t.Fatalf("round trip with 30 ms upstream delay took %v", took)
	}
	var st map[string]any
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		// A byte count lands once the write returned, maybe after the echo came back.
		if _, st = p.api(t, "GET", "/links/echo/stats", ""); st["bytes_upstream"] == 9.0 || time.Now().After(deadline) {
			break
		}
	}
	if st["connections_accepted"] != 2.0 || st["bytes_upstream"] != 9.0 || st["bytes_downstream"] != 9.0 ||
		st["fault_applied_at_unix_ns"].(float64) <= 0 {
		t.Fatalf("stats %v", st)
	}
	if len(logLines(p.stderr.String(), "fault_applied")) != 1 || len(logLines(p.stderr.String(), "link_created")) != 1 {
		t.Fatalf("log: %s", p.stderr)
	}
}

// TestLinksFromFlags: links named with --link listen before the ready line;
// one that cannot be created stops the start with a startup_failed line.
func TestLinksFromFlags(t *testing.T) {
	upstream := echo(t)
	p := start(t, "--link", "first,tcp,127.0.0.1:0,"+upstream, "--link", "second,udp,127.0.0.1:0,"+upstream)
	_, body := p.api(t, "GET", "/links", "")
	links, _ := body["links"].([]any)
	if len(links) != 2 {
		t.Fatalf("links at ready: %v", body)
	}
	first := links[0].(map[string]any)
	if first["name"] != "first" || first["protocol"] != "tcp" || first["upstream"] != upstream {
		t.Fatalf("first link: %v", first)
	}
	roundTrip(t, first["listen"].(string), "from a flag")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	out, err := exec.Command(bin, "--link", "taken,tcp,"+busy.Addr().String()+","+upstream).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("a link on a busy port: %v, want exit 1: %s", err, out)
	}
	if lines := logLines(string(out), "startup_failed"); len(lines) != 1 ||
		!strings.Contains(fmt.Sprint(lines[0]["error"]), "address already in use") {
		t.Fatalf("want a startup_failed line naming the busy address: %s", out)
	}
	out, err = exec.Command(bin, "--link", "too,few,fields").CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "NAME,PROTOCOL,LISTEN,UPSTREAM") {
		t.Fatalf("a malformed --link: %v, want exit 2 saying the form: %s", err, out)
	}
}

// TestSignalClosesEverything: SIGTERM and SIGINT close every link and
// connection and exit 0; nothing listens afterwards.
func TestSignalClosesEverything(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := start(t)
			_, link := p.api(t, "POST", "/links", fmt.Sprintf(`{"name":"echo","upstream":%q}`, echo(t)))
			_, udp := p.api(t, "POST", "/links", `{"name":"dns","protocol":"udp","upstream":"127.0.0.1:53"}`)
			listen := link["listen"].(string)
			c := roundTrip(t, listen, "hello")
			_ = p.cmd.Process.Signal(sig)
			if code := p.wait(t, 5*time.Second); code != 0 {
				t.Fatalf("exit %d, want 0: %s", code, p.stderr)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("client after exit: %v, want EOF", err)
			}
			if !refused(listen) || !refused(p.control) {
				t.Fatalf("something still listens on %s or %s", listen, p.control)
			}
			if pc, err := net.ListenPacket("udp", udp["listen"].(string)); err != nil {
				t.Fatalf("the udp link's port is still taken: %v", err)
			} else {
				pc.Close()
			}
			stopped := logLines(p.stderr.String(), "stopped")
			if len(stopped) != 1 || stopped[0]["links_closed"] != 2.0 || len(logLines(p.stderr.String(), "shutdown")) != 1 {
				t.Fatalf("log: %s", p.stderr)
			}
		})
	}
}

// TestParentPidGone: the proxy exits by itself once --parent-pid ends.
func TestParentPidGone(t *testing.T) {
	parent := exec.Command("sleep", "60")
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parent.Process.Kill(); _ = parent.Wait() }()
	p := start(t, "--parent-pid", fmt.Sprint(parent.Process.Pid), "--parent-poll", "100ms")
	time.Sleep(300 * time.Millisecond)
	select {
	case <-p.done:
		t.Fatalf("exited while the parent runs: %s", p.stderr)
	default:
	}
	_ = parent.Process.Kill()
	_ = parent.Wait()
	killed := time.Now()
	if code := p.wait(t, 3*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr)
	}
	gone := logLines(p.stderr.String(), "parent_gone")
	if len(gone) != 1 || gone[0]["via"] != "poll" {
		t.Fatalf("log: %s", p.stderr)
	}
	t.Logf("exited %v after --parent-pid was killed (poll 100ms)", time.Since(killed).Round(time.Millisecond))
}

// TestParentDeathSignal: started as a child of a shell that is SIGKILLed, the
// proxy exits on the kernel's parent-death signal (polling is off: 1 h).
func TestParentDeathSignal(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "stderr")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// "; exit" keeps the shell from exec-ing the proxy: it stays the parent.
	sh := exec.Command("sh", "-c", `"$0" --control 127.0.0.1:0 --parent-pid $$ --parent-poll 1h; exit 0`, bin)
	sh.Stderr = logFile
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(logPath)
		if lines := logLines(string(b), "ready"); len(lines) > 0 {
			pid = int(lines[0]["pid"].(float64))
		}
	}
	if pid == 0 {
		_ = sh.Process.Kill()
		_ = sh.Wait()
		t.Fatal("no ready line")
	}
	defer func() { _ = syscall.Kill(pid, syscall.SIGKILL) }() // should it survive
	_ = sh.Process.Kill()
	_ = sh.Wait()
	killed := time.Now()
	for alive(pid) {
		if time.Since(killed) > 3*time.Second {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the proxy (pid %d) outlived its SIGKILLed parent: %s", pid, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	gone := logLines(string(b), "parent_gone")
	if len(gone) != 1 || gone[0]["via"] != "pdeathsig" || len(logLines(string(b), "stopped")) != 1 {
		t.Fatalf("log: %s", b)
	}
	t.Logf("exited %v after its parent shell was SIGKILLed", time.Since(killed).Round(time.Millisecond))
}

func TestStartupFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args      []string
		msg, want string
	}{
		{[]string{"--control", "0.0.0.0:0"}, "bad_flag", "loopback only"},
		{[]string{"--control", "10.1.2.3:9"}, "bad_flag", "loopback only"},
		{[]string{"--control", "nonsense"}, "bad_flag", "want host:port"},
		{[]string{"--control", busy.Addr().String()}, "startup_failed", "address already in use"},
		{[]string{"--parent-pid", "99999999"}, "bad_flag", "no such process"},
		{[]string{"--log-level", "loud"}, "bad_flag", "--log-level"},
	} {
		cmd := exec.Command(bin, tc.args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit 1: %s", tc.args, err, out)
			continue
		}
		lines := logLines(string(out), tc.msg)
		if len(lines) != 1 || !strings.Contains(fmt.Sprint(lines[0]["error"]), tc.want) {
			t.Errorf("%v: want a %s line with %q: %s", tc.args, tc.msg, tc.want, out)
		}
	}
}
