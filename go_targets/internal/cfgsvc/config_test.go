package cfgsvc

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gochaos/gochaos/go_targets/internal/wanterr"
)

const (
	testListen = "127.0.0.1:18181"
	testAdmin  = "127.0.0.1:18182"
)

var formats = []string{FormatJSON, FormatYAML, FormatTOML}

// sample is configs/cfgsvc.<format> with its placeholders filled.
func sample(t testing.TB, format string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../configs/cfgsvc." + format)
	if err != nil {
		t.Fatal(err)
	}
	return Fill(b, testListen, testAdmin)
}

// Fill replaces the sample configs' placeholders with addresses.
func Fill(b []byte, listen, admin string) []byte {
	b = bytes.ReplaceAll(b, []byte("{listen.admin}"), []byte(admin))
	return bytes.ReplaceAll(b, []byte("{listen}"), []byte(listen))
}

func TestSamplesParseAlike(t *testing.T) {
	var first *Config
	for _, f := range formats {
		c, err := Parse(sample(t, f), f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(c.Routes) != 3 || len(c.Backends) < 2 || c.Features == nil || c.Server.Listen != testListen ||
			c.Server.AdminListen != testAdmin {
			t.Fatalf("%s: %+v", f, c)
		}
		if first == nil {
			first = c
		} else if !reflect.DeepEqual(first, c) {
			t.Fatalf("%s parses to %+v, json to %+v", f, c, first)
		}
	}
	tree, err := first.tree()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(tree, FormatJSON)
	if err != nil || !reflect.DeepEqual(back, first) {
		t.Fatalf("the /-/config tree %s does not parse back to the config: %v", tree, err)
	}
}

func TestFormatFor(t *testing.T) {
	for _, tc := range []struct {
		format, path, want, wantErr string
	}{
		{"auto", "c.json", FormatJSON, ""},
		{"auto", "/x/c.yaml", FormatYAML, ""},
		{"auto", "c.YML", FormatYAML, ""},
		{"auto", "c.toml", FormatTOML, ""},
		{"auto", "c.conf", "", "cannot tell the format"},
		{"yaml", "c.conf", FormatYAML, ""},
		{"ini", "c.json", "", `"ini": want auto`},
	} {
		got, err := FormatFor(tc.format, tc.path)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("FormatFor(%q, %q) = %q, %v; want %q, error containing %q", tc.format, tc.path, got, err, tc.want, tc.wantErr)
		}
	}
}

