package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/gochaos/gochaos/go_targets/internal/cfgsvc"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run cfgsvc as a subprocess (built once without the race
// detector) on the sample configs, with concrete addresses written in.

var bin string

func TestMain(m *testing.M) {
	proctest.Main(m, "cfgsvc-test-", func(dir string) (err error) {
		bin, err = proctest.Build(".", dir, "cfgsvc")
		return err
	})
}

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// svc is one cfgsvc subprocess and its config file.
type svc struct {
	*proctest.Proc
	path        string
	data        []byte // the bytes written last
	main, admin string // base URLs
}

// start writes configs/cfgsvc.<format> with two free addresses filled in and
// runs cfgsvc on it with the extra flags, waiting for both listeners.
func start(t *testing.T, format string, flags ...string) *svc {
	t.Helper()
	tmpl, err := os.ReadFile("../../configs/cfgsvc." + format)
	if err != nil {
		t.Fatal(err)
	}
	addrs := freeAddrs(t, 2)
	data := bytes.ReplaceAll(tmpl, []byte("{listen.admin}"), []byte(addrs[1]))
	data = bytes.ReplaceAll(data, []byte("{listen}"), []byte(addrs[0]))
	path := filepath.Join(t.TempDir(), "config."+format)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := proctest.Start(bin, append([]string{"--config", path}, flags...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	s := &svc{Proc: p, path: path, data: data, main: "http://" + addrs[0], admin: "http://" + addrs[1]}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proctest.WaitFor(ctx, func() bool { return len(p.LogLines("listening")) == 2 }); err != nil {
		t.Fatalf("want two listening lines: %v\n%s", err, p.Stderr())
	}
	for _, l := range p.LogLines("listening") {
		if want := map[any]string{"main": addrs[0], "admin": addrs[1]}[l["listener"]]; l["addr"] != want {
			t.Fatalf("listening line %v, want listener main on %s or admin on %s", l, addrs[0], addrs[1])
		}
	}
	return s
}

// replace writes data by rename-replace.
func (s *svc) replace(t *testing.T, data []byte) {
	t.Helper()
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		t.Fatal(err)
	}
	s.data = data
}

func (s *svc) edit(t *testing.T, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(s.data, []byte(old)) {
		t.Fatalf("%q is not in the config", old)
	}
	return bytes.Replace(s.data, []byte(old), []byte(new), 1)
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type metrics struct {
	hashes           []string
	successful       float64
	success, failure float64
}

func (s *svc) metrics(t *testing.T) metrics {
	t.Helper()
	_, b := get(t, s.admin+"/metrics")
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, b)
	}
	var m metrics
	for _, x := range fams[cfgsvc.MetricConfigInfo].GetMetric() {
		m.hashes = append(m.hashes, x.GetLabel()[0].GetValue())
	}
	m.successful = fams[cfgsvc.MetricLastReloadSuccessful].GetMetric()[0].GetGauge().GetValue()
	for _, x := range fams[cfgsvc.MetricReloadsTotal].GetMetric() {
		if x.GetLabel()[0].GetValue() == cfgsvc.ResultSuccess {
			m.success = x.GetCounter().GetValue()
		} else {
			m.failure = x.GetCounter().GetValue()
		}
	}
	return m
}

// live checks that hash is live everywhere: the main listener's header,
// /-/config (header and content, against want) and the info metric.
func (s *svc) checkLive(t *testing.T, hash string, want []byte, format string) {
	t.Helper()
	if resp, _ := get(t, s.main+"/"); resp.Header.Get(cfgsvc.HashHeader) != hash {
		t.Fatalf("main %s %s, want %s\n%s", cfgsvc.HashHeader, resp.Header.Get(cfgsvc.HashHeader), hash, s.Stderr())
	}
	resp, body := get(t, s.admin+"/-/config")
	if resp.Header.Get(cfgsvc.HashHeader) != hash {
		t.Fatalf("/-/config %s %s, want %s", cfgsvc.HashHeader, resp.Header.Get(cfgsvc.HashHeader), hash)
	}
	var got cfgsvc.Config
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	wantCfg, err := cfgsvc.Parse(want, format)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, wantCfg) {
		t.Fatalf("/-/config %s, want %+v", body, wantCfg)
	}
	if m := s.metrics(t); !slices.Equal(m.hashes, []string{hash}) {
		t.Fatalf("%s hashes %v, want [%s]", cfgsvc.MetricConfigInfo, m.hashes, hash)
	}
}

func waitLines(t *testing.T, p *proctest.Proc, msg string, n int) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proctest.WaitFor(ctx, func() bool { return len(p.LogLines(msg)) >= n }); err != nil {
		t.Fatalf("want %d %q lines: %v\n%s", n, msg, err, p.Stderr())
	}
	return p.LogLines(msg)
}

