// Command configd is the config hot-reload gateway of incidents 1 and 2.
//
// It serves the routes of a YAML config and reloads the config when the file
// changes (--watch-config), on SIGHUP and on POST /-/reload. It also serves a
// /cache/{key} store. --reload-strategy=unsafe reproduces incident 1 and
// --cache-lock=none reproduces incident 2; the defaults are the fixes. See
// go_targets/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/configd"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	listen          = flag.String("listen", "127.0.0.1:8080", "HTTP listen address (port 0 picks a free port; the bound address is logged)")
	configPath      = flag.String("config", "config.yaml", "path of the YAML config")
	watchConfig     = flag.Bool("watch-config", false, "reload when the config changes (watches the config's directory)")
	reloadStrategy  = flag.String("reload-strategy", configd.StrategyAtomic, "atomic (validate, then swap a snapshot) or unsafe (incident 1: in-place, unlocked)")
	cacheLock       = flag.String("cache-lock", configd.LockSharded, "cache locking: none (incident 2), rwmutex or sharded")
	breakerCooldown = flag.Duration("breaker-cooldown", 5*time.Second, "atomic: how long reloads pause after 3 consecutive rejections")
	commitTimeout   = flag.Duration("commit-timeout", 200*time.Millisecond, "atomic: a commit slower than this is cancelled and rolled back")
	watchDebounce   = flag.Duration("watch-debounce", 50*time.Millisecond, "atomic: file events closer than this are coalesced into one reload")
	shutdownTimeout = flag.Duration("shutdown-timeout", 10*time.Second, "graceful shutdown bound on SIGTERM")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := serve.NewLogger(os.Stderr, slog.LevelInfo, "configd")
	access := serve.NewLogger(os.Stderr, slog.LevelDebug, "configd")
	cache, err := configd.NewCache(*cacheLock)
	if err != nil {
		log.Error("bad_flag", "flag", "cache-lock", "error", err.Error())
		return 1
	}
	rl, ok := configd.NewReloader(configd.Options{
		ConfigPath:      *configPath,
		ReloadStrategy:  *reloadStrategy,
		BreakerCooldown: *breakerCooldown,
		CommitTimeout:   *commitTimeout,
		Debounce:        *watchDebounce,
	}, log, access)
	if !ok {
		log.Error("bad_flag", "flag", "reload-strategy",
			"error", fmt.Sprintf("%q: want %s or %s", *reloadStrategy, configd.StrategyAtomic, configd.StrategyUnsafe))
		return 1
	}
	log.Info("starting", "config", *configPath, "watch_config", *watchConfig, "reload_strategy", *reloadStrategy,
		"cache_lock", *cacheLock, "pid", os.Getpid())
	if out := rl.Reload("startup"); out.Outcome != configd.ReloadOK {
		log.Error("startup_failed", "config", *configPath, "reason", out.Reason)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *watchConfig {
		if err := configd.Watch(ctx, *configPath, log, rl.Trigger); err != nil {
			log.Error("startup_failed", "error", err.Error())
			return 1
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			rl.Trigger("sighup")
		}
	}()

	if err := serve.Run(ctx, log, *listen, configd.NewServer(rl, cache, log), *shutdownTimeout); err != nil {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	return 0
}
