package main

// The values of a TOML document: strings, numbers and date-times.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// lineString reads a one-line basic ("...", with escapes) or literal ('...') string.
func (p *tomlParser) lineString(quote byte) (string, error) {
	p.pos++
	var sb strings.Builder
	for {
		switch c := p.peek(); {
		case p.eof() || c == '\n' || c == '\r':
			return "", p.errorf("unterminated string: no closing %c on its line (use %s for a multi-line string)",
				quote, strings.Repeat(string(quote), 3))
		case c == quote:
			p.pos++
			return sb.String(), nil
		case c == '\\' && quote == '"':
			if err := p.escape(&sb); err != nil {
				return "", err
			}
		case tomlIsControl(c):
			return "", p.errorf("%s in a string; write it as an escape", p.found())
		default:
			sb.WriteByte(c)
			p.pos++
		}
	}
}

// multiLineString reads a triple-quoted basic or literal string. A new line right after the
// opening quotes is dropped, CRLF becomes LF, and in a basic string a backslash at the end
// of a line removes it and the white space that follows.
func (p *tomlParser) multiLineString(quote byte) (string, error) {
	start := p.line
	p.pos += 3
	if c := p.peek(); c == '\n' || c == '\r' {
		if err := p.newline(); err != nil {
			return "", err
		}
	}
	var sb strings.Builder
	for {
		switch c := p.peek(); {
		case p.eof():
			return "", p.errorAt(start, "unterminated multi-line string: no closing %s before the end of the file",
				strings.Repeat(string(quote), 3))
		case c == quote:
			if done, err := p.quoteRun(quote, &sb); done || err != nil {
				return sb.String(), err
			}
		case c == '\n' || c == '\r':
			if err := p.newline(); err != nil {
				return "", err
			}
			sb.WriteByte('\n')
		case c == '\\' && quote == '"':
			if err := p.backslash(&sb); err != nil {
				return "", err
			}
		case tomlIsControl(c):
			return "", p.errorf("%s in a string; write it as an escape", p.found())
		default:
			sb.WriteByte(c)
			p.pos++
		}
	}
}

// quoteRun consumes a run of quote characters inside a multi-line string. Fewer than three
// are content; three to five end the string, the extra ones being content.
func (p *tomlParser) quoteRun(quote byte, sb *strings.Builder) (done bool, err error) {
	n := 0
	for p.pos+n < len(p.src) && p.src[p.pos+n] == quote {
		n++
	}
	p.pos += n
	switch {
	case n < 3:
		sb.WriteString(strings.Repeat(string(quote), n))
		return false, nil
	case n > 5:
		return true, p.errorf("%d quotes in a row in a multi-line string; escape some of them", n)
	}
	sb.WriteString(strings.Repeat(string(quote), n-3))
	return true, nil
}

