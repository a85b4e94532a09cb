// Package hunted is a small stdlib-style service with a YAML config, built to
// be hunted: its --bug switch selects one of seven reload bug classes, each
// reached by a schema-free mutation of the sample config (an emptied list or
// string, a zero, a negative number, a removed section, a shrinking list, or
// any reload under load), and nothing in the service declares them. The
// default (BugNone) is the fixed build, which rejects or safely serves every
// one of those configs. It exists to prove that automatic config exploration
// finds bugs nobody declared. See go_targets/README.md.
package hunted

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// Bounds the validation enforces (see Validate).
const (
	MaxWorkers    = 1024
	MaxBufferSize = 1 << 20
	MaxBackends   = 64
	MaxWeight     = 1000
	MaxHeaders    = 32
	MaxHeaderName = 128  // bytes
	MaxHeaderVal  = 1024 // bytes
	MaxRPS        = 1_000_000
	MaxBurst      = 1_000_000
)

// Middleware are the known middleware names, in no particular order.
var Middleware = []string{"logging", "auth", "cors", "request-id"}

// reservedHeaders are response headers the config may not set: the ones
// net/http or the service itself owns.
var reservedHeaders = []string{
	"Connection", "Content-Encoding", "Content-Length", "Content-Type", "Date", "Keep-Alive",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", HashHeader, MiddlewareHeader,
}

// Config is the whole config file (configs/hunted.yaml):
//
//	greeting: "hello"
//	workers: 4
//	buffer_size: 64
//	middleware: [logging, auth]
//	backends:
//	  - {name: primary, url: "http://127.0.0.1:9001", weight: 3}
//	  - {name: secondary, url: "http://127.0.0.1:9002", weight: 1}
//	headers:
//	  x-team: payments
//	  x-env: staging
//	limits:
//	  rps: 100
//	  burst: 10
type Config struct {
	Greeting   string            `yaml:"greeting"`    // GET / answers it, first letter upper-cased
	Workers    int               `yaml:"workers"`     // the rate limit is shared out among this many workers
	BufferSize int               `yaml:"buffer_size"` // bytes of each pooled response buffer
	Middleware []string          `yaml:"middleware"`  // wrapped around GET /, the first outermost
	Backends   []Backend         `yaml:"backends"`    // probed by the health checker; never dialled
	Headers    map[string]string `yaml:"headers"`     // set on every GET / response
	Limits     Limits            `yaml:"limits"`
}

// Backend is one entry of backends.
type Backend struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Weight int    `yaml:"weight"` // 0 drains it: the health checker skips it
}

// Limits is the limits section.
type Limits struct {
	RPS   int `yaml:"rps"`
	Burst int `yaml:"burst"`
}

// Parse decodes a config strictly with gopkg.in/yaml.v3: unknown fields (at
// any level), duplicate keys, values of the wrong type, an empty document and
// a second document are errors. Error messages start with "yaml: " and are
// one line. It does not validate.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("yaml: empty config")
		}
		return nil, oneLine(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, oneLine(err)
		}
		return nil, errors.New("yaml: a second document (---) is not allowed")
	}
	return &c, nil
}

// oneLine folds yaml.v3's multi-line "unmarshal errors" into one line.
func oneLine(err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n  ", " ")
	if !strings.HasPrefix(msg, "yaml: ") {
		msg = "yaml: " + msg
	}
	return errors.New(msg)
}

// Validate checks every rule of the fixed build; all violations are reported,
// joined by "; ". An empty greeting, an empty or missing middleware list, a
// missing headers section and an empty backends list are valid: the fixed
// build serves them.
func (c *Config) Validate() error { return c.validate(BugNone) }

