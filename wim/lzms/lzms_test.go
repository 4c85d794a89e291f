package lzms

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// TestSlots checks the slot tables' ends against the format's limits and
// the offset slot counts of some chunk sizes.
func TestSlots(t *testing.T) {
	if end := uint64(offsetSlots[maxOffsetSyms-1].base()) + 1<<offsetSlots[maxOffsetSyms-1].extra(); end != 1180427429 {
		t.Errorf("offset slots end at %d, want 1180427429 (largest offset + 1)", end)
	}
	if end := uint64(lengthSlots[numLengthSyms-1].base()) + 1<<lengthSlots[numLengthSyms-1].extra(); end != 1073809579 {
		t.Errorf("length slots end at %d, want 1073809579 (longest match + 1)", end)
	}
	for _, c := range []struct{ size, slots int }{
		{0, 0}, {1, 0}, {2, 1}, {3, 2}, {9, 8}, {10, 9}, {13, 9}, {14, 10},
		{131072, 203}, {64 << 20, 729}, {MaxChunkSize, 799},
	} {
		if got := numOffsetSlots(c.size); got != c.slots {
			t.Errorf("numOffsetSlots(%d) = %d, want %d", c.size, got, c.slots)
		}
	}
}

// TestDecodeArgs checks the errors for bad sizes and chunks.
func TestDecodeArgs(t *testing.T) {
	d := NewDecoder()
	for _, c := range []struct {
		name string
		src  []byte
		size int
	}{
		{"negative size", make([]byte, 8), -1},
		{"size too large", make([]byte, 8), MaxChunkSize + 1},
		{"short chunk", []byte{1, 2}, 10},
		{"odd chunk", make([]byte, 9), 10},
	} {
		out, err := d.Decode([]byte("x"), c.src, c.size)
		if !errors.Is(err, ErrCorrupt) || string(out) != "x" {
			t.Errorf("%s: got %q, %v; want dst unchanged and ErrCorrupt", c.name, out, err)
		}
	}
	if out, err := d.Decode([]byte("x"), nil, 0); err != nil || string(out) != "x" {
		t.Errorf("empty chunk: got %q, %v", out, err)
	}
}

// TestCodeLengths compares the code builder with a plain construction of
// the same rules on an explicit tree, for frequencies of every shape
// including ones that need the depth limit (which LZMS streams, halving
// their frequencies, never reach; the builder takes sums below 2^22).
func TestCodeLengths(t *testing.T) {
	r := corpus.Random(7, 1<<16)
	var b codeBuilder
	cases := map[string][]uint32{
		"two":       {1, 1},
		"equal":     repeatFreq(1, 256),
		"fibonacci": fibonacci(30),
		"geometric": geometric(20),
	}
	for i := range 40 {
		n := 2 + int(r[i])*(maxOffsetSyms-2)/255
		freqs := make([]uint32, n)
		for s := range freqs {
			freqs[s] = 1 + uint32(r[1000+i*800+s])>>(r[500+i]%8)
		}
		cases[string(rune('a'+i%26))+string(rune('0'+i/26))] = freqs
	}
	for name, freqs := range cases {
		got := make([]uint8, len(freqs))
		b.codeLengths(freqs, got)
		want := referenceLengths(freqs)
		for s := range freqs {
			if got[s] != want[s] {
				t.Fatalf("%s: symbol %d of %d has length %d, want %d", name, s, len(freqs), got[s], want[s])
			}
		}
		kraft := 0
		for _, l := range got {
			if l < 1 || l > maxCodeLen {
				t.Fatalf("%s: length %d", name, l)
			}
			kraft += 1 << (maxCodeLen - l)
		}
		if kraft != 1<<maxCodeLen {
			t.Fatalf("%s: code is not complete", name)
		}
		for _, bits := range []uint{7, 9, 11} {
			checkTable(t, got, bits, &b)
		}
	}
}

// checkTable builds the decoding table of the code with lengths lens and
// decodes every codeword, followed by ones and by zeros.
func checkTable(t *testing.T, lens []uint8, bits uint, b *codeBuilder) {
	t.Helper()
	tab := newHuffTable(len(lens), bits)
	tab.build(lens, b)
	// Canonical codewords: by length, then symbol.
	var next [maxCodeLen + 2]uint64
	var count [maxCodeLen + 1]uint64
	for _, l := range lens {
		count[l]++
	}
	for l := 1; l <= maxCodeLen; l++ {
		next[l+1] = (next[l] + count[l]) << 1
	}
	for s, l := range lens {
		cw := next[l]
		next[l]++
		for _, tail := range []uint64{0, ^uint64(0) >> l} {
			buf := cw<<(64-l) | tail
			sym, rest, nbits := tab.decode(buf, 64)
			if sym != uint32(s) || nbits != 64-uint(l) || rest != buf<<l {
				t.Fatalf("table (%d bits): codeword of symbol %d (length %d) decodes as %d, %d bits", bits, s, l, sym, 64-nbits)
			}
		}
	}
}

func repeatFreq(f uint32, n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = f
	}
	return s
}

// fibonacci returns frequencies that make the deepest tree for their sum.
func fibonacci(n int) []uint32 {
	s := []uint32{1, 1}
	for len(s) < n {
		s = append(s, s[len(s)-1]+s[len(s)-2])
	}
	return s
}

func geometric(n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = 1 << i
	}
	return s
}

