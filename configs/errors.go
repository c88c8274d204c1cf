package configs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a configuration problem that names the key, the value found and
// what was expected. Its message is always one line, for example
//
//	config: http.listen = "abc": expected host:port such as ":8443"
//	config: unknown key "http.lisen" (did you mean "http.listen"?)
type Error struct {
	// Key is the configuration key, with list indexes for items inside a
	// list: "webrtc.ice_servers[0].urls[1]". For an unknown key it is the
	// key as written.
	Key string
	// Value is the offending value as read (a string, number, bool, list or
	// duration). Secrets are replaced by "REDACTED".
	Value any
	// Expected says what would have been accepted.
	Expected string
	// Source is the environment variable the value came from, or "" when it
	// came from the config file or the built-in defaults.
	Source string
	// Unknown is true when Key is not a configuration key.
	Unknown bool
	// Suggestion is the nearest known key when Unknown is true, or "".
	Suggestion string
}

// Error returns the one-line message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Unknown {
		fmt.Fprintf(&b, "unknown key %s", quote(e.Key))
		if e.Source != "" {
			fmt.Fprintf(&b, " in %s", e.Source)
		}
		if e.Suggestion != "" {
			fmt.Fprintf(&b, " (did you mean %s?)", quote(e.Suggestion))
		}
		if e.Expected != "" {
			fmt.Fprintf(&b, ": expected %s", e.Expected)
		}
		return oneLine(b.String())
	}
	fmt.Fprintf(&b, "%s = %s", e.Key, formatValue(e.Value))
	if e.Source != "" {
		fmt.Fprintf(&b, " (from %s)", e.Source)
	}
	fmt.Fprintf(&b, ": expected %s", e.Expected)
	return oneLine(b.String())
}

// maxValueRunes bounds how much of a bad value an error message repeats.
const maxValueRunes = 100

// quote quotes s as a Go string, shortened to maxValueRunes.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxValueRunes {
		r := []rune(s)
		return strconv.Quote(string(r[:maxValueRunes])) + "..."
	}
	return strconv.Quote(s)
}

// shape stands for a YAML mapping or list in an error message.
type shape string

func (s shape) String() string { return string(s) }

const (
	shapeMapping shape = "{...}"
	shapeList    shape = "[...]"
)

// formatValue renders a value for an error message: strings quoted, lists
// as JSON, everything else with %v; always bounded in length.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(x)
	case fmt.Stringer:
		return shorten(x.String())
	case []string, []any:
		data, err := json.Marshal(x)
		if err != nil {
			return shorten(fmt.Sprint(x))
		}
		return shorten(string(data))
	default:
		return shorten(fmt.Sprint(x))
	}
}

// shorten cuts s to maxValueRunes.
func shorten(s string) string {
	if utf8.RuneCountInString(s) > maxValueRunes {
		return string([]rune(s)[:maxValueRunes]) + "..."
	}
	return s
}

// oneLine escapes line breaks so a message always fits on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\u0085\u2028\u2029") {
		return s
	}
	r := strings.NewReplacer("\r", `\r`, "\n", `\n`, "\u2028", `\u2028`, "\u2029", `\u2029`, "\u0085", `\u0085`)
	return r.Replace(s)
}

// unknownKeyError builds the error for key name written under prefix inside
// a section of struct type section, with the nearest known key as a
// suggestion.
func unknownKeyError(prefix, name string, section reflect.Type, source string) *Error {
	e := &Error{Key: prefix + name, Unknown: true, Source: source}
	if sug := suggestSibling(name, section, true); sug != "" {
		e.Suggestion = prefix + sug
		return e
	}
	if prefix == "" && strings.Contains(name, ".") && knownKey(name) {
		// "http.listen: x" at the top level: the user flattened a section.
		first, rest, _ := strings.Cut(name, ".")
		last := rest[strings.LastIndex(rest, ".")+1:]
		e.Expected = fmt.Sprintf("nested keys: %q under %q, not one dotted key", last+":", first+":")
		return e
	}
	if !strings.Contains(prefix, "[") {
		// A known key put in the wrong section: suggest where it belongs.
		lower := strings.ToLower(name)
		for _, k := range Keys() {
			if k[strings.LastIndex(k, ".")+1:] == lower {
				e.Suggestion = k
				return e
			}
		}
	}
	if sug := suggestSibling(name, section, false); sug != "" {
		e.Suggestion = prefix + sug
	}
	return e
}

// suggestSibling returns the key of section nearest to name, or "".
// exact asks for a case-insensitive match only.
func suggestSibling(name string, section reflect.Type, exact bool) string {
	lower := strings.ToLower(name)
	best, bestDist := "", -1
	for i := range section.NumField() {
		k := fieldKey(section.Field(i))
		if k == "" {
			continue
		}
		limit := max(1, utf8.RuneCountInString(k)/4)
		if exact {
			limit = 0
		}
		d := editDistance(lower, k, limit)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

func knownKey(key string) bool {
	for _, k := range Keys() {
		if k == key {
			return true
		}
	}
	return false
}

// editDistance is the Levenshtein distance between a and b; it returns
// limit+1 early when the lengths alone differ by more than limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if diff := len(ra) - len(rb); diff > limit || -diff > limit {
		return limit + 1
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
