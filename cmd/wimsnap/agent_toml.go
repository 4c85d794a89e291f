package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cfgTable reads one table of a parsed TOML document with typed getters.
// Every key read is marked used; unused reports the rest as unknown keys.
// Type errors are collected in errs rather than returned, so that a
// config's every mistake is reported at once.
type cfgTable struct {
	path string // "job[2].retention", for messages; "" for the root
	m    map[string]any
	used map[string]bool
	errs *[]error
}

func newCfgTable(path string, m map[string]any, errs *[]error) *cfgTable {
	if m == nil {
		m = map[string]any{}
	}
	return &cfgTable{path: path, m: m, used: map[string]bool{}, errs: errs}
}

// name returns the dotted name of key in the document.
func (t *cfgTable) name(key string) string {
	if key == "" {
		return t.path
	}
	if t.path == "" {
		return key
	}
	return t.path + "." + key
}

// fail records a mistake in the value of key; an error among args reads
// as the command line shows errors (shown: "invalid schedule", not
// "scheduler: invalid schedule").
func (t *cfgTable) fail(key, format string, args ...any) {
	for i, arg := range args {
		if err, ok := arg.(error); ok {
			args[i] = shown(err)
		}
	}
	*t.errs = append(*t.errs, fmt.Errorf("%s: %s", t.name(key), fmt.Sprintf(format, args...)))
}

func (t *cfgTable) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

func (t *cfgTable) get(key string) (any, bool) {
	v, ok := t.m[key]
	if ok {
		t.used[key] = true
	}
	return v, ok
}

// str returns the string at key, or def when it is absent.
func (t *cfgTable) str(key, def string) string {
	v, ok := t.get(key)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		t.fail(key, "want a string, got %s", tomlTypeName(v))
		return def
	}
	return s
}

// integer returns the integer at key, or def when it is absent; it must
// lie in [lo, hi].
func (t *cfgTable) integer(key string, def, lo, hi int64) int64 {
	v, ok := t.get(key)
	if !ok {
		return def
	}
	n, isInt := v.(int64)
	switch {
	case !isInt:
		t.fail(key, "want an integer, got %s", tomlTypeName(v))
		return def
	case n < lo || n > hi:
		t.fail(key, "%d is out of range [%d, %d]", n, lo, hi)
		return def
	}
	return n
}

// boolean returns the boolean at key, or def when it is absent.
func (t *cfgTable) boolean(key string, def bool) bool {
	v, ok := t.get(key)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		t.fail(key, "want true or false, got %s", tomlTypeName(v))
		return def
	}
	return b
}

// strings returns the array of strings at key; a single string is taken
// as an array of one.
func (t *cfgTable) strings(key string) []string {
	v, ok := t.get(key)
	if !ok {
		return nil
	}
	if s, isStr := v.(string); isStr {
		return []string{s}
	}
	arr, isArr := v.([]any)
	if !isArr {
		t.fail(key, "want an array of strings, got %s", tomlTypeName(v))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, isStr := e.(string)
		if !isStr {
			t.fail(key, "element %d: want a string, got %s", i+1, tomlTypeName(e))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// duration returns the Go duration ("90s", "10m", "1h30m") at key, or def
// when it is absent; it must lie in [lo, hi].
func (t *cfgTable) duration(key string, def, lo, hi time.Duration) time.Duration {
	s := t.str(key, "")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		t.fail(key, "%q is not a duration such as 90s, 10m or 1h30m", s)
		return def
	case d < lo || d > hi:
		t.fail(key, "%s is out of range [%s, %s]", d, lo, hi)
		return def
	}
	return d
}

// table returns the sub-table at key, empty when it is absent.
func (t *cfgTable) table(key string) *cfgTable {
	v, ok := t.get(key)
	m, isMap := v.(map[string]any)
	if ok && !isMap {
		t.fail(key, "want a table ([%s]), got %s", t.name(key), tomlTypeName(v))
	}
	return newCfgTable(t.name(key), m, t.errs)
}

// tables returns the array of tables at key ([[key]]).
func (t *cfgTable) tables(key string) []*cfgTable {
	v, ok := t.get(key)
	if !ok {
		return nil
	}
	arr, isArr := v.([]map[string]any)
	if !isArr {
		t.fail(key, "want an array of tables ([[%s]]), got %s", t.name(key), tomlTypeName(v))
		return nil
	}
	out := make([]*cfgTable, len(arr))
	for i, m := range arr {
		out[i] = newCfgTable(fmt.Sprintf("%s[%d]", t.name(key), i+1), m, t.errs)
	}
	return out
}

// unused reports every key of the table that no getter read, naming the
// known ones when a key looks misspelt.
func (t *cfgTable) unused(known ...string) {
	var keys []string
	for k := range t.m {
		if !t.used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg := "unknown key"
		if near := nearest(k, known); near != "" {
			msg += "; did you mean " + strconv.Quote(near) + "?"
		}
		t.fail(k, "%s", msg)
	}
}

// nearest returns the known key within two edits of k, if any.
func nearest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (short keys only).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("%T", v)
}

// knownKeys lists the keys of specs, for unused.
func knownKeys(specs []flagKey, more ...string) []string {
	out := slices.Clone(more)
	for _, s := range specs {
		out = append(out, s.key)
	}
	return out
}

// flagKey maps a config key to the command line flag it stands for.
type flagKey struct {
	key, flag string
	kind      flagKind
	min       int64 // flagInt: the least value
}

type flagKind int

const (
	flagString flagKind = iota
	flagPath            // a file name, relative to the config file's directory
	flagInt
	flagStrings // repeated flag
	flagTrue    // a boolean that adds the flag when true
	flagFalse   // a boolean that adds the flag when false
)

// flagArgs reads the keys specs from t and returns them as command line
// flags ("--flag=value"), in the order of specs.
// Paths of flagPath keys are taken relative to dir.
func (t *cfgTable) flagArgs(specs []flagKey, dir string) []string {
	var args []string
	for _, s := range specs {
		if !t.has(s.key) {
			continue
		}
		switch s.kind {
		case flagString:
			args = append(args, "--"+s.flag+"="+t.str(s.key, ""))
		case flagPath:
			args = append(args, "--"+s.flag+"="+absFrom(dir, t.str(s.key, "")))
		case flagInt:
			hi := int64(1 << 40)
			if s.flag == "threads" {
				hi = maxThreads // as checkThreads
			}
			args = append(args, "--"+s.flag+"="+strconv.FormatInt(t.integer(s.key, 0, s.min, hi), 10))
		case flagStrings:
			for _, v := range t.strings(s.key) {
				args = append(args, "--"+s.flag+"="+v)
			}
		case flagTrue, flagFalse:
			if t.boolean(s.key, false) == (s.kind == flagTrue) {
				args = append(args, "--"+s.flag)
			}
		}
	}
	return args
}

// quoteArgs renders a command line for a log line.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]#~;&|<>(){}") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