// referenceLengths builds the code of the format's rules with explicit
// nodes: sort symbols by frequency then value; join the two least frequent
// nodes, a leaf before an internal node of equal frequency and internal
// nodes in creation order; walk the internal nodes from the root down,
// turning one leaf into two at each, or at the greatest length below the
// limit that has one when the node lies too deep; give the lengths out
// longest first along the sorted symbols.
func referenceLengths(freqs []uint32) []uint8 {
	type node struct {
		freq   uint32
		parent int
		depth  int
	}
	n := len(freqs)
	syms := make([]int, n)
	for i := range syms {
		syms[i] = i
	}
	for i := 1; i < n; i++ { // insertion sort: stable on equal keys
		for j := i; j > 0 && freqs[syms[j]] < freqs[syms[j-1]]; j-- {
			syms[j], syms[j-1] = syms[j-1], syms[j]
		}
	}
	var inner []node
	leaf, orphan := 0, 0
	pick := func(k int) uint32 {
		if leaf < n && (orphan == k || freqs[syms[leaf]] <= inner[orphan].freq) {
			leaf++
			return freqs[syms[leaf-1]]
		}
		inner[orphan].parent = k
		orphan++
		return inner[orphan-1].freq
	}
	for k := 0; k < n-1; k++ {
		inner = append(inner, node{})
		f := pick(k)
		inner[k].freq = f + pick(k)
	}
	count := make([]int, maxCodeLen+2)
	count[1] = 2
	for k := n - 3; k >= 0; k-- {
		inner[k].depth = inner[inner[k].parent].depth + 1
		l := inner[k].depth
		if l >= maxCodeLen {
			for l = maxCodeLen - 1; count[l] == 0; l-- {
			}
		}
		count[l]--
		count[l+1] += 2
	}
	lens := make([]uint8, n)
	i := 0
	for l := maxCodeLen; l >= 1; l-- {
		for range count[l] {
			lens[syms[i]] = uint8(l)
			i++
		}
	}
	return lens
}

// TestX86Filter compares the x86 filter with a byte-by-byte version of the
// rules in the package comment, over chunks in a row (the filter keeps
// state between them) and across the reset of its position base.
func TestX86Filter(t *testing.T) {
	var f x86Filter
	changed := 0
	for _, in := range x86Inputs(t) {
		data, n := in.data, len(in.data)
		want := referenceUndo(data)
		got := append([]byte(nil), data...)
		if n == 131072 {
			f.next = math.MaxInt32 - int32(n/2) // force a reset
		}
		f.undo(got)
		if d := codectest.FirstDiff(got, want); d != len(want) {
			t.Fatalf("%s, %d bytes: differs at %d", in.kind, n, d)
		}
		if !bytes.Equal(got, data) {
			changed++
		}
	}
	if changed < 10 {
		t.Errorf("only %d chunks changed", changed)
	}
}

// x86Input is a chunk of the x86 filter's tests and its kind.
type x86Input struct {
	kind string
	data []byte
}

// x86Inputs returns the x86 filter tests' chunks in the order they are
// filtered: code, binary, random and mixed data and opcodeSoup ("near") at
// sizes around the filter's bounds and up to 128 KiB.
func x86Inputs(t *testing.T) []x86Input {
	t.Helper()
	var ins []x86Input
	for i, n := range []int{0, 17, 18, 19, 40, 1000, 70000, 131072, 5000} {
		for _, kind := range []string{"x86", "binary", "random", "mixed", "near"} {
			data, err := generated(kind, uint64(i), n)
			if kind == "near" {
				data, err = opcodeSoup(uint64(i), n), nil
			}
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, x86Input{kind, data})
		}
	}
	return ins
}

// opcodeSoup returns n bytes drawn from the opcodes and operand bytes the
// filter looks for and their near misses (4C 8B, 48 8F, FF 25, F0 83 15,
// ModR/M bytes ending in 101 with high bits set), so that every rule and
// its neighbours meet in all alignments.
func opcodeSoup(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	set := []byte{0x48, 0x4C, 0x49, 0x8B, 0x8D, 0x89, 0x8F, 0x05, 0x0D, 0x15, 0x25, 0x85, 0x83,
		0xE8, 0xE9, 0xEA, 0xF0, 0xFF, 0x00}
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return b
}

// referenceUndo undoes the x86 translation in a copy of b, one byte at a
// time.
func referenceUndo(b []byte) []byte {
	b = append([]byte(nil), b...)
	if len(b) <= 17 {
		return b
	}
	lastUsed := make(map[uint16]int)
	codeAt := -1024
	for p := 1; p < len(b)-16; {
		n, reach := 0, 1023
		switch {
		case b[p] == 0xE8:
			n, reach = 1, 511
		case b[p] == 0xE9:
			p += 5
			continue
		case b[p] == 0xFF && b[p+1] == 0x15:
			n = 2
		case b[p] == 0xF0 && b[p+1] == 0x83 && b[p+2] == 0x05:
			n = 3
		case (b[p] == 0x48 || b[p] == 0x4C) && b[p+2]&7 == 5 && b[p+1] == 0x8D:
			n = 3
		case b[p] == 0x48 && b[p+2]&7 == 5 && b[p+1] == 0x8B && b[p+2]>>4 == 0:
			n = 3
		default:
			p++
			continue
		}
		op := b[p+n : p+n+4]
		if p-codeAt <= reach {
			binary.LittleEndian.PutUint32(op, binary.LittleEndian.Uint32(op)-uint32(p))
		}
		target := uint16(p + int(binary.LittleEndian.Uint16(op)))
		end := p + n + 3
		if last, ok := lastUsed[target]; ok && end-last <= 65535 {
			codeAt = end
		}
		lastUsed[target] = end
		p += n + 4
	}
	return b
}
