// Command kvd is the etcd-backed service of incident 3.
//
// It serves PUT/GET /kv/{key}, GET /kv?prefix=p (a map built from a range) and
// GET /cached/{key} (a watch-fed cache of --cache-prefix), talking to etcd with
// clientv3.WithRequireLeader. --ctx-mode=leaky reproduces incident 3; the
// default, isolated, is the fix. See go_targets/README.md.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/gochaos/gochaos/go_targets/internal/kvd"
	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

var (
	listen          = flag.String("listen", "127.0.0.1:8081", "HTTP listen address (port 0 picks a free port; the bound address is logged)")
	endpoints       = flag.String("endpoints", "127.0.0.1:2379", "etcd client endpoints, comma-separated (list every member)")
	dialTimeout     = flag.Duration("dial-timeout", 2*time.Second, "etcd dial timeout")
	requestTimeout  = flag.Duration("request-timeout", 500*time.Millisecond, "bound of one etcd call (keep it below the etcd election timeout, so a leader loss is seen as an error)")
	retries         = flag.Int("retries", 3, "isolated: extra attempts after a leader-loss error, with backoff 50ms, 100ms, ... up to 1s")
	ctxMode         = flag.String("ctx-mode", kvd.Isolated, "isolated (per-call contexts, retries, watch re-established) or leaky (incident 3)")
	cachePrefix     = flag.String("cache-prefix", "cache/", "etcd key prefix mirrored by the watch-fed cache at /cached/{key}")
	shutdownTimeout = flag.Duration("shutdown-timeout", 10*time.Second, "graceful shutdown bound on SIGTERM")
	etcdCACert      = flag.String("etcd-cacert", "", "verify etcd's server certificates with this CA bundle (PEM); set, the endpoints are reached over TLS")
	etcdCert        = flag.String("etcd-cert", "", "client certificate (PEM) presented to etcd; needs --etcd-key")
	etcdKey         = flag.String("etcd-key", "", "private key (PEM) of --etcd-cert")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	log := serve.NewLogger(os.Stderr, slog.LevelInfo, "kvd")
	eps := strings.Split(*endpoints, ",")
	for i := range eps {
		eps[i] = strings.TrimSpace(eps[i])
	}
	tlsConfig, err := etcdTLS(*etcdCACert, *etcdCert, *etcdKey)
	if err != nil {
		log.Error("bad_flag", "error", err.Error())
		return 1
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   eps,
		DialTimeout: *dialTimeout,
		TLS:         tlsConfig,
		Logger:      zap.NewNop(), // kvd logs etcd errors itself, as JSON lines
	})
	if err != nil {
		log.Error("startup_failed", "error", "etcd client: "+err.Error())
		return 1
	}
	defer cli.Close()
	svc, err := kvd.New(kvd.Options{
		Client:         cli,
		Mode:           *ctxMode,
		CachePrefix:    *cachePrefix,
		RequestTimeout: *requestTimeout,
		Retries:        *retries,
		Log:            log,
	})
	if err != nil {
		log.Error("bad_flag", "error", err.Error())
		return 1
	}
	settings := map[string]any{"endpoints": eps, "ctx_mode": *ctxMode, "cache_prefix": *cachePrefix,
		"dial_timeout": dialTimeout.String(), "request_timeout": requestTimeout.String(), "retries": *retries,
		"etcd_tls": tlsConfig != nil}
	log.Info("starting", "endpoints", eps, "etcd_tls", tlsConfig != nil, "ctx_mode", *ctxMode, "cache_prefix", *cachePrefix, "pid", os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go svc.Run(ctx)
	cfg := serve.StaticConfig(kvd.Version, settings, time.Now())
	if err := serve.Run(ctx, log, *listen, kvd.NewServer(svc, cfg, log), *shutdownTimeout); err != nil {
		log.Error("serve_failed", "error", err.Error())
		return 1
	}
	return 0
}

// etcdTLS is the client TLS config the --etcd-* flags ask for (etcdctl's
// names): nil when none is set, so a plain-HTTP etcd needs no flag.
func etcdTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--etcd-cert and --etcd-key go together: give both or neither")
	}
	info := transport.TLSInfo{TrustedCAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, errors.New("etcd TLS: " + err.Error())
	}
	return cfg, nil
}
