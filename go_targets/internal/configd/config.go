// Package configd is the config hot-reload gateway of incidents 1 and 2: it
// serves routes from a YAML config it reloads on change, and a /cache/{key}
// store. The reload strategy (atomic or the incident's unsafe in-place
// mutation) and the cache locking (none, rwmutex, sharded) are switches.
package configd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the YAML document configd serves.
type Config struct {
	Version    string           `yaml:"version"`
	LogLevel   string           `yaml:"log_level"`
	HTTP       HTTPConfig       `yaml:"http"`
	RateLimits map[string]int64 `yaml:"rate_limits"`
}

// HTTPConfig holds the served routes and the middleware applied to all of them.
type HTTPConfig struct {
	Routes     map[string]RouteConfig `yaml:"routes"`
	Middleware []string               `yaml:"middleware"`
}

// RouteConfig is what GET path answers.
type RouteConfig struct {
	Status int           `yaml:"status"`
	Body   string        `yaml:"body"`
	Delay  time.Duration `yaml:"delay"`
	// RateLimit names an entry of rate_limits; empty means "default" if defined.
	RateLimit string `yaml:"rate_limit"`
}

// KnownMiddleware lists the middleware names a config may use.
var KnownMiddleware = []string{"access_log", "cors", "request_id"}

// DefaultRateLimit is the rate_limits entry used by routes that name none.
const DefaultRateLimit = "default"

// Reserved path prefixes that config routes may not take.
var reservedPrefixes = []string{"/-/", "/cache/"}

// ParseStrict decodes data as a Config, rejecting unknown fields, duplicate keys
// and documents that are empty. The atomic strategy uses it.
func ParseStrict(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty config")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty config")
		}
		return nil, fmt.Errorf("yaml: %w", trimYAMLError(err))
	}
	return &c, nil
}

// ParseLax decodes data the way the incident's service did: plain
// yaml.Unmarshal, no schema checks. The unsafe strategy uses it.
func ParseLax(data []byte) (*Config, error) {
	var c Config
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("yaml: %w", trimYAMLError(err))
	}
	return &c, nil
}

func trimYAMLError(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// Validate checks the schema; the first violation is returned.
func (c *Config) Validate() error {
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	for _, m := range c.HTTP.Middleware {
		if !slices.Contains(KnownMiddleware, m) {
			return fmt.Errorf("http.middleware: unknown middleware %q (known: %s)", m, strings.Join(KnownMiddleware, ", "))
		}
	}
	if dup := firstDuplicate(c.HTTP.Middleware); dup != "" {
		return fmt.Errorf("http.middleware: %q listed twice", dup)
	}
	for _, name := range sortedKeys(c.RateLimits) {
		if c.RateLimits[name] <= 0 {
			return fmt.Errorf("rate_limits.%s: %d must be a positive number of requests per second", name, c.RateLimits[name])
		}
	}
	for _, p := range sortedKeys(c.HTTP.Routes) {
		r := c.HTTP.Routes[p]
		where := fmt.Sprintf("http.routes[%q]", p)
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%s: path must start with /", where)
		}
		for _, rp := range reservedPrefixes {
			if strings.HasPrefix(p, rp) {
				return fmt.Errorf("%s: paths under %s are reserved", where, rp)
			}
		}
		if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
			return fmt.Errorf("%s.status: %d not in 100..599", where, r.Status)
		}
		if r.Delay < 0 || r.Delay > 30*time.Second {
			return fmt.Errorf("%s.delay: %s not in 0..30s", where, r.Delay)
		}
		if r.RateLimit != "" {
			if _, ok := c.RateLimits[r.RateLimit]; !ok {
				return fmt.Errorf("%s.rate_limit: %q is not defined in rate_limits", where, r.RateLimit)
			}
		}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level: %q is not one of debug, info, warn, error", s)
}

// sameShape reports whether b differs from a only in values (version,
// log_level, a route's status, body or delay). A new or removed route, a
// changed middleware list (including its appearance, as `middleware: []`), a
// changed rate limit or a route's rate_limit reference are structural.
func sameShape(a, b *Config) bool {
	if (a.HTTP.Middleware == nil) != (b.HTTP.Middleware == nil) || !slices.Equal(a.HTTP.Middleware, b.HTTP.Middleware) {
		return false
	}
	if len(a.RateLimits) != len(b.RateLimits) || len(a.HTTP.Routes) != len(b.HTTP.Routes) {
		return false
	}
	for k, v := range a.RateLimits {
		if w, ok := b.RateLimits[k]; !ok || w != v {
			return false
		}
	}
	for p, r := range a.HTTP.Routes {
		s, ok := b.HTTP.Routes[p]
		if !ok || s.RateLimit != r.RateLimit {
			return false
		}
	}
	return true
}

// Digest is the hex SHA-256 of a config file's bytes.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// versionOf is the version a config is served under: its version field, or
// the first 12 hex digits of its digest when that is empty.
func versionOf(c *Config, digest string) string {
	if c.Version != "" {
		return c.Version
	}
	return digest[:12]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func firstDuplicate(xs []string) string {
	seen := map[string]bool{}
	for _, x := range xs {
		if seen[x] {
			return x
		}
		seen[x] = true
	}
	return ""
}
