package hunted

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Metric names.
const (
	MetricConfigInfo           = "hunted_config_info"
	MetricLastReloadSuccessful = "hunted_config_last_reload_successful"
	MetricBackendChecks        = "hunted_backend_checks_total"
)

var descChecks = prometheus.NewDesc(MetricBackendChecks, "Backend probes the health checker has made.", nil, nil)

// exposed is the live config (one hunted_config_info series, the live
// hash's, and hunted_config_last_reload_successful) and the health checker's
// probe count.
type exposed struct {
	*serve.ConfigCollector
	s *Server
}

func collector(s *Server) prometheus.Collector {
	return exposed{serve.NewConfigCollector("hunted", s.Hash, s.lastOK.Load), s}
}

func (m exposed) Describe(ch chan<- *prometheus.Desc) {
	m.ConfigCollector.Describe(ch)
	ch <- descChecks
}

func (m exposed) Collect(ch chan<- prometheus.Metric) {
	m.ConfigCollector.Collect(ch)
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(m.s.checks.Load()))
}
