// Package cfgsvc is a small service of the kind a team writes for itself: no
// version key in its config, strict decoding (JSON, YAML or TOML), listen
// addresses taken only from the config file, and the reload outcome exposed as
// Prometheus metrics. The --apply-invalid switch applies a config that parses
// but fails validation and reports it as a successful reload.
package cfgsvc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// Config is the document cfgsvc serves, the same in all three formats.
type Config struct {
	Server   ServerConfig       `json:"server" yaml:"server" toml:"server"`
	Greeting string             `json:"greeting" yaml:"greeting" toml:"greeting"`
	Routes   []Route            `json:"routes" yaml:"routes" toml:"routes"`
	Limits   Limits             `json:"limits" yaml:"limits" toml:"limits"`
	Backends map[string]Backend `json:"backends" yaml:"backends" toml:"backends"`
	Features *Features          `json:"features,omitempty" yaml:"features" toml:"features"`
}

// ServerConfig holds the two listen addresses; they are bound at startup and
// may not change on reload.
type ServerConfig struct {
	Listen      string `json:"listen" yaml:"listen" toml:"listen"`
	AdminListen string `json:"admin_listen" yaml:"admin_listen" toml:"admin_listen"`
}

// Route is what GET Path answers on the main listener.
type Route struct {
	Path   string `json:"path" yaml:"path" toml:"path"`
	Status int    `json:"status" yaml:"status" toml:"status"`
	Body   string `json:"body" yaml:"body" toml:"body"`
}

// Limits are two positive integers (served back, not enforced).
type Limits struct {
	MaxInflight int `json:"max_inflight" yaml:"max_inflight" toml:"max_inflight"`
	Burst       int `json:"burst" yaml:"burst" toml:"burst"`
}

// Backend is one named upstream (served back, never dialled).
type Backend struct {
	URL    string `json:"url" yaml:"url" toml:"url"`
	Weight int    `json:"weight" yaml:"weight" toml:"weight"`
}

// Features is the optional section; nil when the file has none.
type Features struct {
	Tracing     bool `json:"tracing" yaml:"tracing" toml:"tracing"`
	Compression bool `json:"compression" yaml:"compression" toml:"compression"`
}

// Config formats (--format).
const (
	FormatAuto = "auto"
	FormatJSON = "json"
	FormatYAML = "yaml"
	FormatTOML = "toml"
)

// FormatFor resolves --format: auto picks by the extension of path (.json,
// .yaml, .yml, .toml); an explicit format is returned as is.
func FormatFor(format, path string) (string, error) {
	switch format {
	case FormatJSON, FormatYAML, FormatTOML:
		return format, nil
	case FormatAuto, "":
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			return FormatJSON, nil
		case ".yaml", ".yml":
			return FormatYAML, nil
		case ".toml":
			return FormatTOML, nil
		}
		return "", fmt.Errorf("cannot tell the format of %q from its extension (want .json, .yaml, .yml or .toml): pass --format json|yaml|toml", path)
	}
	return "", fmt.Errorf("%q: want auto, json, yaml or toml", format)
}

// ErrEmpty is the parse error of a document with no keys at all.
var ErrEmpty = errors.New("empty config")

// Parse decodes data strictly in format. A parse error means the document is
// not a config at all: a syntax or type error, an unknown key (keys match
// exactly, case included), a duplicate key, trailing data after the JSON
// object or a second YAML document, or no keys at all (ErrEmpty). Such a
// config is rejected in every mode; Validate is the separate rule check.
func Parse(data []byte, format string) (*Config, error) {
	var (
		c   *Config
		err error
	)
	switch format {
	case FormatJSON:
		c, err = parseJSON(data)
	case FormatYAML:
		c, err = parseYAML(data)
	case FormatTOML:
		c, err = parseTOML(data)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		if errors.Is(err, ErrEmpty) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %s", format, oneLine(strings.TrimPrefix(err.Error(), format+": ")))
	}
	return c, nil
}

// oneLine joins a multi-line decoder message (yaml.v3 lists one error per
// line) into one line, so that it fits one log field.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}

func parseJSON(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the top-level object (offset %d)", dec.InputOffset())
	}
	// encoding/json matches field names case-insensitively and lets a
	// duplicate key win silently; walk the tokens again to rule both out.
	keys, err := checkJSONKeys(data)
	if err != nil {
		return nil, err
	}
	if keys == 0 {
		return nil, ErrEmpty
	}
	return &c, nil
}

func parseYAML(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one document")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode || len(doc.Content[0].Content) == 0 {
		return nil, ErrEmpty
	}
	return &c, nil
}

func parseTOML(data []byte) (*Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return nil, err
	}
	// Undecoded lists the keys no field took; BurntSushi/toml also falls back
	// to a case-insensitive field match, and keys must match exactly.
	var unknown []string
	for _, k := range md.Undecoded() {
		unknown = append(unknown, k.String())
	}
	keys := md.Keys()
	for _, k := range keys {
		if _, ok := schemaType(configType, k); !ok && !slices.Contains(unknown, k.String()) {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown key(s): %s", strings.Join(unknown, ", "))
	}
	if len(keys) == 0 {
		return nil, ErrEmpty
	}
	return &c, nil
}

