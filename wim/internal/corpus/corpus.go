// Package corpus makes test inputs for the codec packages: random, text-like
// and binary-like bytes from a seed, and real files from the system. Only
// tests import it.
package corpus

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Random returns n pseudo-random bytes, the same for the same seed.
func Random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var words = strings.Fields(`the of and to in is that for it as with was on be by this are at from
	or have an they which one you were her all she there would their we him been has when who will
	more no if out so said what up its about into than them can only other new some could time
	these two may then do first any my now such like our over man me even most made after also
	compress chunk window image resource header table stream offset length symbol huffman`)

// Text returns n bytes of word salad with punctuation and line breaks.
func Text(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	var b bytes.Buffer
	for b.Len() < n {
		// Zipf-ish: favor early words.
		w := words[int(float64(len(words))*r.Float64()*r.Float64())]
		b.WriteString(w)
		switch r.IntN(12) {
		case 0:
			b.WriteString(".\n")
		case 1:
			b.WriteString(", ")
		default:
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// Binary returns n bytes resembling a table of records in an executable:
// small little-endian integers, opcode-like patterns, some noise.
func Binary(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, 0, n+16)
	var rec [16]byte
	for len(b) < n {
		switch r.IntN(5) {
		case 0:
			binary.LittleEndian.PutUint32(rec[:], uint32(r.IntN(4096)))
			binary.LittleEndian.PutUint32(rec[4:], 0x00401000+uint32(r.IntN(1<<16)))
			b = append(b, rec[:8]...)
		case 1:
			b = append(b, 0x48, 0x8b, byte(0x40+r.IntN(8)), byte(r.IntN(256)))
		case 2:
			b = append(b, make([]byte, r.IntN(12))...)
		case 3:
			// A CALL with a nearby relative target, as LZX's E8
			// translation expects.
			binary.LittleEndian.PutUint32(rec[1:], uint32(int32(r.IntN(1<<14)-1<<13)))
			rec[0] = 0xE8
			b = append(b, rec[:5]...)
		default:
			b = append(b, byte(r.IntN(256)), byte(r.IntN(16)))
		}
	}
	return b[:n]
}

// Files returns up to max bytes of the regular files under dir, or nil.
func Files(dir string, max int) []byte {
	var out []byte
	_ = filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || len(out) >= max {
			return filepath.SkipDir
		}
		if !de.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			out = append(out, b...)
		}
		return nil
	})
	return out[:min(len(out), max)]
}

// Repeat returns n bytes: a random prefix of pre bytes, then repeats of it,
// so an LZ77 encoder emits one match of length n-pre at offset pre.
func Repeat(pre, n int) []byte {
	b := Random(uint64(pre*7+n), pre)
	for len(b) < n {
		b = append(b, b[len(b)-pre])
	}
	return b
}
