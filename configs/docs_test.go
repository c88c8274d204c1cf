package configs

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDefaultFileHasEveryKey checks that civicd.yaml sets every key of
// Config and that each key has a comment.
func TestDefaultFileHasEveryKey(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(DefaultYAML()), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			if k.HeadComment == "" && k.LineComment == "" {
				t.Errorf("civicd.yaml: key %s (line %d) has no comment", key, k.Line)
			}
			if v.Kind == yaml.MappingNode {
				walk(v, key+".")
				continue
			}
			got = append(got, key)
		}
	}
	walk(doc.Content[0], "")
	if want := Keys(); !slices.Equal(got, want) {
		t.Errorf("civicd.yaml keys, in order:\n got %v\nwant %v", got, want)
	}
}

// docRow is one row of the key table in docs/configuration.md.
type docRow struct {
	env, typ, def string
}

// readDocTable parses the key table of docs/configuration.md.
func readDocTable(t *testing.T) (map[string]docRow, []string) {
	t.Helper()
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := make(map[string]docRow)
	var order []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			t.Errorf("docs table row has %d cells, want 5: %s", len(cells), line)
			continue
		}
		key := strings.Trim(cells[0], "`")
		if _, dup := rows[key]; dup {
			t.Errorf("docs list %s twice", key)
		}
		rows[key] = docRow{env: strings.Trim(cells[1], "`"), typ: cells[2], def: cells[3]}
		order = append(order, key)
	}
	return rows, order
}

// docType is how the docs table names the type of a field.
func docType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == reflect.TypeFor[[]ICEServer]():
		return "list of ICE servers"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Int:
		return "integer"
	case t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list of strings"
	}
	return "unknown type " + t.String()
}

// docDefault is how the docs table shows a default value.
func docDefault(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "(empty)"
		}
		return "`" + x + "`"
	case time.Duration:
		return "`" + shortDuration(x) + "`"
	case []string:
		return "`[" + strings.Join(x, ", ") + "]`"
	case []ICEServer:
		if len(x) == 0 {
			return "`[]`"
		}
	}
	return fmt.Sprintf("`%v`", v)
}

// TestDocsListEveryKey checks docs/configuration.md against Config: the
// same keys in the same order, each with the right variable, type and
// default.
func TestDocsListEveryKey(t *testing.T) {
	rows, order := readDocTable(t)
	keys := Keys()
	for _, k := range keys {
		if _, ok := rows[k]; !ok {
			t.Errorf("docs/configuration.md does not list key %s", k)
		}
	}
	for _, k := range order {
		if !slices.Contains(keys, k) {
			t.Errorf("docs/configuration.md lists %s, which is not a key", k)
		}
	}
	if !slices.Equal(order, keys) && !t.Failed() {
		t.Errorf("docs table order %v, want struct order %v", order, keys)
	}

	types := make(map[string]reflect.Type)
	walkLeafTypes(reflect.TypeFor[Config](), "", func(key string, f reflect.StructField) { types[key] = f.Type })
	defaults := settings(mustLoad(t))
	for _, k := range keys {
		row, ok := rows[k]
		if !ok {
			continue
		}
		if want := EnvVar(k); row.env != want {
			t.Errorf("docs: %s has variable %s, want %s", k, row.env, want)
		}
		if want := docType(types[k]); row.typ != want {
			t.Errorf("docs: %s has type %q, want %q", k, row.typ, want)
		}
		if want := docDefault(defaults[k]); row.def != want {
			t.Errorf("docs: %s has default %s, want %s", k, row.def, want)
		}
	}
}
