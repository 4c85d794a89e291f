package main

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tomlDesignExample is the agent configuration of design.md section 7, verbatim.
const tomlDesignExample = `repository = "s3:https://minio.lab:9000/backups/wimsnap"   # or a local path
[status]
listen = "127.0.0.1:9465"            # /status (JSON) and /metrics (Prometheus)
[[job]]
name = "system"
sources = ["/"]
schedule = "30 2 * * *"              # robfig/cron spec; "@every 6h" works too
[job.retention]
keep-last = 3
keep-daily = 7
keep-weekly = 4
`

type tomlGoodCase struct {
	name string
	doc  string
	want map[string]any
}

type tomlBadCase struct {
	name string
	doc  string
	msg  string // a substring of the error message
	line int
}

func tomlDate(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// tomlGoodCases returns valid documents and what parseTOML must return for each.
func tomlGoodCases() []tomlGoodCase {
	cases := []tomlGoodCase{
		{"design example", tomlDesignExample, map[string]any{
			"repository": "s3:https://minio.lab:9000/backups/wimsnap",
			"status":     map[string]any{"listen": "127.0.0.1:9465"},
			"job": []map[string]any{{
				"name":      "system",
				"sources":   []any{"/"},
				"schedule":  "30 2 * * *",
				"retention": map[string]any{"keep-last": int64(3), "keep-daily": int64(7), "keep-weekly": int64(4)},
			}},
		}},
		{"empty", "", map[string]any{}},
		{"only comments", "# a\n\n   # b\n\t\n# c", map[string]any{}},
		{"crlf and bom", "\uFEFFa = 1\r\n# c\r\n[t]\r\nb = 'x'\r\n", map[string]any{"a": int64(1), "t": map[string]any{"b": "x"}}},
		{"no spaces and eof comment", "a=1\nb\t=\t2 #end", map[string]any{"a": int64(1), "b": int64(2)}},
		{"keys", "\"a b\" = 1\n'c.d' = 2\n\"\" = 3\n-_x1 = 4\n1234 = 5\n\"\\u00e9\" = 6", map[string]any{
			"a b": int64(1), "c.d": int64(2), "": int64(3), "-_x1": int64(4), "1234": int64(5), "é": int64(6),
		}},
		{"dotted keys", "a.b.c = 1\na . d = 2\n\"x\".'y' = 3\n3.14 = 4", map[string]any{
			"a": map[string]any{"b": map[string]any{"c": int64(1)}, "d": int64(2)},
			"x": map[string]any{"y": int64(3)},
			"3": map[string]any{"14": int64(4)},
		}},
		{"implicit table defined later", "[a.b]\nx = 1\n[a]\ny = 2\n[ c . \"d\" ]\n", map[string]any{
			"a": map[string]any{"b": map[string]any{"x": int64(1)}, "y": int64(2)},
			"c": map[string]any{"d": map[string]any{}},
		}},
		{"sub-table of dotted table", "[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true", map[string]any{
			"fruit": map[string]any{"apple": map[string]any{"color": "red", "texture": map[string]any{"smooth": true}}},
		}},
		{"arrays of tables", `[[fruits]]
name = "apple"
[fruits.physical]
color = "red"
[[fruits.varieties]]
name = "red delicious"
[[fruits.varieties]]
name = "granny smith"
[[fruits]]
[[fruits]]
name = "banana"
[[fruits.varieties]]
name = "plantain"
[[ spaced ]]
`, map[string]any{
			"fruits": []map[string]any{
				{
					"name":      "apple",
					"physical":  map[string]any{"color": "red"},
					"varieties": []map[string]any{{"name": "red delicious"}, {"name": "granny smith"}},
				},
				{},
				{"name": "banana", "varieties": []map[string]any{{"name": "plantain"}}},
			},
			"spaced": []map[string]any{{}},
		}},
		{"two jobs with retention", "[[job]]\nname = \"a\"\n[job.retention]\nkeep-last = 1\n[[job]]\nname = \"b\"\n[job.retention]\nkeep-last = 2\n",
			map[string]any{"job": []map[string]any{
				{"name": "a", "retention": map[string]any{"keep-last": int64(1)}},
				{"name": "b", "retention": map[string]any{"keep-last": int64(2)}},
			}}},
		{"basic strings", `a = "tab\there \"q\" back\\slash \b\f\r\n"
b = "\u00e9\U0001F600"
c = ""
d = "# not a comment"`, map[string]any{
			"a": "tab\there \"q\" back\\slash \b\f\r\n", "b": "é😀", "c": "", "d": "# not a comment",
		}},
		{"literal strings", `a = 'C:\Users\nobody'
b = '<\i\c*\s*>'
c = ''`, map[string]any{"a": `C:\Users\nobody`, "b": `<\i\c*\s*>`, "c": ""}},
		{"multi-line basic", "a = \"\"\"\nRoses\r\nViolets\"\"\"\nb = \"\"\"\\\n   The quick \\\n\n   fox\\\t\n\"\"\"\nc = \"\"\"a\"\"\"\"\nd = \"\"\"\"\"b\"\"\"\"\"\ne = \"\"\"\"\"\"\nf = \"\"\"x\\ty\"\"\"",
			map[string]any{"a": "Roses\nViolets", "b": "The quick fox", "c": "a\"", "d": "\"\"b\"\"", "e": "", "f": "x\ty"}},
		{"multi-line literal", "a = '''\nfirst\n  \\n second'''\nb = ''''b'''''\nc = '''I [dw]on't need \\d{2}'''",
			map[string]any{"a": "first\n  \\n second", "b": "'b''", "c": `I [dw]on't need \d{2}`}},
		{"integers", "a = +99\nb = -17\nc = 0\nd = +0\ne = -0\nf = 1_000\ng = 0xDEAD_beef\nh = 0o755\ni = 0b1101\nj = 9223372036854775807\nk = -9223372036854775808\nl = 0x00ff",
			map[string]any{
				"a": int64(99), "b": int64(-17), "c": int64(0), "d": int64(0), "e": int64(0), "f": int64(1000),
				"g": int64(0xdeadbeef), "h": int64(0o755), "i": int64(13), "j": int64(math.MaxInt64), "k": int64(math.MinInt64), "l": int64(255),
			}},
		{"floats", "a = 1.5\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\nf = 224_617.445_991\ng = inf\nh = -inf\ni = +inf\nj = 0e0\nk = 6.626e-34",
			map[string]any{
				"a": 1.5, "b": -0.01, "c": 5e22, "d": 1e6, "e": -0.02, "f": 224617.445991,
				"g": math.Inf(1), "h": math.Inf(-1), "i": math.Inf(1), "j": 0.0, "k": 6.626e-34,
			}},
		{"booleans", "t = true\nf = false", map[string]any{"t": true, "f": false}},
		{"offset date-times", "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 00:32:00.999999-07:00\nc = 1979-05-27t07:32:00z\nd = [1979-05-27T07:32:00.1234567891+01:30]",
			map[string]any{
				"a": tomlDate("1979-05-27T07:32:00Z"), "b": tomlDate("1979-05-27T00:32:00.999999-07:00"),
				"c": tomlDate("1979-05-27T07:32:00Z"), "d": []any{tomlDate("1979-05-27T07:32:00.123456789+01:30")},
			}},
		{"arrays", `a = []
b = [ 1, 2, 3, ]
c = [
  "x", # first
  # between
  'y',
]
d = [[1, 2], ["a"], []]
e = [1, "mixed", 1.5, true, { k = "v" }]
f = [ { x = 1 }, { y = 2 } ]`, map[string]any{
			"a": []any{}, "b": []any{int64(1), int64(2), int64(3)}, "c": []any{"x", "y"},
			"d": []any{[]any{int64(1), int64(2)}, []any{"a"}, []any{}},
			"e": []any{int64(1), "mixed", 1.5, true, map[string]any{"k": "v"}},
			"f": []any{map[string]any{"x": int64(1)}, map[string]any{"y": int64(2)}},
		}},
		{"inline tables", `a = {}
b = { x = 1, y = "two" }
c = { d.e = 1, d.f = 2, g = { h = [1,
  2] } }`, map[string]any{
			"a": map[string]any{}, "b": map[string]any{"x": int64(1), "y": "two"},
			"c": map[string]any{"d": map[string]any{"e": int64(1), "f": int64(2)}, "g": map[string]any{"h": []any{int64(1), int64(2)}}},
		}},
	}
	// The deepest value allowed: a key at depth 1 holding arrays down to depth 32.
	var deep any = []any{}
	for range 31 {
		deep = []any{deep}
	}
	return append(cases, tomlGoodCase{"deepest allowed",
		"a = " + strings.Repeat("[", 32) + strings.Repeat("]", 32), map[string]any{"a": deep}})
}

// tomlBadCases returns invalid documents, each with a substring of its error and the line it names.
func tomlBadCases() []tomlBadCase {
	deepKey := strings.TrimSuffix(strings.Repeat("a.", 33), ".")
	half := strings.TrimSuffix(strings.Repeat("a.", 17), ".")
	return []tomlBadCase{
		{"unterminated basic string", "a = \"abc\nb = 1", "unterminated string", 1},
		{"unterminated literal string", "x = 1\na = 'abc", "unterminated string", 2},
		{"unterminated multi-line basic", "a = 1\nb = \"\"\"abc\n\n", "unterminated multi-line string", 2},
		{"unterminated multi-line literal", "b = '''abc''\n", "unterminated multi-line string", 1},
		{"unterminated array", "a = [1,\n2\n", "unterminated array", 1},
		{"unterminated inline table", "a = { b = 1", "inline table not closed", 1},
		{"duplicate key", "a = 1\nb = 2\na = 3", "key a is defined twice", 3},
		{"duplicate key in section", "[[job]]\nname = \"x\"\nname = \"y\"", "key job.name is defined twice", 3},
		{"duplicate quoted key", "a = 1\n\"a\" = 2", "key a is defined twice", 2},
		{"duplicate key in inline table", "t = { a = 1, a = 2 }", "key a is defined twice", 1},
		{"table defined twice", "[a]\n[b]\n[a]", "defined twice", 3},
		{"implicit table defined twice", "[a.b]\n[a]\n[a]", "defined twice", 3},
		{"header after dotted keys", "[fruit]\napple.color = \"red\"\n[fruit.apple]", "already defined by dotted keys", 3},
		{"dotted keys into header table", "[a.b.c]\nz = 9\n[a]\nb.c.t = 1", "made by a [header]", 4},
		{"value then table", "a = 1\n[a]", "already a value", 2},
		{"value then dotted", "a = 1\na.b = 2", "a is a value, not a table", 2},
		{"dotted then value", "a.b = 1\na = 2", "key a is defined twice", 2},
		{"value in header path", "a = 1\n[a.b]", "a is a value, not a table", 2},
		{"table then array of tables", "[a]\n[[a]]", "already a table", 2},
		{"array of tables then table", "[[a]]\n[a]", "array of tables", 2},
		{"static array then array of tables", "a = []\n[[a]]", "an array value", 2},
		{"array of tables over dotted table", "[[a]]\nb = 1\n[x]\na.c = 1\n[[x.a]]", "already a table", 5},
		{"dotted key into array of tables", "[[a.b]]\n[a]\nb.y = 2", "b is an array of tables", 3},
		{"inline table then header", "a = {b = 1}\n[a]", "inline table", 2},
		{"inline table then dotted key", "a = {b = 1}\na.c = 2", "inline table", 2},
		{"inline table then sub-table", "a = {b = 1}\n[a.c]", "inline table", 2},
		{"invalid escape", `a = "\x41"`, "invalid escape: backslash followed by 'x'", 1},
		{"escaped space", "a = \"\"\"\\ x\"\"\"", "invalid escape", 1},
		{"surrogate escape", `a = "\uD800"`, "not a Unicode scalar value", 1},
		{"escape beyond unicode", `a = "\U00110000"`, "not a Unicode scalar value", 1},
		{"short escape", "a = 1\nb = \"\\u12\"", "needs 4 hex digits", 2},
		{"integer overflow", "a = 9223372036854775808", "does not fit in 64 bits", 1},
		{"negative overflow", "a = -9223372036854775809", "does not fit in 64 bits", 1},
		{"hex overflow", "a = 0x8000000000000000", "does not fit in 64 bits", 1},
		{"leading zero", "a = 012", "invalid integer", 1},
		{"double underscore", "a = 1__0", "invalid integer", 1},
		{"trailing underscore", "a = 1_", "invalid integer", 1},
		{"signed hex", "a = -0x10", "invalid integer", 1},
		{"upper-case prefix", "a = 0XFF", "invalid integer", 1},
		{"bad octal digit", "a = 0o8", "invalid base-8 integer", 1},
		{"float without fraction digits", "a = 1.", "invalid number", 1},
		{"float without integer part", "a = .5", "invalid number", 1},
		{"float leading zero", "a = 03.14", "invalid number", 1},
		{"empty exponent", "a = 1e", "invalid number", 1},
		{"double sign", "a = 1e+-5", "invalid number", 1},
		{"float overflow", "a = 1e999", "out of range", 1},
		{"bad character for key", "a = 1\n€ = 2", "expected a key, found '€'", 2},
		{"bad character in value", "a = 1\nb = @", "expected a value, found '@'", 2},
		{"control character in string", "a = \"x\x01\"", "control character U+0001 in a string", 1},
		{"control character in comment", "a = 1 # x\x7f", "control character U+007F in a comment", 1},
		{"invalid UTF-8", "a = 1\nb = \"\xff\"", "invalid UTF-8", 2},
		{"missing value", "a =\nb = 1", "key a has no value", 1},
		{"missing value before comment", "a = # c", "key a has no value", 1},
		{"missing value in array", "a = [1,,2]", "expected a value, found ','", 1},
		{"missing equals", "a 1", "expected '=' after key a", 1},
		{"bare word", "a = hello", "a string needs quotes", 1},
		{"capitalized boolean", "a = True", "a string needs quotes", 1},
		{"two values on a line", "a = 1 b = 2", "expected the end of the line, found 'b'", 1},
		{"new line in inline table", "a = { b = 1,\n c = 2 }", "inline table not closed", 1},
		{"trailing comma in inline table", "a = { b = 1, }", "trailing comma", 1},
		{"missing comma in array", "a = [1 2]", "expected ',' or ']'", 1},
		{"empty header", "[]", "expected a key", 1},
		{"empty key part", "[a..b]", "expected a key", 1},
		{"unclosed header", "[a\nb = 1", `"]" to close`, 1},
		{"unclosed array header", "[[a]\n", `"]]" to close`, 1},
		{"spaced array header", "[[a] ]\n", `"]]" to close`, 1},
		{"text after header", "[a] b = 1", "expected the end of the line", 1},
		{"multi-line key", "\"\"\"a\"\"\" = 1", "multi-line string cannot be a key", 1},
		{"too many quotes", "a = \"\"\"x\"\"\"\"\"\"", "6 quotes in a row", 1},
		{"local date", "d = 1979-05-27", "local date 1979-05-27 is not supported", 1},
		{"local date-time", "d = 1979-05-27T07:32:00", "local date-time", 1},
		{"local time", "t = 07:32:00", "local time", 1},
		{"day out of range", "d = 1979-02-30T00:00:00Z", "out of range", 1},
		{"bad offset", "d = 1979-02-01T00:00:00+1", "invalid offset", 1},
		{"offset hour out of range", "d = 1979-02-01T00:00:00+24:00", "invalid offset", 1},
		{"offset minute out of range", "d = 1979-02-01T00:00:00-07:60", "invalid offset", 1},
		{"leap second", "d = 1990-12-31T23:59:60Z", "out of range", 1},
		{"bare carriage return", "a = 1\rb = 2", "carriage return", 1},
		{"deep arrays", "a = " + strings.Repeat("[", 33) + strings.Repeat("]", 33), "nested deeper than 32", 1},
		{"deep inline tables", "a = " + strings.Repeat("{b=", 40), "nested deeper than 32", 1},
		{"long dotted key", deepKey + " = 1", "more than 32 dotted parts", 1},
		{"long header", "[" + deepKey + "]", "more than 32 dotted parts", 1},
		{"deep section and key", "x = 1\n[" + half + "]\n" + half + " = 1", "nested deeper than 32", 3},
	}
}

func TestParseTOMLGood(t *testing.T) {
	for _, tc := range tomlGoodCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTOML([]byte(tc.doc))
			if err != nil {
				t.Fatalf("parseTOML: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseTOML =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestParseTOMLBad(t *testing.T) {
	for _, tc := range tomlBadCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTOML([]byte(tc.doc))
			var te *tomlError
			if !errors.As(err, &te) {
				t.Fatalf("parseTOML = %v, %v; want a *tomlError", got, err)
			}
			if te.Line != tc.line || !strings.Contains(te.Msg, tc.msg) {
				t.Errorf("error %q; want line %d and %q", err, tc.line, tc.msg)
			}
		})
	}
}

