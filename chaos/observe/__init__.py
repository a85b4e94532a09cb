"""Observing a running service: readiness, the live config (probes), the runtime (goroutines and heap from
chaosagent, Prometheus or pprof; gctrace lines) and the samples the oracles judge."""
