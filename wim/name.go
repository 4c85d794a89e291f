package wim

import (
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
//   - any other lone surrogate read from a WIM (only Windows can make one)
//     becomes its 3-byte generalized UTF-8 ("WTF-8") form. Writing such a
//     name back escapes those three bytes, so it does not round-trip; this is
//     the one lossy case, and only for names no UNIX system created.
//
// wimlib reads an escaped byte as the WTF-8 form of the surrogate, so an
// invalid name applied by wimlib-imagex differs from the original in those
// bytes; wimsnap's own apply restores it byte for byte.

// encodeName appends the UTF-16 code units of name to dst.
func encodeName(dst []uint16, name string) []uint16 {
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n <= 1 {
			dst = append(dst, 0xDC00+uint16(name[i]))
			i++
			continue
		}
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = append(dst, uint16(r1), uint16(r2))
		} else {
			dst = append(dst, uint16(r))
		}
		i += n
	}
	return dst
}

// decodeName converts UTF-16 code units to a name string.
func decodeName(u []uint16) string {
	b := make([]byte, 0, len(u))
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
	return string(b)
}

// NameIsValid reports whether name converts to well-formed UTF-16, that is,
// whether it is valid UTF-8. Callers use it to warn about names that rely on
// the escape described above.
func NameIsValid(name string) bool { return utf8.ValidString(name) }
