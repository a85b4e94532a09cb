package hunted

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	MetricConfigInfo           = "hunted_config_info"
	MetricLastReloadSuccessful = "hunted_config_last_reload_successful"
	MetricBackendChecks        = "hunted_backend_checks_total"
)

var (
	descInfo = prometheus.NewDesc(MetricConfigInfo,
		"Always 1, labelled with the hash (first 12 hex digits of the SHA-256 of the file) of the live config.",
		[]string{"hash"}, nil)
	descSuccessful = prometheus.NewDesc(MetricLastReloadSuccessful,
		"Whether the last config load or reload was accepted (1) or rejected (0).", nil, nil)
	descChecks = prometheus.NewDesc(MetricBackendChecks,
		"Backend probes the health checker has made.", nil, nil)
)

// collector exposes the live config: one hunted_config_info series, the live
// hash's, hunted_config_last_reload_successful, and the health checker's
// probe count.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInfo
	ch <- descSuccessful
	ch <- descChecks
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, c.s.Hash())
	ok := 0.0
	if c.s.lastOK.Load() {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descSuccessful, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(c.s.checks.Load()))
}
