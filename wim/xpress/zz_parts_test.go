package xpress

import "testing"

func BenchmarkZZParse(b *testing.B) {
	src := randomBytes(1, 32768)
	e := NewEncoder()
	b.SetBytes(32768)
	for b.Loop() {
		e.parse(src)
	}
}

func BenchmarkZZEmit(b *testing.B) {
	src := randomBytes(1, 32768)
	e := NewEncoder()
	out := e.Encode(nil, src)
	b.SetBytes(32768)
	for b.Loop() {
		e.emit(out[tableBytes:], src)
	}
}

func BenchmarkZZInsertOnly(b *testing.B) {
	src := randomBytes(1, 32768)
	e := NewEncoder()
	b.SetBytes(32768)
	for b.Loop() {
		e.mf.reset()
		for p := 0; p+4 <= len(src); p++ {
			e.mf.insert(src, p)
		}
	}
}

func TestZZChain(t *testing.T) {
	src := randomBytes(1, 32768)
	e := NewEncoder()
	e.mf.reset()
	steps := 0
	for p := 0; p+4 <= len(src); p++ {
		v := src[p:]
		_ = v
		h := hash4(uint32(src[p]) | uint32(src[p+1])<<8 | uint32(src[p+2])<<16 | uint32(src[p+3])<<24)
		for c := int(e.mf.head4[h]); c != 0; c = int(e.mf.prev[c-1]) {
			steps++
		}
		e.mf.insert(src, p)
	}
	t.Logf("steps %d", steps)
	used := 0
	for _, h := range e.mf.head4 {
		if h != 0 {
			used++
		}
	}
	t.Logf("buckets used %d of %d", used, len(e.mf.head4))
}

func BenchmarkZZFindOnly(b *testing.B) {
	src := randomBytes(1, 32768)
	e := NewEncoder()
	b.SetBytes(32768)
	for b.Loop() {
		e.mf.reset()
		for p := 0; p+4 <= len(src); p++ {
			e.mf.find(src, p, 24, 64, 8192)
		}
	}
}