// validate is the check the given build runs on every load. Two builds run a
// looser one: zero-division's only bounds workers from above (0 passes, on to
// the division), negative-make's only bounds buffer_size from above (0 and
// negative values pass, on to make).
func (c *Config) validate(bug string) error {
	return serve.JoinErrors(
		c.validateWorkers(bug == BugZeroDivision),
		c.validateBufferSize(bug == BugNegativeMake),
		c.validateMiddleware(),
		c.validateBackends(),
		c.validateHeaders(),
		inRange("limits.rps", c.Limits.RPS, 1, MaxRPS),
		inRange("limits.burst", c.Limits.Burst, 0, MaxBurst),
	)
}

func (c *Config) validateWorkers(loose bool) error {
	if loose && c.Workers <= MaxWorkers {
		return nil
	}
	return inRange("workers", c.Workers, 1, MaxWorkers)
}

func (c *Config) validateBufferSize(loose bool) error {
	if loose && c.BufferSize <= MaxBufferSize {
		return nil
	}
	return inRange("buffer_size", c.BufferSize, 1, MaxBufferSize)
}

func (c *Config) validateMiddleware() error {
	var errs []error
	for i, m := range c.Middleware {
		switch {
		case !slices.Contains(Middleware, m):
			errs = append(errs, fmt.Errorf("middleware[%d]: %q is not one of %s", i, m, strings.Join(Middleware, ", ")))
		case slices.Index(c.Middleware, m) < i:
			errs = append(errs, fmt.Errorf("middleware[%d]: %q is listed twice", i, m))
		}
	}
	return serve.JoinErrors(errs...)
}

func (c *Config) validateBackends() error {
	if len(c.Backends) > MaxBackends {
		return fmt.Errorf("backends: %d entries, at most %d", len(c.Backends), MaxBackends)
	}
	var errs []error
	for i, b := range c.Backends {
		switch {
		case b.Name == "":
			errs = append(errs, fmt.Errorf("backends[%d].name: must be non-empty", i))
		case slices.IndexFunc(c.Backends, func(o Backend) bool { return o.Name == b.Name }) < i:
			errs = append(errs, fmt.Errorf("backends[%d].name: %q is listed twice", i, b.Name))
		}
		if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("backends[%d].url: %q must be an absolute http or https URL", i, b.URL))
		}
		errs = append(errs, inRange(fmt.Sprintf("backends[%d].weight", i), b.Weight, 0, MaxWeight))
	}
	return serve.JoinErrors(errs...)
}

func (c *Config) validateHeaders() error {
	if len(c.Headers) > MaxHeaders {
		return fmt.Errorf("headers: %d entries, at most %d", len(c.Headers), MaxHeaders)
	}
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	var errs []error
	seen := map[string]string{} // canonical name -> the name that has it
	for _, k := range names {
		canon := http.CanonicalHeaderKey(k)
		switch {
		case !validHeaderName(k):
			errs = append(errs, fmt.Errorf("headers[%q]: not a valid header name", k))
		case len(k) > MaxHeaderName:
			errs = append(errs, fmt.Errorf("headers[%q]: the name has %d bytes, at most %d", k, len(k), MaxHeaderName))
		case slices.Contains(reservedHeaders, canon):
			errs = append(errs, fmt.Errorf("headers[%q]: reserved, the service sets it", k))
		case seen[canon] != "":
			errs = append(errs, fmt.Errorf("headers[%q]: the same header as headers[%q]", k, seen[canon]))
		}
		seen[canon] = k
		if v := c.Headers[k]; strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			errs = append(errs, fmt.Errorf("headers[%q]: the value has a control character", k))
		} else if len(v) > MaxHeaderVal {
			errs = append(errs, fmt.Errorf("headers[%q]: the value has %d bytes, at most %d", k, len(v), MaxHeaderVal))
		}
	}
	return serve.JoinErrors(errs...)
}

// validHeaderName reports whether s is a non-empty RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

func inRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s: %d not in %d..%d", name, v, lo, hi)
	}
	return nil
}

// Hash identifies a config file: the first 12 hex digits of the SHA-256 of
// its bytes.
func Hash(data []byte) string { return serve.ConfigHash(data) }