// Every way a document can fail to parse, in every format. Each edit is a
// string replacement on the filled sample; an empty old means replace the
// whole document with new.
func TestStrictDecoding(t *testing.T) {
	for _, tc := range []struct {
		name, format, old, new, wantErr string
	}{
		{"unknown top-level key", "json", `"greeting":`, `"greetings": "x", "greeting":`, `unknown field "greetings"`},
		{"unknown top-level key", "yaml", "greeting:", "greetings: x\ngreeting:", "field greetings not found"},
		{"unknown top-level key", "toml", "greeting =", "greetings = \"x\"\ngreeting =", "unknown key(s): greetings"},
		{"unknown nested key", "json", `"burst": 8`, `"burst": 8, "brust": 1`, `unknown field "brust"`},
		{"unknown nested key", "yaml", "  burst: 8", "  burst: 8\n  brust: 1", "field brust not found"},
		{"unknown nested key", "toml", "burst = 8", "burst = 8\nbrust = 1", "unknown key(s): limits.brust"},
		{"unknown key in a list item", "json", `"status": 418,`, `"status": 418, "delay": 1,`, `unknown field "delay"`},
		{"unknown key in a list item", "yaml", "    status: 418", "    status: 418\n    delay: 1", "field delay not found"},
		{"unknown key in a list item", "toml", "status = 418", "status = 418\ndelay = 1", "routes.delay"},
		{"unknown key in a map value", "json", `"weight": 1}`, `"weight": 1, "zone": "a"}`, `unknown field "zone"`},
		{"unknown key in a map value", "yaml", "    weight: 1", "    weight: 1\n    zone: a", "field zone not found"},
		{"unknown key in a map value", "toml", "weight = 1\n", "weight = 1\nzone = \"a\"\n", "backends.secondary.zone"},
		{"key case differs", "json", `"greeting":`, `"Greeting":`, `unknown field "Greeting"`},
		{"key case differs", "yaml", "greeting:", "Greeting:", "field Greeting not found"},
		{"key case differs", "toml", "greeting =", "Greeting =", "unknown key(s): Greeting"},
		{"nested key case differs", "json", `"max_inflight"`, `"Max_Inflight"`, `unknown field "limits.Max_Inflight"`},
		{"nested key case differs", "toml", "max_inflight", "MAX_INFLIGHT", "unknown key(s): limits.MAX_INFLIGHT"},
		{"duplicate key", "json", `"greeting":`, `"greeting": "a", "greeting":`, "duplicate key greeting"},
		{"duplicate key", "yaml", "greeting:", "greeting: a\ngreeting:", "already defined"},
		{"duplicate key", "toml", "greeting =", "greeting = \"a\"\ngreeting =", "already been defined"},
		{"trailing data", "json", "", `{"greeting": "a"} {}`, "trailing data"},
		{"second document", "yaml", "", "greeting: a\n---\ngreeting: b\n", "more than one document"},
		{"wrong type", "json", `"burst": 8`, `"burst": "8"`, "json: cannot unmarshal string"},
		{"wrong type", "yaml", "burst: 8", "burst: eight", "yaml: unmarshal errors"},
		{"wrong type", "toml", "burst = 8", "burst = \"8\"", "toml: "},
		{"float for an int", "json", `"burst": 8`, `"burst": 8.5`, "cannot unmarshal number 8.5"},
		{"syntax error", "json", "", `{"greeting": `, "json: unexpected EOF"},
		{"syntax error", "yaml", "", "greeting: [\n", "yaml: line"},
		{"syntax error", "toml", "", "greeting = \n", "toml: "},
		{"empty", "json", "", " \n", "empty config"},
		{"empty", "yaml", "", "# nothing\n", "empty config"},
		{"empty", "toml", "", "# nothing\n", "empty config"},
		{"empty object", "json", "", "{}", "empty config"},
		{"null", "json", "", "null", "empty config"},
		{"empty mapping", "yaml", "", "{}\n", "empty config"},
		{"null document", "yaml", "", "~\n", "empty config"},
		{"not an object", "json", "", "[1]", "json: cannot unmarshal array"},
	} {
		t.Run(tc.format+"/"+tc.name, func(t *testing.T) {
			doc := tc.new
			if tc.old != "" {
				s := string(sample(t, tc.format))
				if !strings.Contains(s, tc.old) {
					t.Fatalf("%q is not in the sample", tc.old)
				}
				doc = strings.Replace(s, tc.old, tc.new, 1)
			}
			c, err := Parse([]byte(doc), tc.format)
			if err == nil {
				t.Fatalf("parsed: %+v", c)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantErr == "empty config" && !errors.Is(err, ErrEmpty) {
				t.Fatalf("%v is not ErrEmpty", err)
			}
		})
	}
}

func TestFeaturesOptional(t *testing.T) {
	for _, f := range formats {
		s := string(sample(t, f))
		switch f {
		case FormatJSON:
			s = strings.Replace(s, `,
  "features": {"tracing": false, "compression": true}`, "", 1)
		case FormatYAML:
			s = s[:strings.Index(s, "features:")]
		case FormatTOML:
			s = s[:strings.Index(s, "[features]")]
		}
		c, err := Parse([]byte(s), f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.Validate(); err != nil || c.Features != nil {
			t.Fatalf("%s: features %+v, %v", f, c.Features, err)
		}
		tree, _ := c.tree()
		if strings.Contains(string(tree), "features") {
			t.Fatalf("%s: tree %s has features", f, tree)
		}
	}
}

// Each validation rule, broken in a config that still parses.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(c *Config)
		wantErr string // "" means valid
	}{
		{"sample", func(*Config) {}, ""},
		{"no features", func(c *Config) { c.Features = nil }, ""},
		{"no routes, no backends", func(c *Config) { c.Routes, c.Backends = nil, nil }, ""},
		{"weight 0", func(c *Config) { c.Backends["primary"] = Backend{URL: "http://x", Weight: 0} }, ""},
		{"status bounds", func(c *Config) { c.Routes[0].Status, c.Routes[1].Status = 100, 599 }, ""},
		{"empty greeting", func(c *Config) { c.Greeting = "" }, "greeting: must be a non-empty string"},
		{"relative path", func(c *Config) { c.Routes[1].Path = "api" }, `routes[1].path: "api" must start with /`},
		{"empty path", func(c *Config) { c.Routes[0].Path = "" }, `routes[0].path: "" must start with /`},
		{"status 99", func(c *Config) { c.Routes[0].Status = 99 }, "routes[0].status: 99 not in 100..599"},
		{"status 600", func(c *Config) { c.Routes[2].Status = 600 }, "routes[2].status: 600 not in 100..599"},
		{"status missing", func(c *Config) { c.Routes[2].Status = 0 }, "routes[2].status: 0 not in 100..599"},
		{"duplicate path", func(c *Config) { c.Routes[2].Path = c.Routes[0].Path },
			`routes[2].path: "/hello" is already the path of routes[0]`},
		{"max_inflight 0", func(c *Config) { c.Limits.MaxInflight = 0 }, "limits.max_inflight: 0 must be > 0"},
		{"burst negative", func(c *Config) { c.Limits.Burst = -1 }, "limits.burst: -1 must be > 0"},
		{"negative weight", func(c *Config) { c.Backends["secondary"] = Backend{URL: "http://x", Weight: -2} },
			"backends.secondary.weight: -2 must be >= 0"},
		{"no listen", func(c *Config) { c.Server.Listen = "" }, "server.listen: required"},
		{"no admin_listen", func(c *Config) { c.Server.AdminListen = "" }, "server.admin_listen: required"},
		{"same addresses", func(c *Config) { c.Server.AdminListen = c.Server.Listen }, "is also server.listen"},
		{"two violations", func(c *Config) { c.Greeting, c.Limits.Burst = "", 0 }, "greeting: must be a non-empty string; limits.burst: 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(sample(t, FormatYAML), FormatYAML)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(c)
			err = c.Validate()
			wanterr.Check(t, err, tc.wantErr)
		})
	}
}

func TestValidateReloadKeepsListenAddresses(t *testing.T) {
	live, _ := Parse(sample(t, FormatTOML), FormatTOML)
	for _, tc := range []struct {
		name    string
		edit    func(c *Config)
		wantErr string
	}{
		{"same addresses", func(c *Config) { c.Greeting = "changed" }, ""},
		{"listen moved", func(c *Config) { c.Server.Listen = "127.0.0.1:1" },
			`server.listen: "127.0.0.1:1" differs from the live "` + testListen + `"; the listen addresses cannot change on reload`},
		{"admin moved", func(c *Config) { c.Server.AdminListen = "0.0.0.0:18182" },
			`server.admin_listen: "0.0.0.0:18182" differs from the live "` + testAdmin + `"`},
		{"rule and move", func(c *Config) { c.Limits.Burst, c.Server.Listen = 0, "127.0.0.1:1" },
			"limits.burst: 0 must be > 0; server.listen:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, _ := Parse(sample(t, FormatTOML), FormatTOML)
			tc.edit(next)
			err := ValidateReload(live, next)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
