package hunted

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gochaos/gochaos/go_targets/internal/wanterr"
)

// readSample returns configs/hunted.yaml.
func readSample(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/hunted.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mutate returns sample with old replaced by new, once; old must be there.
func mutate(t testing.TB, sample, old, new string) string {
	t.Helper()
	if strings.Count(sample, old) != 1 {
		t.Fatalf("the sample has %d copies of %q, want 1", strings.Count(sample, old), old)
	}
	return strings.Replace(sample, old, new, 1)
}

func sampleStruct() *Config {
	return &Config{
		Greeting: "hello", Workers: 4, BufferSize: 64, Middleware: []string{"logging", "auth"},
		Backends: []Backend{
			{Name: "primary", URL: "http://127.0.0.1:9001", Weight: 3},
			{Name: "secondary", URL: "http://127.0.0.1:9002", Weight: 1},
		},
		Headers: map[string]string{"x-team": "payments", "x-env": "staging"},
		Limits:  Limits{RPS: 100, Burst: 10},
	}
}

func TestSampleIsValid(t *testing.T) {
	c, err := Parse([]byte(readSample(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := sampleStruct(); !reflect.DeepEqual(c, want) {
		t.Fatalf("sample parses to %+v, want %+v", c, want)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"minimal", "workers: 1", ""},
		{"null document (Validate catches it)", "null", ""},
		{"headers section with no value is nil", "headers:", ""},
		{"unknown top-level field", "workers: 1\nthreads: 2", "yaml: unmarshal errors: line 2: field threads not found in type hunted.Config"},
		{"unknown nested field", "limits: {rps: 1, brust: 2}", "field brust not found in type hunted.Limits"},
		{"unknown backend field", "backends: [{name: a, port: 1}]", "field port not found in type hunted.Backend"},
		{"duplicate key", "workers: 1\nworkers: 2", `mapping key "workers" already defined at line 1`},
		{"workers a string", "workers: four", "cannot unmarshal !!str `four` into int"},
		{"middleware not a list", "middleware: logging", "cannot unmarshal !!str `logging` into []string"},
		{"headers a list", "headers: [a, b]", "cannot unmarshal !!seq into map[string]string"},
		{"header value a list", "headers: {a: [1]}", "cannot unmarshal !!seq into string"},
		{"integer overflow", "workers: 99999999999999999999999", "cannot unmarshal !!float"},
		{"syntax error", "workers: [1", "yaml: line 1: did not find expected ',' or ']'"},
		{"empty file", "", "yaml: empty config"},
		{"comments only", "# nothing\n", "yaml: empty config"},
		{"second document", "workers: 1\n---\nworkers: 2\n", "yaml: a second document (---) is not allowed"},
		{"scalar document", "hello", "cannot unmarshal !!str `hello` into hunted.Config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			wanterr.Check(t, err, tc.want)
			if err != nil && (!strings.HasPrefix(err.Error(), "yaml: ") || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("error %q: want one line starting with yaml: ", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func(f func(*Config)) *Config {
		c := sampleStruct()
		f(c)
		return c
	}
	many := func(n int) []Backend {
		var bs []Backend
		for i := range n {
			bs = append(bs, Backend{Name: fmt.Sprint("b", i), URL: "http://127.0.0.1:1", Weight: 1})
		}
		return bs
	}
	for _, tc := range []struct {
		name string
		c    *Config
		want string            // the fixed build's error ("" valid)
		bugs map[string]string // builds whose looser check differs: bug -> error
	}{
		{"sample", valid(func(*Config) {}), "", nil},
		// What the fixed build serves (its code handles them).
		{"empty greeting", valid(func(c *Config) { c.Greeting = "" }), "", nil},
		{"empty middleware", valid(func(c *Config) { c.Middleware = []string{} }), "", nil},
		{"no middleware", valid(func(c *Config) { c.Middleware = nil }), "", nil},
		{"no headers", valid(func(c *Config) { c.Headers = nil }), "", nil},
		{"no backends", valid(func(c *Config) { c.Backends = nil }), "", nil},
		{"64 backends", valid(func(c *Config) { c.Backends = many(64) }), "", nil},
		{"drained backend", valid(func(c *Config) { c.Backends[0].Weight = 0 }), "", nil},
		{"burst 0", valid(func(c *Config) { c.Limits.Burst = 0 }), "", nil},
		// The rules guarding zero-division and negative-make: their builds
		// only keep the upper bound.
		{"workers 0", valid(func(c *Config) { c.Workers = 0 }), "workers: 0 not in 1..1024", map[string]string{BugZeroDivision: ""}},
		{"workers -4", valid(func(c *Config) { c.Workers = -4 }), "workers: -4 not in 1..1024", map[string]string{BugZeroDivision: ""}},
		{"workers 1025", valid(func(c *Config) { c.Workers = 1025 }), "workers: 1025 not in 1..1024", map[string]string{BugZeroDivision: "workers: 1025 not in 1..1024"}},
		{"buffer_size -1", valid(func(c *Config) { c.BufferSize = -1 }), "buffer_size: -1 not in 1..1048576", map[string]string{BugNegativeMake: ""}},
		{"buffer_size 0", valid(func(c *Config) { c.BufferSize = 0 }), "buffer_size: 0 not in 1..1048576", map[string]string{BugNegativeMake: ""}},
		{"buffer_size 2 MiB", valid(func(c *Config) { c.BufferSize = 2 << 20 }), "buffer_size: 2097152 not in 1..1048576", map[string]string{BugNegativeMake: "buffer_size: 2097152"}},
		// Every build.
		{"unknown middleware", valid(func(c *Config) { c.Middleware = []string{"logging", "gzip"} }), `middleware[1]: "gzip" is not one of logging, auth, cors, request-id`, nil},
		{"middleware twice", valid(func(c *Config) { c.Middleware = []string{"auth", "logging", "auth"} }), `middleware[2]: "auth" is listed twice`, nil},
		{"65 backends", valid(func(c *Config) { c.Backends = many(65) }), "backends: 65 entries, at most 64", nil},
		{"backend without a name", valid(func(c *Config) { c.Backends[1].Name = "" }), "backends[1].name: must be non-empty", nil},
		{"backend name twice", valid(func(c *Config) { c.Backends[1].Name = "primary" }), `backends[1].name: "primary" is listed twice`, nil},
		{"backend url relative", valid(func(c *Config) { c.Backends[0].URL = "127.0.0.1:9001" }), `backends[0].url: "127.0.0.1:9001" must be an absolute http or https URL`, nil},
		{"backend url missing", valid(func(c *Config) { c.Backends[0].URL = "" }), `backends[0].url: "" must be`, nil},
		{"backend url ftp", valid(func(c *Config) { c.Backends[0].URL = "ftp://h/" }), `backends[0].url: "ftp://h/" must be`, nil},
		{"backend weight -1", valid(func(c *Config) { c.Backends[0].Weight = -1 }), "backends[0].weight: -1 not in 0..1000", nil},
		{"header name with a space", valid(func(c *Config) { c.Headers["x team"] = "a" }), `headers["x team"]: not a valid header name`, nil},
		{"header name empty", valid(func(c *Config) { c.Headers[""] = "a" }), `headers[""]: not a valid header name`, nil},
		{"reserved header", valid(func(c *Config) { c.Headers["content-length"] = "5" }), `headers["content-length"]: reserved`, nil},
		{"hash header", valid(func(c *Config) { c.Headers["x-config-hash"] = "x" }), `headers["x-config-hash"]: reserved`, nil},
		{"header twice by case", valid(func(c *Config) { c.Headers["X-Team"] = "b" }), `headers["x-team"]: the same header as headers["X-Team"]`, nil},
		{"header value with a newline", valid(func(c *Config) { c.Headers["x-env"] = "a\nb" }), `headers["x-env"]: the value has a control character`, nil},
		{"header name too long", valid(func(c *Config) { c.Headers["x-"+strings.Repeat("a", 127)] = "v" }), `the name has 129 bytes, at most 128`, nil},
		{"header value too long", valid(func(c *Config) { c.Headers["x-env"] = strings.Repeat("a", 1025) }), `headers["x-env"]: the value has 1025 bytes, at most 1024`, nil},
		{"header value empty", valid(func(c *Config) { c.Headers["x-env"] = "" }), "", nil},
		{"33 headers", valid(func(c *Config) {
			for i := range 31 {
				c.Headers[fmt.Sprint("x-", i)] = "v"
			}
		}), "headers: 33 entries, at most 32", nil},
		{"rps 0 (limits removed)", valid(func(c *Config) { c.Limits = Limits{} }), "limits.rps: 0 not in 1..1000000", nil},
		{"burst -1", valid(func(c *Config) { c.Limits.Burst = -1 }), "limits.burst: -1 not in 0..1000000", nil},
		{"everything at once", &Config{Workers: 0, BufferSize: -1, Middleware: []string{"x"}}, "workers: 0 not in 1..1024; buffer_size: -1 not in 1..1048576; middleware[0]: \"x\" is not one of logging, auth, cors, request-id; limits.rps: 0 not in 1..1000000",
			map[string]string{BugZeroDivision: "buffer_size: -1 not in 1..1048576; middleware[0]", BugNegativeMake: "workers: 0 not in 1..1024; middleware[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, bug := range Bugs {
				want, ok := tc.bugs[bug]
				if !ok {
					want = tc.want
				}
				err := tc.c.validate(bug)
				if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
					t.Fatalf("--bug %s: %v, want %q", bug, err, want)
				}
			}
			wanterr.Check(t, tc.c.Validate(), tc.want)
		})
	}
}

func TestHash(t *testing.T) {
	// sha256("") = e3b0c44298fc1c149afbf4c8996fb924...
	if got := Hash(nil); got != "e3b0c44298fc" {
		t.Fatalf("Hash(nil) = %s", got)
	}
}