func TestParseTOMLNaN(t *testing.T) {
	got, err := parseTOML([]byte("a = nan\nb = -nan\nc = +nan"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if f, ok := got[k].(float64); !ok || !math.IsNaN(f) {
			t.Errorf("%s = %#v; want NaN", k, got[k])
		}
	}
}

func TestParseTOMLTooLarge(t *testing.T) {
	doc := []byte("a = \"" + strings.Repeat("x", tomlMaxSize) + "\"")
	if _, err := parseTOML(doc); !errors.Is(err, errTOMLTooLarge) {
		t.Errorf("parseTOML(%d bytes) = %v; want errTOMLTooLarge", len(doc), err)
	}
	if _, err := parseTOML(doc[:tomlMaxSize-1]); err == nil || errors.Is(err, errTOMLTooLarge) {
		t.Errorf("parseTOML(%d bytes) = %v; want an unterminated string", tomlMaxSize-1, err)
	}
}

// TestParseTOMLShared checks that the result does not alias the input.
func TestParseTOMLShared(t *testing.T) {
	doc := []byte(`k = "value"`)
	got, err := parseTOML(doc)
	if err != nil {
		t.Fatal(err)
	}
	copy(doc, "xxxxxxxxxxx")
	if got["k"] != "value" {
		t.Errorf("k = %q after the input changed", got["k"])
	}
}

func BenchmarkParseTOML(b *testing.B) {
	doc := []byte(tomlDesignExample + strings.Repeat("[[job]]\nname = \"x\"\nsources = [\"/a\", \"/b\"]\n[job.retention]\nkeep-daily = 7\n", 50))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseTOML(doc); err != nil {
			b.Fatal(err)
		}
	}
}
