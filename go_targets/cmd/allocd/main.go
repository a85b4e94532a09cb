// Command allocd is the allocation-heavy service of incident 4.
//
// /merge merges request-sized maps and slices in a worker goroutine with a
// timeout and caches results in a sync.Map. --leak=goroutines reproduces the
// goroutine pile-up when timeouts fire; --shed-over-pct=N answers 503 with
// Retry-After while the live heap is N% over its startup baseline. See
// go_targets/README.md.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/allocd"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	listen          = flag.String("listen", "127.0.0.1:8082", "HTTP listen address (port 0 picks a free port; the bound address is logged)")
	leak            = flag.String("leak", allocd.LeakNone, "none, or goroutines (incident 4: timed-out merge workers block forever)")
	shedOverPct     = flag.Int("shed-over-pct", 0, "answer 503 + Retry-After while heap live is this many percent over the startup baseline (0 = off)")
	mergeTimeout    = flag.Duration("merge-timeout", time.Second, "bound of one merge (a request's timeout_ms can only lower it)")
	shutdownTimeout = flag.Duration("shutdown-timeout", 10*time.Second, "graceful shutdown bound on SIGTERM")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := serve.NewLogger(os.Stderr, slog.LevelInfo, "allocd")
	svc, err := allocd.New(allocd.Options{Leak: *leak, ShedOverPct: *shedOverPct, MergeTimeout: *mergeTimeout, Log: log})
	if err != nil {
		log.Error("bad_flag", "error", err.Error())
		return 1
	}
	settings := map[string]any{"leak": *leak, "shed_over_pct": *shedOverPct, "merge_timeout": mergeTimeout.String()}
	log.Info("starting", "leak", *leak, "shed_over_pct", *shedOverPct, "merge_timeout", mergeTimeout.String(),
		"heap_baseline_bytes", svc.Baseline(), "pid", os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go svc.Run(ctx)
	cfg := serve.StaticConfig(allocd.Version, settings, time.Now())
	if err := serve.Run(ctx, log, *listen, allocd.NewServer(svc, cfg, log), *shutdownTimeout); err != nil {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	return 0
}
