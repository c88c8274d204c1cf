package configs

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// defaultYAML is the documented default configuration; it is the defaults
// layer of every Load.
//
//go:embed civicd.yaml
var defaultYAML string

// DefaultYAML returns the documented default configuration file that is
// built into the binary.
func DefaultYAML() string { return defaultYAML }

// maxFileBytes bounds the size of a config file.
const maxFileBytes = 1 << 20

// adminPasswordEnv is read by main on first run; it is not a config key.
const adminPasswordEnv = "CIVIC_ADMIN_PASSWORD"

// Load reads the config file at path over the built-in defaults, applies
// CIVIC_* overrides from the process environment and validates the result.
// With path "" only the defaults and the environment are used; a path that
// is given but missing is an error. Errors are one line; problems with a
// key or value are *Error.
func Load(path string) (*Config, error) {
	return LoadWithEnv(path, os.Environ())
}

// LoadWithEnv is Load with the environment given as "NAME=value" strings,
// as from os.Environ; when a name repeats, the last one wins.
//
// Every key can be overridden by CIVIC_ + the key in upper case with dots
// as underscores (see EnvVar). Lists are comma-separated;
// CIVIC_WEBRTC_ICE_SERVERS is a JSON list of objects. Other CIVIC_*
// variables are ignored (see UnknownEnv).
func LoadWithEnv(path string, environ []string) (*Config, error) {
	var file []byte
	if path != "" {
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		file = data
	}
	return load(path, file, environ)
}

// readFile reads a config file of at most maxFileBytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("config: %s: larger than %d bytes, which is too big for a config file", path, maxFileBytes)
	}
	return data, nil
}

// load layers defaults < file (when name != "") < environment with viper,
// decodes strictly and validates.
func load(name string, file []byte, environ []string) (*Config, error) {
	v := viper.New()

	defaults, err := parseYAML("built-in defaults", []byte(defaultYAML))
	if err != nil {
		return nil, err
	}
	setDefaults(v, defaults, "")

	if name != "" {
		m, err := parseYAML(name, file)
		if err != nil {
			return nil, err
		}
		if err := v.MergeConfigMap(m); err != nil {
			return nil, fmt.Errorf("config: merge %s: %w", name, err)
		}
	}

	overrides, sources, err := envOverrides(environ)
	if err != nil {
		return nil, err
	}
	for _, l := range leafFields() {
		if val, ok := overrides[l.key]; ok {
			v.Set(l.key, val)
		}
	}

	var c Config
	if err := v.Unmarshal(&c, strictDecoding); err != nil {
		// parseYAML and envOverrides check keys and types first, so this
		// only fails if they and the struct disagree.
		return nil, fmt.Errorf("config: decode: %s", oneLine(err.Error()))
	}
	if err := c.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.Source == "" {
			ce.Source = sources[baseKey(ce.Key)]
		}
		return nil, err
	}
	return &c, nil
}

// strictDecoding makes viper's decode reject unused keys and any implicit
// type conversion.
func strictDecoding(dc *mapstructure.DecoderConfig) {
	dc.ErrorUnused = true
	dc.WeaklyTypedInput = false
	dc.DecodeHook = nil
}

// setDefaults sets every leaf of the nested map m as a viper default.
func setDefaults(v *viper.Viper, m map[string]any, prefix string) {
	for k, val := range m {
		if sub, ok := val.(map[string]any); ok {
			setDefaults(v, sub, prefix+k+".")
			continue
		}
		v.SetDefault(prefix+k, val)
	}
}

// baseKey strips list indexes: "webrtc.ice_servers[0].urls" gives
// "webrtc.ice_servers".
func baseKey(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		return key[:i]
	}
	return key
}

// leaf is one configuration key and the struct field behind it.
type leaf struct {
	key   string
	field reflect.StructField
}

func leafFields() []leaf {
	var out []leaf
	walkLeafTypes(reflect.TypeFor[Config](), "", func(key string, f reflect.StructField) {
		out = append(out, leaf{key, f})
	})
	return out
}

// envMap turns "NAME=value" strings into a map of the CIVIC_* variables.
func envMap(environ []string) map[string]string {
	env := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, envPrefix) {
			env[k] = v
		}
	}
	return env
}

