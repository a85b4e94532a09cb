package serve

import "github.com/prometheus/client_golang/prometheus"

// ConfigCollector exposes which config a service runs the way many Go
// services do: PREFIX_config_info{hash="..."} 1 (only the live hash's
// series) and PREFIX_config_last_reload_successful (1 or 0).
type ConfigCollector struct {
	info, successful *prometheus.Desc
	hash             func() string
	ok               func() bool
}

// NewConfigCollector describes the two gauges of a service named prefix;
// hash gives the live config's hash, ok whether its last load was accepted.
func NewConfigCollector(prefix string, hash func() string, ok func() bool) *ConfigCollector {
	return &ConfigCollector{
		info: prometheus.NewDesc(prefix+"_config_info",
			"Always 1, labelled with the hash (first 12 hex digits of the SHA-256 of the file) of the live config.",
			[]string{"hash"}, nil),
		successful: prometheus.NewDesc(prefix+"_config_last_reload_successful",
			"Whether the last config load or reload was accepted (1) or rejected (0).", nil, nil),
		hash: hash, ok: ok,
	}
}

// Describe sends both descriptions.
func (c *ConfigCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.successful
}

// Collect sends the live hash's info series and the last load's outcome.
func (c *ConfigCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, c.hash())
	ok := 0.0
	if c.ok() {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(c.successful, prometheus.GaugeValue, ok)
}
