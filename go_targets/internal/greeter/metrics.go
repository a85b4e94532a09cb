package greeter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Metric names (only with Options.ConfigMetric and ObservePrometheus).
const (
	MetricConfigInfo           = "greeter_config_info"
	MetricLastReloadSuccessful = "greeter_config_last_reload_successful"
)

// collector exposes the live config: one greeter_config_info series, the live
// hash's, and greeter_config_last_reload_successful.
func collector(s *Server) prometheus.Collector {
	return serve.NewConfigCollector("greeter", s.Hash, s.lastOK.Load)
}