// backslash handles a backslash in a multi-line basic string: a line-ending backslash
// trims the new lines and white space after it; anything else is an escape.
func (p *tomlParser) backslash(sb *strings.Builder) error {
	i := p.pos + 1
	for i < len(p.src) && (p.src[i] == ' ' || p.src[i] == '\t') {
		i++
	}
	if i == len(p.src) || p.src[i] != '\n' && p.src[i] != '\r' {
		return p.escape(sb)
	}
	p.pos = i
	for {
		switch p.peek() {
		case ' ', '\t':
			p.pos++
		case '\n', '\r':
			if err := p.newline(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// escape decodes the escape sequence at the current backslash into sb.
func (p *tomlParser) escape(sb *strings.Builder) error {
	p.pos++
	c := p.peek()
	n := 0
	switch c {
	case 'b', 't', 'n', 'f', 'r', '"', '\\':
		sb.WriteByte(tomlEscaped[strings.IndexByte(tomlEscapeLetters, c)])
		p.pos++
		return nil
	case 'u':
		n = 4
	case 'U':
		n = 8
	default:
		return p.errorf("invalid escape: backslash followed by %s (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)", p.found())
	}
	var r rune
	for i := 1; i <= n; i++ {
		d := -1
		if p.pos+i < len(p.src) {
			d = tomlDigitValue(p.src[p.pos+i], 16)
		}
		if d < 0 {
			return p.errorf("invalid escape \\%c: it needs %d hex digits", c, n)
		}
		r = r<<4 | rune(d)
	}
	if !utf8.ValidRune(r) {
		return p.errorf("invalid escape \\%c%s: not a Unicode scalar value", c, p.src[p.pos+1:p.pos+1+n])
	}
	sb.WriteRune(r)
	p.pos += 1 + n
	return nil
}

// The one-letter escapes and, at the same index, the bytes they stand for.
const (
	tomlEscapeLetters = "btnfr\"\\"
	tomlEscaped       = "\b\t\n\f\r\"\\"
)

// tomlDigitValue returns the value of the digit c in the given base (at most 16), or -1.
func tomlDigitValue(c byte, base int) int {
	d := -1
	switch {
	case '0' <= c && c <= '9':
		d = int(c - '0')
	case 'a' <= c && c <= 'f':
		d = int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		d = int(c-'A') + 10
	}
	if d >= base {
		return -1
	}
	return d
}

// scalar reads a boolean, number or date-time.
func (p *tomlParser) scalar() (any, error) {
	tok := p.token()
	if tomlMatch(tok, "DDDD-DD-DD") && p.hasPrefix(" ") && p.pos+1 < len(p.src) && tomlDigitValue(p.src[p.pos+1], 10) >= 0 {
		p.pos++ // a date-time may separate date and time with a space
		tok += " " + p.token()
	}
	v, err := tomlScalar(tok)
	if err != nil {
		if tok == "" {
			return nil, p.errorf("expected a value, found %s", p.found())
		}
		return nil, p.errorf("%v", err)
	}
	return v, nil
}

// token consumes the run of characters that may make up a boolean, number or date-time.
func (p *tomlParser) token() string {
	start := p.pos
	for ; !p.eof(); p.pos++ {
		c := p.src[p.pos]
		if !tomlIsBare(c) && c != '+' && c != '.' && c != ':' {
			break
		}
	}
	return string(p.src[start:p.pos])
}

// tomlScalar converts a token to bool, int64, float64 or time.Time.
func tomlScalar(tok string) (any, error) {
	unsigned := tomlTrimSign(tok)
	switch {
	case tok == "":
		return nil, errors.New("expected a value")
	case tok == "true":
		return true, nil
	case tok == "false":
		return false, nil
	case len(tok) >= 10 && tomlMatch(tok[:10], "DDDD-DD-DD"):
		return tomlDateTime(tok)
	case len(tok) >= 8 && tomlMatch(tok[:8], "DD:DD:DD"):
		return nil, fmt.Errorf("local time %s is not supported: write a string instead", tok)
	case unsigned == "inf" && tok[0] == '-':
		return math.Inf(-1), nil
	case unsigned == "inf":
		return math.Inf(1), nil
	case unsigned == "nan":
		return math.NaN(), nil
	case len(tok) > 2 && tok[0] == '0' && strings.IndexByte("xob", tok[1]) >= 0:
		return tomlPrefixedInt(tok)
	case unsigned != "" && tomlIsBare(unsigned[0]) && tomlDigitValue(unsigned[0], 10) < 0:
		return nil, fmt.Errorf("invalid value %s (a string needs quotes)", tok)
	case strings.ContainsAny(tok, ".eE"):
		return tomlFloat(tok)
	}
	return tomlDecimalInt(tok)
}

// tomlTrimSign returns s without one leading '+' or '-'.
func tomlTrimSign(s string) string {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		return s[1:]
	}
	return s
}

// tomlDigits reports whether s is digits of the base with single underscores between them.
func tomlDigits(s string, base int) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i > 0 && i < len(s)-1 && s[i-1] != '_' {
			continue
		}
		if tomlDigitValue(s[i], base) < 0 {
			return false
		}
	}
	return s != ""
}

// tomlDecimalInt converts a signed decimal integer without leading zeros.
func tomlDecimalInt(tok string) (int64, error) {
	if digits := tomlTrimSign(tok); tomlDigits(digits, 10) && (digits[0] != '0' || len(digits) == 1) {
		return tomlParseInt(tok, tok, 10)
	}
	return 0, fmt.Errorf("invalid integer %s (no leading zeros; '_' only between digits)", tok)
}

// tomlPrefixedInt converts an unsigned 0x, 0o or 0b integer.
func tomlPrefixedInt(tok string) (int64, error) {
	base := 2
	switch tok[1] {
	case 'x':
		base = 16
	case 'o':
		base = 8
	}
	if !tomlDigits(tok[2:], base) {
		return 0, fmt.Errorf("invalid base-%d integer %s", base, tok)
	}
	return tomlParseInt(tok, tok[2:], base)
}

// tomlParseInt converts digits (underscores allowed) to int64; tok is quoted in errors.
func tomlParseInt(tok, digits string, base int) (int64, error) {
	n, err := strconv.ParseInt(strings.ReplaceAll(digits, "_", ""), base, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %s does not fit in 64 bits", tok)
	}
	return n, nil
}

// tomlFloat converts a decimal float: an integer part, then a fraction, an exponent or both.
func tomlFloat(tok string) (float64, error) {
	mant, exp, hasExp := strings.Cut(strings.ReplaceAll(tomlTrimSign(tok), "E", "e"), "e")
	whole, frac, hasFrac := strings.Cut(mant, ".")
	ok := tomlDigits(whole, 10) && (whole[0] != '0' || len(whole) == 1) &&
		(!hasFrac || tomlDigits(frac, 10)) && (!hasExp || tomlDigits(tomlTrimSign(exp), 10))
	if !ok {
		return 0, fmt.Errorf("invalid number %s", tok)
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(tok, "_", ""), 64)
	if err != nil {
		return 0, fmt.Errorf("float %s is out of range", tok)
	}
	return f, nil
}

// tomlMatch reports whether s has the shape of pattern, where 'D' stands for a decimal digit.
func tomlMatch(s, pattern string) bool {
	if len(s) != len(pattern) {
		return false
	}
	for i := range len(s) {
		if pattern[i] == 'D' && tomlDigitValue(s[i], 10) < 0 || pattern[i] != 'D' && s[i] != pattern[i] {
			return false
		}
	}
	return true
}

// tomlDateTime converts an offset date-time (RFC 3339 with T, t or a space between date and
// time) and explains why local dates and times are refused.
func tomlDateTime(tok string) (time.Time, error) {
	refuse := "local %s %s is not supported: add a time and an offset such as 1979-05-27T07:32:00Z, or quote it"
	if len(tok) == 10 {
		return time.Time{}, fmt.Errorf(refuse, "date", tok)
	}
	if len(tok) < 19 {
		return time.Time{}, fmt.Errorf("invalid date-time %s", tok)
	}
	date, rest := tok[:10], tok[11:]
	clock, zone := rest, ""
	if i := strings.LastIndexAny(rest, "Zz+-"); i >= 0 {
		clock, zone = rest[:i], rest[i:]
	}
	whole, frac, hasFrac := strings.Cut(clock, ".")
	if !strings.ContainsRune("Tt ", rune(tok[10])) || !tomlMatch(whole, "DD:DD:DD") ||
		hasFrac && !tomlDigits(frac, 10) || strings.Contains(frac, "_") {
		return time.Time{}, fmt.Errorf("invalid date-time %s", tok)
	}
	if zone == "" {
		return time.Time{}, fmt.Errorf(refuse, "date-time", tok)
	}
	if zone != "Z" && zone != "z" && (!tomlMatch(zone[1:], "DD:DD") || zone[1:3] > "23" || zone[4:] > "59") {
		return time.Time{}, fmt.Errorf("invalid offset in date-time %s", tok)
	}
	if len(frac) > 9 {
		frac = frac[:9] // TOML allows dropping precision that cannot be kept
	}
	norm := date + "T" + whole
	if hasFrac {
		norm += "." + frac
	}
	t, err := time.Parse(time.RFC3339Nano, norm+strings.ToUpper(zone))
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid date-time %s: out of range", tok)
	}
	return t, nil
}
