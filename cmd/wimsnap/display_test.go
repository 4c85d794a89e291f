package main

import "testing"

func TestDisplayPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/plain/name with spaces", "/plain/name with spaces"},
		{"/unicode/Grüße/日本", "/unicode/Grüße/日本"},
		{`/back\slash:colon`, `/back\slash:colon`},
		{"/a\nb", `"/a\nb"`},
		{"/tab\tx", `"/tab\tx"`},
		{"/esc\x1b[31mred", `"/esc\x1b[31mred"`},
		{"/bidi\u202etxt.exe", `"/bidi\u202etxt.exe"`},
		{"/bad\xffutf8", `"/bad\xffutf8"`},
		{"/del\x7f", `"/del\x7f"`},
		{`"quoted`, `"\"quoted"`},
		{"/replacement\uFFFDchar", "/replacement\uFFFDchar"},
		{"", ""},
	} {
		if got := printable(c.in); got != c.want {
			t.Errorf("printable(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"stat /srv/a b: no such file", "stat /srv/a b: no such file"},
		{`"quoted" and \back`, `"quoted" and \back`},
		{"stat /a\nb: x", `stat /a\nb: x`},
		{"/esc\x1b[31mred\tx", `/esc\x1b[31mred\tx`},
		{"/bidi\u202etxt", `/bidi\u202etxt`},
		{"/caf\xe9 and \uFFFD", `/caf\xe9 and ` + "\uFFFD"},
	} {
		if got := oneLine(c.in); got != c.want {
			t.Errorf("oneLine(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
