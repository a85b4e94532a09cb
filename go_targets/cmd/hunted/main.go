// Command hunted is a stdlib-style Go service with a YAML config (greeting,
// workers, buffer size, middleware, backends, headers, limits) reloaded on
// SIGHUP (and, with --reload=watch, when the file's content changes), a
// backend health checker and /metrics (Prometheus). --bug selects one of
// seven reload bug classes that a schema-free mutation of the sample config
// reaches; the default is the fixed build. See go_targets/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/hunted"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	listen     = flag.String("listen", "127.0.0.1:8080", "HTTP address (host:port)")
	configPath = flag.String("config", "", "path of the YAML config file (required)")
	bug        = flag.String("bug", hunted.BugNone, "bug class: none (fixed), empty-list-index, empty-string-index, zero-division, negative-make, nil-map-after-remove, slice-shrink-race or map-race")
	reload     = flag.String("reload", hunted.ReloadSIGHUP, "reload trigger: sighup, or watch (also poll the file's content every 100ms)")
)

// shutdownGrace bounds the graceful shutdown on SIGTERM/SIGINT.
const shutdownGrace = 10 * time.Second

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := hunted.NewLogger(os.Stderr)
	for _, f := range []struct {
		name, value string
		valid       []string
	}{
		{"bug", *bug, hunted.Bugs},
		{"reload", *reload, hunted.Reloads},
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
	log.Info("starting", "config", *configPath, "bug", *bug, "reload", *reload, "listen", *listen, "pid", os.Getpid())

	srv, err := hunted.New(hunted.Options{ConfigPath: *configPath, Bug: *bug}, log)
	if err != nil {
		log.Error("startup_failed", "config", *configPath, "error", "initial config: "+err.Error())
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("startup_failed", "error", "--listen: "+err.Error())
		return 1
	}

	// Reloads run on these goroutines, with no recover: a panic in a reload
	// is the process's crash.
	go func() {
		for range hup {
			_ = srv.Reload()
		}
	}()
	if *reload == hunted.ReloadWatch {
		go srv.Watch(ctx)
	}

	if err := serve.Serve(ctx, log.With("listener", "main"), ln, srv.Handler(), shutdownGrace); err != nil {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	return 0
}
