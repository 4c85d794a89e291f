package snapshot

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// TestSnapInfoRoundTrip: a summary gives back what picking a snapshot
// reads of its manifest, and a malformed one is refused.
func TestSnapInfoRoundTrip(t *testing.T) {
	id := index.ID{1, 2, 3}
	for _, m := range []*Manifest{
		{Time: time.Date(2026, 12, 6, 1, 2, 3, 456789012, time.UTC), Host: "vm", Source: "/srv/data", Kind: KindTree},
		{Time: time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC), Host: "", Source: "caf\xe9", Kind: KindTree},
		{Time: time.Date(3000, 1, 1, 0, 0, 0, 999999999, time.UTC), Host: "h\x00ost", Source: "x.wim#2", Kind: KindImport},
		{Time: time.Unix(0, 0), Host: "old", Source: "y.wim#1"}, // no Kind: an import by its source
		{Time: time.Unix(-1, 5), Host: string(make([]byte, 300)), Source: ""},
	} {
		b := encodeInfo(m)
		got, ok := decodeInfo(id, b)
		want := infoOf(id, m)
		if !ok || !got.time.Equal(want.time) || got.imported != want.imported || got.host != want.host ||
			got.source != want.source || got.id != id {
			t.Errorf("round trip of %+v: %+v %v, want %+v", m, got, ok, want)
		}
		for n := range len(b) {
			if _, ok := decodeInfo(id, b[:n]); ok {
				t.Errorf("summary cut to %d of %d bytes accepted", n, len(b))
			}
		}
		for i := range len(b) {
			c := append([]byte(nil), b...)
			c[i] ^= 0x10
			if in, ok := decodeInfo(id, c); ok {
				t.Errorf("summary with byte %d changed accepted as %+v", i, in)
			}
		}
	}
	// Well-formed but for one field, with a checksum made to match.
	good := encodeInfo(&Manifest{Time: time.Unix(5, 0), Host: "h", Source: "/s"})
	for name, mutate := range map[string]func(b []byte){
		"format":      func(b []byte) { b[0] = infoFormat + 1 },
		"nanoseconds": func(b []byte) { b[9], b[10], b[11], b[12] = 0x3b, 0x9a, 0xca, 0x00 }, // 1e9
		"import flag": func(b []byte) { b[13] = 2 },
		"host length": func(b []byte) { b[14] = 100 },
	} {
		b := append([]byte(nil), good[:len(good)-4]...)
		mutate(b)
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
		if in, ok := decodeInfo(id, b); ok {
			t.Errorf("%s: malformed summary accepted as %+v", name, in)
		}
	}
	if _, ok := decodeInfo(id, nil); ok {
		t.Error("no summary accepted")
	}
}

// FuzzDecodeInfo: any bytes decode or are refused without a panic, and
// what decodes fits in them.
func FuzzDecodeInfo(f *testing.F) {
	f.Add(encodeInfo(&Manifest{Time: time.Unix(5, 7), Host: "host", Source: "/src", Kind: KindTree}))
	long := []byte{infoFormat, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	f.Add(binary.BigEndian.AppendUint32(long, crc32.Checksum(long, castagnoli))) // a host length past the end
	f.Fuzz(func(t *testing.T, b []byte) {
		in, ok := decodeInfo(index.ID{}, b)
		if ok && len(in.host)+len(in.source) > len(b) {
			t.Fatalf("%d bytes decoded to a host of %d and a source of %d", len(b), len(in.host), len(in.source))
		}
	})
}