func stopCleanly(t *testing.T, p *proctest.Proc) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, exited := p.Wait(5 * time.Second)
	if !exited || code != 0 {
		t.Fatalf("SIGTERM: exited=%v code=%d\n%s", exited, code, p.Stderr())
	}
	if len(p.LogLines("shutdown")) != 2 || len(p.LogLines("stopped")) != 2 {
		t.Fatalf("want a shutdown and a stopped line per listener:\n%s", p.Stderr())
	}
}

// Each format: the sample is served, a SIGHUP reloads (identical bytes count),
// a rename-replace reloads through the poller, an invalid config is rejected
// and the old one stays live, SIGTERM exits 0.
func TestServeAndReload(t *testing.T) {
	for _, tc := range []struct {
		format       string
		greetingEdit [2]string
		invalidEdit  [2]string
		wantErr      string
	}{
		{"json", [2]string{`"hello from cfgsvc"`, `"hi, json"`}, [2]string{`"burst": 8`, `"burst": 0`}, "limits.burst: 0 must be > 0"},
		{"yaml", [2]string{`"hello from cfgsvc"`, `"hi, yaml"`}, [2]string{"status: 418", "status: 1000"}, "routes[2].status: 1000 not in 100..599"},
		{"toml", [2]string{`"hello from cfgsvc"`, `"hi, toml"`}, [2]string{"weight = 3", "weight = -3"}, "backends.primary.weight: -3 must be >= 0"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			s := start(t, tc.format)
			orig := s.data
			h0 := hashOf(orig)
			for path, want := range map[string]struct {
				status int
				body   string
			}{
				"/":           {200, `{"greeting":"hello from cfgsvc"}` + "\n"},
				"/hello":      {200, "hello\n"},
				"/api/status": {200, "all systems go\n"},
				"/teapot":     {418, "short and stout\n"},
				"/nope":       {404, `{"error":"not found"}` + "\n"},
			} {
				if resp, b := get(t, s.main+path); resp.StatusCode != want.status || string(b) != want.body {
					t.Errorf("GET %s: %d %q, want %d %q", path, resp.StatusCode, b, want.status, want.body)
				}
			}
			if resp, _ := get(t, s.admin+"/-/healthz"); resp.StatusCode != 200 {
				t.Fatalf("/-/healthz %d", resp.StatusCode)
			}
			s.checkLive(t, h0, orig, tc.format)
			if m := s.metrics(t); m.successful != 1 || m.success != 0 || m.failure != 0 {
				t.Fatalf("metrics at start %+v", m)
			}

			// SIGHUP with the file unchanged is a reload all the same.
			if err := s.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if l := waitLines(t, s.Proc, cfgsvc.ReloadOK, 1)[0]; l["hash"] != h0 || l["trigger"] != "sighup" {
				t.Fatalf("reload line %v", l)
			}
			if m := s.metrics(t); m.successful != 1 || m.success != 1 || m.failure != 0 {
				t.Fatalf("metrics after SIGHUP %+v", m)
			}

			// A change by rename-replace is picked up by the poller.
			changed := s.edit(t, tc.greetingEdit[0], tc.greetingEdit[1])
			s.replace(t, changed)
			if l := waitLines(t, s.Proc, cfgsvc.ReloadOK, 2)[1]; l["hash"] != hashOf(changed) || l["trigger"] != "poll" {
				t.Fatalf("reload line %v", l)
			}
			s.checkLive(t, hashOf(changed), changed, tc.format)

			// A config that breaks a rule is rejected; the last good one stays.
			bad := s.edit(t, tc.invalidEdit[0], tc.invalidEdit[1])
			s.replace(t, bad)
			l := waitLines(t, s.Proc, cfgsvc.ReloadRejected, 1)[0]
			if l["hash"] != hashOf(bad) || !strings.Contains(l["error"].(string), tc.wantErr) || l["live_hash"] != hashOf(changed) {
				t.Fatalf("rejection line %v, want hash %s and error containing %q", l, hashOf(bad), tc.wantErr)
			}
			s.checkLive(t, hashOf(changed), changed, tc.format)
			if m := s.metrics(t); m.successful != 0 || m.success != 2 || m.failure != 1 {
				t.Fatalf("metrics after the rejection %+v", m)
			}

			// SIGHUP re-reads the bad file: rejected again, nothing changes.
			if err := s.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitLines(t, s.Proc, cfgsvc.ReloadRejected, 2)
			s.checkLive(t, hashOf(changed), changed, tc.format)

			// Back to the original: live again, metrics say so.
			s.replace(t, orig)
			waitLines(t, s.Proc, cfgsvc.ReloadOK, 3)
			s.checkLive(t, h0, orig, tc.format)
			if m := s.metrics(t); m.successful != 1 || m.success != 3 || m.failure != 2 {
				t.Fatalf("metrics at the end %+v", m)
			}
			stopCleanly(t, s.Proc)
		})
	}
}

