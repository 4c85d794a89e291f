package codectest

import "testing"

// Chunk is one compressed chunk and the size it expands to.
type Chunk struct {
	Comp []byte
	Size int
}

// BenchEncode measures enc on data cut into chunks of chunk bytes and
// reports the compressed share ("ratio", chunks that grow counted raw).
func BenchEncode(b *testing.B, enc Encoder, data []byte, chunk int) {
	b.Helper()
	dst := make([]byte, 0, 2*chunk+1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	comp := 0
	for b.Loop() {
		comp = 0
		for p := 0; p < len(data); p += chunk {
			src := data[p:min(p+chunk, len(data))]
			comp += min(len(enc(dst[:0], src)), len(src))
		}
	}
	b.ReportMetric(float64(comp)/float64(len(data)), "ratio")
}

// CompressChunks encodes data in chunks of chunk bytes and returns those
// that shrank (a WIM stores the others raw) and their total size.
func CompressChunks(enc Encoder, data []byte, chunk int) (cs []Chunk, n int64) {
	for p := 0; p < len(data); p += chunk {
		src := data[p:min(p+chunk, len(data))]
		if c := enc(nil, src); len(c) < len(src) {
			cs = append(cs, Chunk{c, len(src)})
			n += int64(len(src))
		}
	}
	return cs, n
}

// BenchDecode measures dec on chunks of up to chunk bytes that expand to n
// bytes in all.
func BenchDecode(b *testing.B, dec Decoder, cs []Chunk, n int64, chunk int) {
	b.Helper()
	out := make([]byte, 0, chunk)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cs {
			if _, err := dec(out[:0], c.Comp, c.Size); err != nil {
				b.Fatal(err)
			}
		}
	}
}
