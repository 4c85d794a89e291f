package lzms

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// Test inputs beyond the corpus package's: data for delta matches and for
// the x86 filter. All are the same for the same arguments, so golden files
// can name the input they hold.

// counters returns n bytes of little-endian counters of width bytes, going
// up by step: the bytes change linearly with a period of width, which is
// what delta matches capture.
func counters(n, width int, step uint64) []byte {
	b := make([]byte, 0, n+8)
	var w [8]byte
	for v := uint64(0); len(b) < n; v += step {
		binary.LittleEndian.PutUint64(w[:], v)
		b = append(b, w[:width]...)
	}
	return b[:n]
}

// image returns n bytes of rows of row bytes, 3-byte pixels with smooth
// gradients and a little noise, each row like the one before plus a little.
func image(seed uint64, n, row int) []byte {
	noise := corpus.Random(seed, n)
	b := make([]byte, n)
	for i := range b {
		y, x := i/row, i%row
		b[i] = byte(x*(x%3+1)/2+y*(x%3)) + noise[i]&1
	}
	return b
}

// x86Code returns n bytes resembling x86-64 machine code: every instruction
// kind the x86 filter translates, with targets drawn from a few addresses
// so that the filter gains confidence, among filler bytes and jumps.
func x86Code(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 4))
	targets := make([]int, 12)
	for i := range targets {
		targets[i] = r.IntN(max(n, 1))
	}
	b := make([]byte, 0, n+16)
	var op [4]byte
	for len(b) < n {
		var prefix []byte
		switch r.IntN(9) {
		case 0:
			prefix = []byte{0xE8} // CALL rel32
		case 1:
			prefix = []byte{0xFF, 0x15} // CALL [rip+disp32]
		case 2:
			prefix = []byte{0x48, 0x8D, 0x05} // LEA rax, [rip+disp32]
		case 3:
			prefix = []byte{0x48, 0x8B, 0x0D} // MOV rcx, [rip+disp32]
		case 4:
			prefix = []byte{0x4C, 0x8D, 0x15} // LEA r10, [rip+disp32]
		case 5:
			prefix = []byte{0xF0, 0x83, 0x05} // LOCK ADD [rip+disp32], imm8
		case 6:
			prefix = []byte{0xE9} // JMP rel32, never translated
		default:
			b = append(b, 0x55, 0x48, 0x89, 0xE5, byte(r.IntN(256)), 0xC3)
			continue
		}
		b = append(b, prefix...)
		rel := targets[r.IntN(len(targets))] - (len(b) + 4)
		binary.LittleEndian.PutUint32(op[:], uint32(int32(rel)))
		b = append(b, op[:]...)
		if prefix[0] == 0xF0 {
			b = append(b, 1)
		}
	}
	return b[:n]
}

// mixed returns n bytes alternating among the other kinds of input.
func mixed(seed uint64, n int) []byte {
	var b []byte
	for i := seed; len(b) < n; i++ {
		k := 1000 + int(i*7919%5000)
		switch i % 6 {
		case 0:
			b = append(b, corpus.Text(i, k)...)
		case 1:
			b = append(b, corpus.Binary(i, k)...)
		case 2:
			b = append(b, counters(k, 2, i)...)
		case 3:
			b = append(b, image(i, k, 64)...)
		case 4:
			b = append(b, x86Code(i, k)...)
		default:
			b = append(b, corpus.Random(i, k/8)...)
		}
	}
	return b[:n]
}

// generated returns the input a golden file names: kind, seed and size.
func generated(kind string, seed uint64, n int) ([]byte, error) {
	switch kind {
	case "text":
		return corpus.Text(seed, n), nil
	case "binary":
		return corpus.Binary(seed, n), nil
	case "random":
		return corpus.Random(seed, n), nil
	case "repeat":
		return corpus.Repeat(int(seed), n), nil
	case "zeros":
		return make([]byte, n), nil
	case "count16":
		return counters(n, 2, seed), nil
	case "count32":
		return counters(n, 4, seed), nil
	case "image":
		return image(seed, n, 3*61), nil
	case "x86":
		return x86Code(seed, n), nil
	case "mixed":
		return mixed(seed, n), nil
	}
	return nil, fmt.Errorf("unknown input kind %q", kind)
}