// The bug switch: a config that parses but breaks a rule goes live and is
// logged and counted as a successful reload; one that does not parse is still
// rejected.
func TestApplyInvalid(t *testing.T) {
	for _, tc := range []struct {
		name      string
		edit      [2]string
		applied   bool
		wantInCfg string
	}{
		{"empty greeting", [2]string{`greeting: "hello from cfgsvc"`, `greeting: ""`}, true, `"greeting":""`},
		{"max_inflight 0", [2]string{"max_inflight: 64", "max_inflight: 0"}, true, `"max_inflight":0`},
		{"duplicate route path", [2]string{"path: /teapot", "path: /hello"}, true, `"status":418`},
		{"unknown key", [2]string{"burst: 8", "burst: 8\n  brust: 9"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, "yaml", "--apply-invalid")
			h0 := hashOf(s.data)
			bad := s.edit(t, tc.edit[0], tc.edit[1])
			s.replace(t, bad)
			if !tc.applied {
				l := waitLines(t, s.Proc, cfgsvc.ReloadRejected, 1)[0]
				if !strings.Contains(l["error"].(string), "field brust not found") {
					t.Fatalf("rejection %v", l)
				}
				if resp, _ := get(t, s.main+"/"); resp.Header.Get(cfgsvc.HashHeader) != h0 {
					t.Fatal("a config that does not parse went live")
				}
				if m := s.metrics(t); m.successful != 0 || m.failure != 1 || !slices.Equal(m.hashes, []string{h0}) {
					t.Fatalf("metrics %+v", m)
				}
				return
			}
			if l := waitLines(t, s.Proc, cfgsvc.ReloadOK, 1)[0]; l["hash"] != hashOf(bad) {
				t.Fatalf("reload line %v", l)
			}
			if n := len(s.LogLines(cfgsvc.ReloadRejected)); n != 0 {
				t.Fatalf("%d rejections:\n%s", n, s.Stderr())
			}
			if resp, _ := get(t, s.main+"/"); resp.Header.Get(cfgsvc.HashHeader) != hashOf(bad) {
				t.Fatalf("the invalid config is not live:\n%s", s.Stderr())
			}
			if _, b := get(t, s.admin+"/-/config"); !strings.Contains(string(b), tc.wantInCfg) {
				t.Fatalf("/-/config %s lacks %s", b, tc.wantInCfg)
			}
			if m := s.metrics(t); m.successful != 1 || m.success != 1 || m.failure != 0 || !slices.Equal(m.hashes, []string{hashOf(bad)}) {
				t.Fatalf("metrics %+v", m)
			}
		})
	}
}

// Startup failures exit 1 with one JSON error line, in both modes.
func TestStartupFailures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sample, err := os.ReadFile("../../configs/cfgsvc.toml")
	if err != nil {
		t.Fatal(err)
	}
	addrs := freeAddrs(t, 2)
	filled := strings.NewReplacer("{listen.admin}", addrs[1], "{listen}", addrs[0]).Replace(string(sample))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name    string
		args    []string
		msg     string
		wantErr string
	}{
		{"no --config", nil, "bad_flag", "--config is required"},
		{"unknown extension", []string{"--config", write("c.conf", filled)}, "bad_flag", "cannot tell the format"},
		{"bad --format", []string{"--config", write("c.toml", filled), "--format", "ini"}, "bad_flag", `"ini": want auto`},
		{"missing file", []string{"--config", filepath.Join(dir, "none.toml")}, "startup_failed", "no such file"},
		{"wrong format forced", []string{"--config", write("c2.toml", filled), "--format", "json"}, "startup_failed", "initial config: json:"},
		{"unknown key", []string{"--config", write("u.toml", filled+"\nextra = 1\n")}, "startup_failed", "unknown key(s): features.extra"},
		{"invalid", []string{"--config", write("i.toml", strings.Replace(filled, "burst = 8", "burst = 0", 1))},
			"startup_failed", "initial config: limits.burst: 0 must be > 0"},
		{"invalid, --apply-invalid", []string{"--config", write("i2.toml", strings.Replace(filled, "burst = 8", "burst = 0", 1)), "--apply-invalid"},
			"startup_failed", "initial config: limits.burst: 0 must be > 0"},
		{"address in use", []string{"--config", write("b.toml", strings.Replace(filled, addrs[0], busy.Addr().String(), 1))},
			"startup_failed", "server.listen: listen tcp " + busy.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("want exit status 1, got %v\n%s", err, stderr.String())
			}
			var found bool
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("not a JSON line: %q", line)
				}
				if m["msg"] == tc.msg && strings.Contains(fmt.Sprint(m["error"]), tc.wantErr) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %q line with an error containing %q:\n%s", tc.msg, tc.wantErr, stderr.String())
			}
		})
	}
}