// envOverrides converts the CIVIC_* variables that name config keys to
// values of the key's type. It returns the values and, for each key set,
// the variable it came from.
func envOverrides(environ []string) (map[string]any, map[string]string, error) {
	env := envMap(environ)
	values := make(map[string]any)
	sources := make(map[string]string)
	for _, l := range leafFields() {
		name := EnvVar(l.key)
		raw, ok := env[name]
		if !ok {
			continue
		}
		val, err := envValue(l, name, raw)
		if err != nil {
			return nil, nil, err
		}
		values[l.key] = val
		sources[l.key] = name
	}
	return values, sources, nil
}

// envValue converts the text of environment variable name to the type of
// the key l.
func envValue(l leaf, name, raw string) (any, error) {
	t := l.field.Type
	bad := func(expected string) error {
		var v any = raw
		if isSecret(l.field) {
			v = shape(redactedText)
		}
		return &Error{Key: l.key, Value: v, Expected: expected, Source: name}
	}
	switch {
	case t == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return nil, bad(expectDuration)
		}
		return d, nil
	case t.Kind() == reflect.String:
		return raw, nil
	case t.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return nil, bad(expectInt)
		}
		return n, nil
	case t.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return nil, bad(expectNumber)
		}
		return f, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list := []string{}
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		return list, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return envStructList(l, name, raw)
	}
	return nil, fmt.Errorf("config: %s: unsupported field type %s", l.key, t)
}

// envStructList parses a JSON list of objects (CIVIC_WEBRTC_ICE_SERVERS)
// and checks it like the same list in a YAML file.
func envStructList(l leaf, name, raw string) (any, error) {
	// The raw text may hold credentials, so it is never repeated.
	hidden := shape("(not shown, may hold credentials)")
	example := fmt.Sprintf("a JSON list of objects such as %s", exampleICEServersJSON)
	if strings.TrimSpace(raw) == "" {
		return []any{}, nil
	}
	// Decode as JSON (not as YAML, which differs on escapes such as \/),
	// then check the result like the same list in a YAML file.
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, &Error{Key: l.key, Value: hidden, Source: name, Expected: fmt.Sprintf("%s (%v)", example, err)}
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, fmt.Errorf("config: %s: convert %s: %w", l.key, name, err)
	}
	root := &n
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	d := decoder{source: name}
	return d.value(root, l.field.Type, l.key, false)
}

const exampleICEServersJSON = `[{"urls":["turn:turn.example.org:3478"],"username":"civic","credential":"secret"}]`

// UnknownEnv returns, sorted, the CIVIC_* variables in environ that are
// neither a config key's override nor CIVIC_ADMIN_PASSWORD. Load ignores
// them; main may warn about them, as they are often typos.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{adminPasswordEnv: true}
	for _, k := range Keys() {
		known[EnvVar(k)] = true
	}
	var out []string
	for name := range envMap(environ) {
		if !known[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// syntaxError is a file that is not valid YAML.
type syntaxError struct {
	name string
	err  error
}

func (e *syntaxError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "yaml: ")
	return oneLine(fmt.Sprintf("config: %s: invalid YAML: %s", e.name, msg))
}

func (e *syntaxError) Unwrap() error { return e.err }

// parseYAML parses one YAML document and checks it against Config: every
// key must exist, appear once and hold a value of the right type. It
// returns the values as nested maps for viper; empty and null sections are
// left out so they do not hide defaults.
func parseYAML(name string, data []byte) (map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]any{}, nil
		}
		return nil, &syntaxError{name: name, err: err}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, &syntaxError{name: name, err: err}
		}
		return nil, fmt.Errorf("config: %s: line %d: expected one YAML document, found a second one", name, extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return map[string]any{}, nil
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if isNull(root) {
		return map[string]any{}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: %s: line %d: expected keys such as \"http:\" at the top level, found %s", name, root.Line, formatValue(nodeValue(root)))
	}
	d := decoder{}
	m, err := d.section(root, reflect.TypeFor[Config](), "")
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// Expected-value phrases shared by the YAML and environment checks.
const (
	expectString   = "a string"
	expectInt      = "an integer"
	expectNumber   = "a number"
	expectDuration = `a duration such as "90s", "15m" or "12h"`
	expectMapping  = "a mapping of keys"
	expectStrings  = `a list of strings such as ["a", "b"]`
	expectMappings = "a list of mappings"
)

// decoder walks YAML nodes against the Config struct types.
type decoder struct {
	// source names the environment variable being parsed, if any.
	source string
}

