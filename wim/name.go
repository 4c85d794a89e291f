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
		return [2]uint16{0xDC00 + uint16(s[0])}, 1, 1
	case r >= 0x10000:
		r1, r2 := utf16.EncodeRune(r)
		return [2]uint16{uint16(r1), uint16(r2)}, 2, n
	}
	return [2]uint16{uint16(r)}, 1, n
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
