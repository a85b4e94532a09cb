package greeter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names (only with Options.ConfigMetric and ObservePrometheus).
const (
	MetricConfigInfo           = "greeter_config_info"
	MetricLastReloadSuccessful = "greeter_config_last_reload_successful"
)

var (
	descInfo = prometheus.NewDesc(MetricConfigInfo,
		"Always 1, labelled with the hash (first 12 hex digits of the SHA-256 of the file) of the live config.",
		[]string{"hash"}, nil)
	descSuccessful = prometheus.NewDesc(MetricLastReloadSuccessful,
		"Whether the last config load or reload was accepted (1) or rejected (0).", nil, nil)
)

// collector exposes the live config: one greeter_config_info series, the live
// hash's, and greeter_config_last_reload_successful.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInfo
	ch <- descSuccessful
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, c.s.Hash())
	ok := 0.0
	if c.s.lastOK.Load() {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descSuccessful, prometheus.GaugeValue, ok)
}
