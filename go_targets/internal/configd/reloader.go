package configd

import (
	"net/http"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Reloader is a reload strategy: it owns the live config and applies new ones.
type Reloader interface {
	// Reload reads the config file and applies it now; trigger names the cause
	// (startup, watch, sighup, http, ...) for the log.
	Reload(trigger string) Outcome
	// Trigger asks for a reload the way the strategy handles file events and
	// signals: atomic coalesces them into serialized reloads; unsafe starts one
	// goroutine per event, as the incident's service did.
	Trigger(trigger string)
	// Route returns the compiled route for a request path.
	Route(path string) (*route, bool)
	// Version is the live config version (the X-Config-Version header).
	Version() string
	// Status is the /-/config document.
	Status() serve.ConfigStatus
}

// Reload outcomes; each is logged as one JSON line with this msg.
const (
	ReloadOK       = "reload_ok"
	ReloadRejected = "reload_rejected"
	ReloadSkipped  = "reload_skipped" // breaker open; see BreakerOpen
	BreakerOpen    = "breaker_open"
	BreakerClosed  = "breaker_closed"
)

// Outcome is the result of one reload, also the POST /-/reload response.
type Outcome struct {
	Outcome             string `json:"outcome"`
	Version             string `json:"version"`
	SHA256              string `json:"sha256"`
	Reason              string `json:"reason,omitempty"`
	Unchanged           bool   `json:"unchanged,omitempty"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	BreakerOpen         bool   `json:"breaker_open"`
}

// httpStatus maps an outcome to the POST /-/reload status code.
func (o Outcome) httpStatus() int {
	switch o.Outcome {
	case ReloadOK:
		return http.StatusOK
	case ReloadSkipped:
		return http.StatusServiceUnavailable
	default:
		return http.StatusUnprocessableEntity
	}
}
