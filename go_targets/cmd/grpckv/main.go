// Command grpckv is the bundled gRPC test service: an in-memory key-value store
// (gochaos.grpckv.v1.KV: Put, Get, Delete) with the standard grpc.health.v1
// health service and server reflection. Its health says NOT_SERVING for
// --serving-after after it starts listening, so a readiness check that only
// connects is told apart from one that asks the health service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/grpckv"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	listen          = flag.String("listen", "127.0.0.1:9090", "gRPC listen address (port 0 picks a free port; the bound address is logged)")
	maxValueBytes   = flag.Int("max-value-bytes", 1<<16, "largest value Put accepts; larger ones fail with INVALID_ARGUMENT")
	servingAfter    = flag.Duration("serving-after", 0, "health reports NOT_SERVING for this long after listening, then SERVING")
	withReflection  = flag.Bool("reflection", true, "register server reflection (grpc.reflection.v1 and v1alpha)")
	shutdownTimeout = flag.Duration("shutdown-timeout", 5*time.Second, "graceful stop bound on SIGTERM")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := serve.NewLogger(os.Stderr, slog.LevelInfo, "grpckv")
	if *maxValueBytes < 0 || *servingAfter < 0 {
		log.Error("bad_flag", "error", "--max-value-bytes and --serving-after must not be negative")
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen_failed", "error", err.Error())
		return 1
	}
	srv := grpckv.NewServer(grpckv.NewStore(*maxValueBytes, log), *withReflection)
	log.Info("listening", "addr", ln.Addr().String(), "reflection", *withReflection,
		"serving_after", servingAfter.String(), "pid", os.Getpid())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		select {
		case <-time.After(*servingAfter):
			srv.Serving(true)
			log.Info("serving")
		case <-ctx.Done():
		}
	}()
	served := make(chan error, 1)
	go func() { served <- srv.GRPC.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("serve_failed", "error", err.Error())
		return 1
	case <-ctx.Done():
	}
	srv.Serving(false)
	log.Info("stopping")
	done := make(chan struct{})
	go func() { srv.GRPC.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(*shutdownTimeout):
		srv.GRPC.Stop()
	}
	return 0
}
