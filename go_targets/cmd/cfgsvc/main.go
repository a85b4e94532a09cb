// Command cfgsvc stands for a team's own Go service: a config with no version
// key, decoded strictly (JSON, YAML or TOML), listen addresses taken only from
// that config, reloads on SIGHUP and on file change, and the reload outcome in
// Prometheus metrics on an admin listener. --apply-invalid is the bug switch:
// a config that parses but fails validation is applied and reported as a
// successful reload. See go_targets/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/cfgsvc"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	configPath      = flag.String("config", "", "path of the config file (required); it also names both listen addresses")
	format          = flag.String("format", cfgsvc.FormatAuto, "config format: auto (by extension: .json, .yaml/.yml, .toml), json, yaml or toml")
	applyInvalid    = flag.Bool("apply-invalid", false, "BUG: apply a config that parses but fails validation, and report it as a successful reload")
	shutdownTimeout = flag.Duration("shutdown-timeout", 10*time.Second, "graceful shutdown bound on SIGTERM")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := serve.NewLogger(os.Stderr, slog.LevelInfo, "cfgsvc")
	if *configPath == "" {
		log.Error("bad_flag", "flag", "config", "error", "--config is required")
		return 1
	}
	f, err := cfgsvc.FormatFor(*format, *configPath)
	if err != nil {
		log.Error("bad_flag", "flag", "format", "error", err.Error())
		return 1
	}
	// Signals are caught from here on: a SIGHUP during startup is one reload
	// right after it, a SIGTERM a clean exit as soon as both listeners serve.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	log.Info("starting", "config", *configPath, "format", f, "apply_invalid", *applyInvalid, "pid", os.Getpid())
	svc := cfgsvc.New(cfgsvc.Options{ConfigPath: *configPath, Format: f, ApplyInvalid: *applyInvalid}, log)
	if err := svc.Load(); err != nil {
		log.Error("startup_failed", "config", *configPath, "error", "initial config: "+err.Error())
		return 1
	}

	srv := svc.Live().Config.Server
	mainLn, err := net.Listen("tcp", srv.Listen)
	if err != nil {
		log.Error("startup_failed", "error", "server.listen: "+err.Error())
		return 1
	}
	adminLn, err := net.Listen("tcp", srv.AdminListen)
	if err != nil {
		_ = mainLn.Close()
		log.Error("startup_failed", "error", "server.admin_listen: "+err.Error())
		return 1
	}

	go func() {
		for range hup {
			svc.Reload("sighup")
		}
	}()
	go svc.Watch(ctx)

	// Either listener failing stops both.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, l := range []struct {
		name string
		ln   net.Listener
		h    http.Handler
	}{
		{"main", mainLn, cfgsvc.NewServer(svc)},
		{"admin", adminLn, cfgsvc.NewAdminServer(svc)},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve.Serve(ctx, log.With("listener", l.name), l.ln, l.h, *shutdownTimeout); err != nil {
				errs[i] = err
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	return 0
}
