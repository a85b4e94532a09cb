// Package greeter is a small stdlib-style service of the kind a team writes
// for itself: a JSON config (greeting, rate limit, routes) reloaded on SIGHUP
// or by polling the file, a token-bucket limiter, and optional Prometheus or
// pprof observability. Its --bug switch selects one of three realistic
// reload bugs (reload-crash, accept-invalid, leak-goroutines); the default is
// the fixed build. See go_targets/README.md.
package greeter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Bounds of rate_limit in the fixed build.
const (
	MinRateLimit = 1
	MaxRateLimit = 1_000_000
)

// Config is the whole config file:
//
//	{"greeting": "hello", "rate_limit": 100, "routes": ["/", "/hello"]}
type Config struct {
	Greeting  string   `json:"greeting"`
	RateLimit int      `json:"rate_limit"` // requests per second the service allows in total
	Routes    []string `json:"routes"`     // paths answered with the greeting
}

// Parse decodes a config strictly: unknown fields, values of the wrong type
// and anything after the top-level object are errors. It does not validate.
func Parse(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("json: empty config")
		}
		return nil, fmt.Errorf("json: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("json: trailing data after the config object at offset %d", dec.InputOffset())
	}
	return &c, nil
}

// Validate checks every rule; all violations are reported, joined by "; ".
func (c *Config) Validate() error {
	return serve.JoinErrors(c.validateGreeting(), c.validateRateLimit(), c.validateRoutes())
}

// validateLoose is Validate without the lower bound of rate_limit: it checks
// greeting, routes and that rate_limit is not above MaxRateLimit (a huge
// limiter window), but lets 0 and negative values through. It is what the
// buggy reload paths run; see Server.checkReload.
func (c *Config) validateLoose() error {
	var rate error
	if c.RateLimit > MaxRateLimit {
		rate = c.validateRateLimit()
	}
	return serve.JoinErrors(c.validateGreeting(), rate, c.validateRoutes())
}

func (c *Config) validateGreeting() error {
	if c.Greeting == "" {
		return errors.New("greeting: must be a non-empty string")
	}
	return nil
}

func (c *Config) validateRateLimit() error {
	if c.RateLimit < MinRateLimit || c.RateLimit > MaxRateLimit {
		return fmt.Errorf("rate_limit: %d not in %d..%d", c.RateLimit, MinRateLimit, MaxRateLimit)
	}
	return nil
}

func (c *Config) validateRoutes() error {
	if len(c.Routes) == 0 {
		return errors.New("routes: must list at least one path")
	}
	var errs []error
	for i, p := range c.Routes {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("routes[%d]: %s must start with /", i, strconv.Quote(p)))
		}
	}
	return serve.JoinErrors(errs...)
}

// Hash identifies a config file: the first 12 hex digits of the SHA-256 of
// its bytes.
func Hash(data []byte) string { return serve.ConfigHash(data) }
