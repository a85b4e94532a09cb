// Command chaosproxy is gochaos's userspace network-fault proxy: one process
// serves many links (a TCP or UDP listen address forwarded to one upstream
// host:port) and injects faults on them per direction — delay with jitter,
// loss, blackhole, reset, bandwidth, and a partition that cuts the
// connections of named processes (found through /proc) — through an HTTP+JSON
// control API on a loopback address, with no root. It times each link's
// turnaround itself (a read from a client to the next write back to it). It logs JSON lines on stderr; the line
// {"msg":"ready","control":"127.0.0.1:NNNN",...} says the control API is
// listening. Links given with --link (repeatable) exist before that line: a
// sidecar in a pod is started with its links, so the service beside it finds
// them listening from its first dial. SIGTERM or SIGINT (or, with --parent-pid, that process ending)
// closes every link and connection and exits 0. See go_targets/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/netfault"
)

var (
	control     = flag.String("control", "127.0.0.1:0", "control API address: a loopback host:port (port 0 = pick one)")
	parentPid   = flag.Int("parent-pid", 0, "exit when the process with this pid is gone (0 = never); when it is this process's parent, also ask the kernel for a signal when it dies (PR_SET_PDEATHSIG)")
	parentPoll  = flag.Duration("parent-poll", 250*time.Millisecond, "how often --parent-pid is checked")
	dialTimeout = flag.Duration("dial-timeout", netfault.DefaultDialTimeout, "TCP upstream connect timeout")
	logLevel    = flag.String("log-level", "info", "debug, info, warn or error")
	startLinks  linkFlags
)

func init() {
	flag.Var(&startLinks, "link", "a link created at startup, before the ready line: NAME,PROTOCOL,LISTEN,UPSTREAM (e.g. etcd-client.kvd.m0,tcp,127.0.0.1:15001,etcd-0.etcd:2379); repeatable")
}

// linkFlags collects --link values as link specs.
type linkFlags []netfault.LinkSpec

func (l *linkFlags) String() string { return fmt.Sprint(len(*l), " links") }

// Set parses NAME,PROTOCOL,LISTEN,UPSTREAM (the proxy checks each field when it creates the link).
func (l *linkFlags) Set(value string) error {
	parts := strings.Split(value, ",")
	if len(parts) != 4 {
		return fmt.Errorf("want NAME,PROTOCOL,LISTEN,UPSTREAM (4 fields), got %d in %q", len(parts), value)
	}
	*l = append(*l, netfault.LinkSpec{Name: parts[0], Protocol: parts[1], Listen: parts[2], Upstream: parts[3]})
	return nil
}

// shutdownGrace bounds the control API's graceful shutdown.
const shutdownGrace = 2 * time.Second

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	var level slog.Level
	levelErr := level.UnmarshalText([]byte(*logLevel))
	log := newLogger(os.Stderr, level)
	badFlag := func(name, msg string) int {
		log.Error("bad_flag", "flag", name, "error", msg)
		return 1
	}
	switch {
	case levelErr != nil:
		return badFlag("log-level", fmt.Sprintf("--log-level %q: want debug, info, warn or error", *logLevel))
	case checkLoopback(*control) != nil:
		return badFlag("control", fmt.Sprintf("--control %q: %v", *control, checkLoopback(*control)))
	case *parentPid < 0:
		return badFlag("parent-pid", fmt.Sprintf("--parent-pid %d: want a pid, or 0 for none", *parentPid))
	case *parentPoll <= 0:
		return badFlag("parent-poll", fmt.Sprintf("--parent-poll %v: want > 0", *parentPoll))
	case *dialTimeout <= 0:
		return badFlag("dial-timeout", fmt.Sprintf("--dial-timeout %v: want > 0", *dialTimeout))
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		select {
		case s := <-sigs:
			cancel(fmt.Errorf("signal %v", s))
		case <-ctx.Done():
		}
	}()
	if *parentPid != 0 {
		if err := watchParent(ctx, cancel, log, *parentPid, *parentPoll); err != nil {
			return badFlag("parent-pid", err.Error())
		}
	}

	ln, err := net.Listen("tcp", *control)
	if err != nil {
		log.Error("startup_failed", "error", "--control: "+err.Error())
		return 1
	}
	proxy := netfault.New(netfault.Options{Log: log, DialTimeout: *dialTimeout})
	for _, spec := range startLinks {
		if _, err := proxy.Create(spec); err != nil {
			proxy.Close()
			_ = ln.Close()
			log.Error("startup_failed", "error", "--link: "+err.Error())
			return 1
		}
	}
	srv := &http.Server{
		Handler:           netfault.NewServer(proxy),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("ready", "control", ln.Addr().String(), "pid", os.Getpid())

	select {
	case err := <-errc:
		proxy.Close()
		log.Error("serve_failed", "error", err.Error())
		return 1
	case <-ctx.Done():
	}
	log.Info("shutdown", "reason", context.Cause(ctx).Error())
	links := proxy.Close()
	sctx, stop := context.WithTimeout(context.Background(), shutdownGrace)
	defer stop()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown_incomplete", "error", err.Error())
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	log.Info("stopped", "links_closed", links)
	return 0
}

// checkLoopback accepts host:port with a loopback IP or "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("the control API listens on loopback only: want 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")
	}
	return nil
}

// newLogger writes JSON lines (time in UTC, RFC 3339 with nanoseconds, level,
// msg, target "chaosproxy"), as the bundled targets do.
func newLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
			}
			return a
		},
	})
	return slog.New(h).With("target", "chaosproxy")
}
