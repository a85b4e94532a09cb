package configd

import (
	"os"
	"strings"
	"testing"

	"github.com/gochaos/gochaos/go_targets/internal/wanterr"
)

func TestParseAndValidate(t *testing.T) {
	sample, err := os.ReadFile("../../configs/configd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withMiddleware := strings.Replace(string(sample), "\nhttp:\n", "\nhttp:\n  middleware: []\n", 1)
	for _, tc := range []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means valid
	}{
		{"sample", string(sample), ""},
		{"sample plus middleware: []", withMiddleware, ""},
		{"known middleware", "http:\n  middleware: [access_log, cors, request_id]\n", ""},
		{"empty", "  \n", "empty config"},
		{"comments only", "# nothing\n", "empty config"},
		{"syntax error", "http: [\n", "yaml:"},
		{"duplicate key", "version: a\nversion: b\n", "already defined"},
		{"unknown field", "verzion: 1\n", "field verzion not found"},
		{"negative rate limit", "rate_limits:\n  api: -5\n", "rate_limits.api: -5 must be a positive"},
		{"zero rate limit", "rate_limits:\n  api: 0\n", "rate_limits.api: 0"},
		{"unknown middleware", "http:\n  middleware: [gzip]\n", `unknown middleware "gzip"`},
		{"duplicate middleware", "http:\n  middleware: [cors, cors]\n", `"cors" listed twice`},
		{"bad log level", "log_level: loud\n", `log_level: "loud"`},
		{"bad status", "http:\n  routes:\n    /x: {status: 700}\n", "status: 700 not in 100..599"},
		{"relative path", "http:\n  routes:\n    x: {status: 200}\n", "must start with /"},
		{"reserved path", "http:\n  routes:\n    /-/config: {status: 200}\n", "reserved"},
		{"negative delay", "http:\n  routes:\n    /x: {delay: -1s}\n", "delay: -1s"},
		{"undefined rate limit", "http:\n  routes:\n    /x: {rate_limit: nope}\n", `"nope" is not defined`},
		{"bad delay type", "http:\n  routes:\n    /x: {delay: soon}\n", "yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseStrict([]byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			wanterr.Check(t, err, tc.wantErr)
		})
	}
}

func TestSameShape(t *testing.T) {
	base := "version: a\nlog_level: info\nhttp:\n  routes:\n    /a: {status: 200, body: x}\nrate_limits:\n  default: 10\n"
	for _, tc := range []struct {
		name string
		edit func(string) string
		same bool
	}{
		{"identical", func(s string) string { return s }, true},
		{"log level", func(s string) string { return strings.Replace(s, "info", "debug", 1) }, true},
		{"version", func(s string) string { return strings.Replace(s, "version: a", "version: b", 1) }, true},
		{"route body", func(s string) string { return strings.Replace(s, "body: x", "body: y", 1) }, true},
		{"middleware: [] appears", func(s string) string { return strings.Replace(s, "http:\n", "http:\n  middleware: []\n", 1) }, false},
		{"new route", func(s string) string { return s + "    /b: {status: 200}\n" }, false},
		{"rate limit value", func(s string) string { return strings.Replace(s, "default: 10", "default: 11", 1) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseLax([]byte(base))
			if err != nil {
				t.Fatal(err)
			}
			edited := tc.edit(base)
			if tc.name == "new route" { // keep the route under http.routes
				edited = strings.Replace(base, "    /a: {status: 200, body: x}\n", "    /a: {status: 200, body: x}\n    /b: {status: 200}\n", 1)
			}
			b, err := ParseLax([]byte(edited))
			if err != nil {
				t.Fatal(err)
			}
			if got := sameShape(a, b); got != tc.same {
				t.Fatalf("sameShape = %v, want %v", got, tc.same)
			}
		})
	}
}