var configType = reflect.TypeFor[Config]()

// childType is the type under key in a value of type t: a struct field whose
// json name is exactly key, or a map's element. ok is false for a key the
// schema does not have. A nil t (a value of unknown shape) accepts anything.
func childType(t reflect.Type, key string) (reflect.Type, bool) {
	if t == nil {
		return nil, true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == key {
				return t.Field(i).Type, true
			}
		}
		return nil, false
	case reflect.Map:
		return t.Elem(), true
	}
	return nil, true // a type mismatch; the typed decode reports it
}

// elemType is the element type of a list of type t (nil if t is not a list).
func elemType(t reflect.Type) reflect.Type {
	if t != nil && t.Kind() == reflect.Slice {
		return t.Elem()
	}
	return nil
}

// schemaType follows a key path (TOML style: list levels take no key) from t.
func schemaType(t reflect.Type, path []string) (reflect.Type, bool) {
	for _, k := range path {
		for t != nil && t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		var ok bool
		if t, ok = childType(t, k); !ok {
			return nil, false
		}
	}
	return t, true
}

// checkJSONKeys walks a JSON document that already decoded into a Config and
// rejects duplicate keys and keys matching a field only case-insensitively. It
// returns the number of top-level keys.
func checkJSONKeys(data []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkJSON(dec, configType, "")
}

func walkJSON(dec *json.Decoder, t reflect.Type, where string) (int, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return 0, nil
	}
	n := 0
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return 0, err
			}
			key, _ := kt.(string)
			at := strings.TrimPrefix(where+"."+key, ".")
			if seen[key] {
				return 0, fmt.Errorf("duplicate key %s", at)
			}
			seen[key] = true
			ct, ok := childType(t, key)
			if !ok {
				return 0, fmt.Errorf("unknown field %q", at)
			}
			if _, err := walkJSON(dec, ct, at); err != nil {
				return 0, err
			}
			n++
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if _, err := walkJSON(dec, elemType(t), fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return 0, err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return n, err
}

// Validate checks the rules a config can break while still parsing. Every
// violation is reported, in a fixed order, joined by "; ".
func (c *Config) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Server.Listen == "" {
		add("server.listen: required")
	}
	if c.Server.AdminListen == "" {
		add("server.admin_listen: required")
	}
	if c.Server.Listen != "" && c.Server.Listen == c.Server.AdminListen {
		add("server.admin_listen: %q is also server.listen", c.Server.AdminListen)
	}
	if c.Greeting == "" {
		add("greeting: must be a non-empty string")
	}
	first := map[string]int{}
	for i, r := range c.Routes {
		if !strings.HasPrefix(r.Path, "/") {
			add("routes[%d].path: %q must start with /", i, r.Path)
		}
		if r.Status < 100 || r.Status > 599 {
			add("routes[%d].status: %d not in 100..599", i, r.Status)
		}
		if j, dup := first[r.Path]; dup {
			add("routes[%d].path: %q is already the path of routes[%d]", i, r.Path, j)
		} else {
			first[r.Path] = i
		}
	}
	if c.Limits.MaxInflight <= 0 {
		add("limits.max_inflight: %d must be > 0", c.Limits.MaxInflight)
	}
	if c.Limits.Burst <= 0 {
		add("limits.burst: %d must be > 0", c.Limits.Burst)
	}
	names := make([]string, 0, len(c.Backends))
	for name := range c.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if w := c.Backends[name].Weight; w < 0 {
			add("backends.%s.weight: %d must be >= 0", name, w)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// ValidateReload is Validate plus the reload-only rule: the listen addresses
// of next must be those of live, which are bound for the life of the process.
func ValidateReload(live, next *Config) error {
	var errs []string
	if err := next.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if live != nil {
		if next.Server.Listen != live.Server.Listen {
			errs = append(errs, fmt.Sprintf("server.listen: %q differs from the live %q; the listen addresses cannot change on reload (restart to move them)",
				next.Server.Listen, live.Server.Listen))
		}
		if next.Server.AdminListen != live.Server.AdminListen {
			errs = append(errs, fmt.Sprintf("server.admin_listen: %q differs from the live %q; the listen addresses cannot change on reload (restart to move them)",
				next.Server.AdminListen, live.Server.AdminListen))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// Digest is the lowercase hex SHA-256 of a config file's bytes: the config hash.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// tree is the /-/config document: the config with the file's field names;
// routes and backends are [] and {} rather than null when absent, and features
// is left out when the file has no such section.
func (c *Config) tree() ([]byte, error) {
	out := *c
	if out.Routes == nil {
		out.Routes = []Route{}
	}
	if out.Backends == nil {
		out.Backends = map[string]Backend{}
	}
	return json.Marshal(&out)
}
