package wim

import (
	"encoding/binary"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Names in a WIM are UTF-16LE. In this package they are Go strings, and the
// mapping is lossless for every byte string a UNIX file system can hold:
//
//   - valid UTF-8 maps to the same characters in UTF-16;
//   - each byte that is not part of valid UTF-8 (0x80-0xFF) maps to the lone
//     low surrogate U+DC00+byte, as Python's "surrogateescape" does, and a
//     lone surrogate U+DC80-U+DCFF read from a WIM maps back to that byte;
//   - any other lone surrogate read from a WIM (only Windows makes one: its
//     names are any 16-bit units) becomes its 3-byte generalized UTF-8
//     ("WTF-8") form, which is also how Go's Windows calls hand such a name
//     to a program and take it back. Those three bytes encode as the
//     surrogate again, unless that would not be lone: a high surrogate
//     before bytes that are not UTF-8 (their escapes are low surrogates)
//     keeps its bytes escaped. So a name survives both ways, from a WIM
//     and from either system, except a lone U+DC80-U+DCFF from Windows,
//     which reads as the byte it escapes.
//
// wimlib reads an escaped byte as the WTF-8 form of the surrogate, so an
// invalid name applied by wimlib-imagex differs from the original in those
// bytes; wimsnap's own apply restores it byte for byte.

// encodeName appends the UTF-16 code units of name to dst.
func encodeName(dst []uint16, name string) []uint16 {
	for i := 0; i < len(name); {
		u, nu, n := nextUnits(name[i:])
		dst = append(dst, u[:nu]...)
		i += n
	}
	return dst
}

// appendNameUTF16LE appends the UTF-16LE bytes of name to b, as
// encodeName encodes it. No byte of name yields more than two bytes (one
// unit per byte of a rune, at most), so b grows once; ASCII bytes, most
// names, take no decoding.
func appendNameUTF16LE(b []byte, name string) []byte {
	start := len(b)
	b = slices.Grow(b, 2*len(name))
	out := b[start : start+2*len(name)]
	j := 0
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			out[j], out[j+1] = c, 0
			i, j = i+1, j+2
			continue
		}
		u, nu, n := nextUnits(name[i:])
		for _, c := range u[:nu] {
			binary.LittleEndian.PutUint16(out[j:], c)
			j += 2
		}
		i += n
	}
	return b[:start+j]
}

// nextUnits returns the one or two UTF-16 code units of the first rune of
// s (a byte that is not UTF-8 becoming U+DC00+byte) and its length in s.
func nextUnits(s string) (u [2]uint16, nu, n int) {
	r, n := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && n <= 1:
		if c, ok := loneSurrogate(s); ok {
			return [2]uint16{c}, 1, 3
		}
		return [2]uint16{0xDC00 + uint16(s[0])}, 1, 1
	case r >= 0x10000:
		r1, r2 := utf16.EncodeRune(r)
		return [2]uint16{uint16(r1), uint16(r2)}, 2, n
	}
	return [2]uint16{uint16(r)}, 1, n
}

// maxHighRun bounds the high surrogates after one that deciding whether it
// is lone looks at: a longer run of them keeps its bytes escaped up to the
// last maxHighRun+1, which keeps encoding linear on a hostile name.
const maxHighRun = 64

// loneSurrogate returns the surrogate whose WTF-8 form starts s, when it
// encodes as itself (see above): not one of the escapes U+DC80-U+DCFF, and
// not a high surrogate that the next unit would pair with. The decision
// looks at s alone, and a high surrogate that encodes as itself is
// followed by one that does too, or by valid UTF-8, or by nothing.
func loneSurrogate(s string) (uint16, bool) {
	c, ok := wtf8Surrogate(s)
	switch {
	case !ok || c >= 0xDC80 && c <= 0xDCFF:
		return 0, false
	case c >= 0xDC00:
		return c, true
	}
	rest := s[3:]
	for range maxHighRun {
		if h, ok := wtf8Surrogate(rest); !ok || h >= 0xDC00 {
			break
		}
		rest = rest[3:]
	}
	// What follows the run must not encode as a low unit: a byte that is
	// not UTF-8 (its escape), a low surrogate, or a high one past the limit.
	r, n := utf8.DecodeRuneInString(rest)
	return c, rest == "" || r != utf8.RuneError || n > 1
}

// wtf8Surrogate decodes the 3-byte WTF-8 form of a surrogate at the start
// of s.
func wtf8Surrogate(s string) (uint16, bool) {
	if len(s) < 3 || s[0] != 0xED || s[1] < 0xA0 || s[1] > 0xBF || s[2] < 0x80 || s[2] > 0xBF {
		return 0, false
	}
	return 0xD000 | uint16(s[1]&0x3F)<<6 | uint16(s[2]&0x3F), true
}

// decodeName converts UTF-16 code units to a name string.
func decodeName(u []uint16) string {
	return string(appendDecodedName(make([]byte, 0, len(u)), u))
}

// appendDecodedName appends what decodeName returns to b.
func appendDecodedName(b []byte, u []uint16) []byte {
	for i := 0; i < len(u); i++ {
		c := rune(u[i])
		switch {
		case c >= 0xD800 && c < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] < 0xE000:
			b = utf8.AppendRune(b, utf16.DecodeRune(c, rune(u[i+1])))
			i++
		case c >= 0xDC80 && c <= 0xDCFF:
			b = append(b, byte(c-0xDC00))
		case c >= 0xD800 && c < 0xE000:
			b = append(b, 0xED, byte(0x80|(c>>6)&0x3F), byte(0x80|c&0x3F))
		default:
			b = utf8.AppendRune(b, c)
		}
	}
	return b
}

// NameIsValid reports whether name converts to well-formed UTF-16, that is,
// whether it is valid UTF-8. Callers use it to warn about names that rely on
// the escape described above.
func NameIsValid(name string) bool { return utf8.ValidString(name) }
