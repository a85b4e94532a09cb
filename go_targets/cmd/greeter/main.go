// Command greeter stands for a team's own stdlib-style Go service: a JSON
// config (greeting, rate limit, routes) reloaded on SIGHUP (and, with
// --reload=watch, when the file's content changes), a token-bucket limiter,
// and /metrics (Prometheus) or /debug/pprof/ on the main or an admin
// listener. --bug selects one of three reload bugs; the default is the fixed
// build. See go_targets/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/greeter"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	listen       = flag.String("listen", "127.0.0.1:8080", "HTTP address (host:port)")
	configPath   = flag.String("config", "", "path of the JSON config file (required)")
	adminListen  = flag.String("admin-listen", "", "address of the admin listener (/metrics or /debug/pprof/); empty: the main listener serves them")
	bug          = flag.String("bug", greeter.BugNone, "bug class: none (fixed), reload-crash, accept-invalid or leak-goroutines")
	observe      = flag.String("observe", greeter.ObservePrometheus, "observability: prometheus (/metrics), pprof (/debug/pprof/) or none")
	configMetric = flag.Bool("config-metric", true, "expose the live config's hash: X-Config-Hash, greeter_config_* metrics, hash in reload log lines")
	reload       = flag.String("reload", greeter.ReloadSIGHUP, "reload trigger: sighup, or watch (also poll the file's content every 100ms)")
)

// shutdownGrace bounds the graceful shutdown on SIGTERM/SIGINT.
const shutdownGrace = 10 * time.Second

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := greeter.NewLogger(os.Stderr)
	for _, f := range []struct {
		name, value string
		valid       []string
	}{
		{"bug", *bug, greeter.Bugs},
		{"observe", *observe, greeter.Observes},
		{"reload", *reload, greeter.Reloads},
	} {
		if !slices.Contains(f.valid, f.value) {
			log.Error("bad_flag", "flag", f.name, "error", fmt.Sprintf("--%s %q: want one of %v", f.name, f.value, f.valid))
			return 1
		}
	}
	if *configPath == "" {
		log.Error("bad_flag", "flag", "config", "error", "--config is required")
		return 1
	}
	// Signals are caught from here on: a SIGHUP during startup is one reload
	// right after it.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	log.Info("starting", "config", *configPath, "bug", *bug, "observe", *observe, "config_metric", *configMetric,
		"reload", *reload, "listen", *listen, "admin_listen", *adminListen, "pid", os.Getpid())

	srv, err := greeter.New(greeter.Options{
		ConfigPath: *configPath, Bug: *bug, Observe: *observe, ConfigMetric: *configMetric,
	}, log)
	if err != nil {
		log.Error("startup_failed", "config", *configPath, "error", "initial config: "+err.Error())
		return 1
	}
	defer srv.Close()

	type listener struct {
		name string
		ln   net.Listener
		h    http.Handler
	}
	var lns []listener
	mainLn, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("startup_failed", "error", "--listen: "+err.Error())
		return 1
	}
	lns = append(lns, listener{"main", mainLn, srv.Handler(*adminListen == "")})
	if *adminListen != "" {
		adminLn, err := net.Listen("tcp", *adminListen)
		if err != nil {
			_ = mainLn.Close()
			log.Error("startup_failed", "error", "--admin-listen: "+err.Error())
			return 1
		}
		lns = append(lns, listener{"admin", adminLn, srv.AdminHandler()})
	}

	// Reloads run on these goroutines, with no recover: a panic in a reload
	// is the process's crash.
	go func() {
		for range hup {
			_ = srv.Reload()
		}
	}()
	if *reload == greeter.ReloadWatch {
		go srv.Watch(ctx)
	}

	// Either listener failing stops both.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(lns))
	for i, l := range lns {
		wg.Go(func() {
			if err := serve.Serve(ctx, log.With("listener", l.name), l.ln, l.h, shutdownGrace); err != nil {
				errs[i] = err
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	return 0
}
