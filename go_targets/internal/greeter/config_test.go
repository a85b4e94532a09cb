package greeter

import (
	"os"
	"reflect"
	"testing"

	"github.com/gochaos/gochaos/go_targets/internal/wanterr"
)

func TestSampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../../configs/greeter.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := &Config{Greeting: "hello", RateLimit: 100, Routes: []string{"/", "/hello"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("sample parses to %+v, want %+v", c, want)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"sample", `{"greeting": "hi", "rate_limit": 5, "routes": ["/"]}`, ""},
		{"fields may be missing (Validate catches them)", `{"greeting": "hi"}`, ""},
		{"unknown field", `{"greeting": "hi", "rate_limit": 5, "routes": ["/"], "burst": 3}`, `json: unknown field "burst"`},
		// encoding/json matches field names case-insensitively and lets a
		// duplicate key win: a stdlib service accepts these.
		{"field case differs (stdlib: accepted)", `{"Greeting": "hi"}`, ""},
		{"duplicate key (stdlib: last wins)", `{"greeting": "a", "greeting": "b"}`, ""},
		{"rate_limit a string", `{"rate_limit": "5"}`, "json: cannot unmarshal string"},
		{"rate_limit a fraction", `{"rate_limit": 2.5}`, "json: cannot unmarshal number 2.5"},
		{"routes not a list", `{"routes": "/"}`, "json: cannot unmarshal string"},
		{"syntax error", `{"greeting": "hi",}`, "json: invalid character '}'"},
		{"truncated", `{"greeting": "hi"`, "json: unexpected EOF"},
		{"empty file", ``, "json: empty config"},
		{"trailing data", `{"greeting": "hi"} {}`, "json: trailing data"},
		{"trailing garbage", `{"greeting": "hi"}x`, "json: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			wanterr.Check(t, err, tc.want)
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func(f func(*Config)) *Config {
		c := &Config{Greeting: "hello", RateLimit: 100, Routes: []string{"/", "/hello"}}
		f(c)
		return c
	}
	for _, tc := range []struct {
		name string
		c    *Config
		want string
	}{
		{"sample", valid(func(*Config) {}), ""},
		{"rate_limit 1", valid(func(c *Config) { c.RateLimit = 1 }), ""},
		{"rate_limit 1000000", valid(func(c *Config) { c.RateLimit = 1_000_000 }), ""},
		{"rate_limit 0", valid(func(c *Config) { c.RateLimit = 0 }), "rate_limit: 0 not in 1..1000000"},
		{"rate_limit -1", valid(func(c *Config) { c.RateLimit = -1 }), "rate_limit: -1 not in 1..1000000"},
		{"rate_limit 1000001", valid(func(c *Config) { c.RateLimit = 1_000_001 }), "rate_limit: 1000001 not in 1..1000000"},
		{"empty greeting", valid(func(c *Config) { c.Greeting = "" }), "greeting: must be a non-empty string"},
		{"no routes", valid(func(c *Config) { c.Routes = nil }), "routes: must list at least one path"},
		{"empty route list", valid(func(c *Config) { c.Routes = []string{} }), "routes: must list at least one path"},
		{"route without /", valid(func(c *Config) { c.Routes = []string{"/", "hello"} }), `routes[1]: "hello" must start with /`},
		{"empty route", valid(func(c *Config) { c.Routes = []string{""} }), `routes[0]: "" must start with /`},
		{"every violation reported", &Config{RateLimit: -5, Routes: []string{"a"}},
			`greeting: must be a non-empty string; rate_limit: -5 not in 1..1000000; routes[0]: "a" must start with /`},
	} {
		t.Run(tc.name, func(t *testing.T) { wanterr.Check(t, tc.c.Validate(), tc.want) })
	}
}

// The buggy reload paths skip exactly the lower bound of rate_limit.
func TestValidateLooseSkipsOnlyTheRateLimitLowerBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *Config
		want string
	}{
		{"valid", &Config{Greeting: "hi", RateLimit: 5, Routes: []string{"/"}}, ""},
		{"negative rate_limit passes", &Config{Greeting: "hi", RateLimit: -1, Routes: []string{"/"}}, ""},
		{"zero rate_limit passes", &Config{Greeting: "hi", RateLimit: 0, Routes: []string{"/"}}, ""},
		{"huge rate_limit still fails", &Config{Greeting: "hi", RateLimit: 1_000_001, Routes: []string{"/"}}, "rate_limit: 1000001 not in 1..1000000"},
		{"empty greeting still fails", &Config{RateLimit: 5, Routes: []string{"/"}}, "greeting: "},
		{"bad route still fails", &Config{Greeting: "hi", RateLimit: -5, Routes: []string{"x"}}, `routes[0]: "x" must start with /`},
	} {
		t.Run(tc.name, func(t *testing.T) { wanterr.Check(t, tc.c.validateLoose(), tc.want) })
	}
}

func TestHash(t *testing.T) {
	// sha256("") = e3b0c44298fc1c149afbf4c8996fb924...
	if got := Hash(nil); got != "e3b0c44298fc" {
		t.Fatalf("Hash(empty) = %q", got)
	}
}
