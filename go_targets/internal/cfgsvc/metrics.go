package cfgsvc

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names, as exposed on the admin listener's /metrics.
const (
	MetricConfigInfo            = "cfgsvc_config_info"
	MetricLastReloadSuccessful  = "cfgsvc_config_last_reload_successful"
	MetricLastReloadSuccessTime = "cfgsvc_config_last_reload_success_timestamp_seconds"
	MetricReloadsTotal          = "cfgsvc_config_reloads_total"

	ResultSuccess = "success"
	ResultFailure = "failure"
)

var (
	descInfo = prometheus.NewDesc(MetricConfigInfo,
		"Always 1, labelled with the hash (hex SHA-256 of the file bytes) of the live config.", []string{"hash"}, nil)
	descSuccessful = prometheus.NewDesc(MetricLastReloadSuccessful,
		"Whether the last config load or reload was successful (1) or rejected (0).", nil, nil)
	descSuccessTime = prometheus.NewDesc(MetricLastReloadSuccessTime,
		"Unix time of the last successful config load or reload.", nil, nil)
	descReloads = prometheus.NewDesc(MetricReloadsTotal,
		"Config reloads since start (the startup load excluded), by result.", []string{"result"}, nil)
)

// reloadState is what the metrics show; it is replaced as a whole, so one
// scrape never mixes two reloads.
type reloadState struct {
	hash             string
	successful       bool
	successTime      time.Time
	success, failure uint64
}

// Metrics is a registry of its own (no Go or process collectors) exposing the
// reload state: only the live hash has a cfgsvc_config_info series, and both
// reloads_total series exist from the start, at 0.
type Metrics struct {
	Registry *prometheus.Registry
	state    atomic.Pointer[reloadState]
}

// NewMetrics registers the reload metrics on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.state.Store(&reloadState{})
	m.Registry.MustRegister(collector{m})
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// update replaces the state with a modified copy; callers are serialized by
// the Service's mutex.
func (m *Metrics) update(f func(*reloadState)) {
	next := *m.state.Load()
	f(&next)
	m.state.Store(&next)
}

func (m *Metrics) loaded(hash string, at time.Time) {
	m.update(func(s *reloadState) { s.hash, s.successful, s.successTime = hash, true, at })
}

func (m *Metrics) reloaded(hash string, at time.Time) {
	m.update(func(s *reloadState) {
		s.hash, s.successful, s.successTime = hash, true, at
		s.success++
	})
}

func (m *Metrics) rejected() {
	m.update(func(s *reloadState) {
		s.successful = false
		s.failure++
	})
}

type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInfo
	ch <- descSuccessful
	ch <- descSuccessTime
	ch <- descReloads
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.state.Load()
	if s.hash != "" {
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, s.hash)
	}
	ok := 0.0
	if s.successful {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descSuccessful, prometheus.GaugeValue, ok)
	ts := 0.0
	if !s.successTime.IsZero() {
		ts = float64(s.successTime.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(descSuccessTime, prometheus.GaugeValue, ts)
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(s.success), ResultSuccess)
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(s.failure), ResultFailure)
}