func (d *decoder) fail(key string, n *yaml.Node, expected string, secret bool) *Error {
	v := nodeValue(n)
	if secret {
		v = shape(redactedText)
	}
	return &Error{Key: key, Value: v, Expected: expected, Source: d.source}
}

// resolve follows alias nodes to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// nodeValue is n as shown in an error: strings as strings, other scalars
// as written, mappings and lists as {...} and [...].
func nodeValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		return shapeMapping
	case yaml.SequenceNode:
		return shapeList
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value
		case "!!null":
			return nil
		}
	}
	return shape(n.Value)
}

// section checks a mapping against struct type t. It returns nil for a
// null or empty mapping.
func (d *decoder) section(n *yaml.Node, t reflect.Type, prefix string) (map[string]any, error) {
	n = resolve(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.fail(strings.TrimSuffix(prefix, "."), n, expectMapping, false)
	}
	out := make(map[string]any)
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), n.Content[i+1]
		name := "[...]"
		if kn.Kind == yaml.ScalarNode {
			name = kn.Value
		}
		f, ok := fieldByKey(t, name)
		if !ok || kn.Kind != yaml.ScalarNode {
			return nil, unknownKeyError(prefix, name, t, d.source)
		}
		if seen[name] {
			return nil, &Error{Key: prefix + name, Value: nodeValue(resolve(vn)), Expected: "each key only once, but it is set twice", Source: d.source}
		}
		seen[name] = true
		val, err := d.value(vn, f.Type, prefix+name, isSecret(f))
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[name] = val
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// value checks one value against type t and returns it in the form
// viper's decoder assigns directly. It returns nil for a section that sets
// nothing.
func (d *decoder) value(n *yaml.Node, t reflect.Type, key string, secret bool) (any, error) {
	n = resolve(n)
	switch {
	case isSection(t):
		m, err := d.section(n, t, key+".")
		if err != nil || m == nil {
			return nil, err
		}
		return m, nil
	case t == durationType:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			if dur, err := time.ParseDuration(n.Value); err == nil {
				return dur, nil
			}
		}
		return nil, d.fail(key, n, expectDuration, secret)
	case t.Kind() == reflect.String:
		if isNull(n) {
			return "", nil
		}
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			return n.Value, nil
		}
		return nil, d.fail(key, n, expectString, secret)
	case t.Kind() == reflect.Int:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
			var i int64
			if err := n.Decode(&i); err == nil && int64(int(i)) == i {
				return int(i), nil
			}
		}
		return nil, d.fail(key, n, expectInt, secret)
	case t.Kind() == reflect.Float64:
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			var f float64
			if err := n.Decode(&f); err == nil {
				return f, nil
			}
		}
		return nil, d.fail(key, n, expectNumber, secret)
	case t.Kind() == reflect.Slice:
		return d.list(n, t, key, secret)
	}
	return nil, fmt.Errorf("config: %s: unsupported field type %s", key, t)
}

// list checks a YAML sequence against slice type t. Null is an empty list.
func (d *decoder) list(n *yaml.Node, t reflect.Type, key string, secret bool) (any, error) {
	elem := t.Elem()
	structs := isSection(elem)
	if n.Kind != yaml.SequenceNode && !isNull(n) {
		if structs {
			return nil, d.fail(key, n, expectMappings, secret)
		}
		return nil, d.fail(key, n, expectStrings, secret)
	}
	if elem.Kind() == reflect.String {
		out := []string{}
		for i, item := range n.Content {
			v, err := d.value(item, elem, fmt.Sprintf("%s[%d]", key, i), secret)
			if err != nil {
				return nil, err
			}
			out = append(out, v.(string))
		}
		return out, nil
	}
	if !structs {
		return nil, fmt.Errorf("config: %s: unsupported field type %s", key, t)
	}
	out := []any{}
	for i, item := range n.Content {
		itemKey := fmt.Sprintf("%s[%d]", key, i)
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			return nil, d.fail(itemKey, item, expectMapping, secret)
		}
		m, err := d.section(item, elem, itemKey+".")
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]any{}
		}
		out = append(out, m)
	}
	return out, nil
}

// fieldByKey finds the field of struct type t whose key is name.
func fieldByKey(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if k := fieldKey(f); k != "" && k == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// isSecret reports whether a field holds a secret that errors and logs
// must not show.
func isSecret(f reflect.StructField) bool {
	return f.Tag.Get("redact") == "true"
}
