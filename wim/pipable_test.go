package wim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The pipable seeds in testdata were made by wimlib-imagex 1.13.5 from a
// tree of a.txt (21 bytes), d/b.bin (700 random bytes) and d/c.txt ("pipable
// chunk text line\n" repeated to 40000 bytes, 2000 for none):
//
//	wimlib-imagex capture seedsrc wimlib-pipable-C.wim seedsrc --pipable --compress=C
//	wimlib-imagex append seedsrc/d wimlib-pipable-lzx.wim second --pipable
var pipableSeeds = map[string]struct {
	images int
	codec  Compression
	text   int // size of d/c.txt
}{
	"wimlib-pipable-none.wim":   {1, CompressNone, 2000},
	"wimlib-pipable-xpress.wim": {1, CompressXPRESS, 40000},
	"wimlib-pipable-lzx.wim":    {2, CompressLZX, 40000},
	"wimlib-pipable-lzms.wim":   {1, CompressLZMS, 40000},
}

// TestReadPipable reads wimlib's pipable WIMs in each codec: the header at
// the end, the images, and every stream, through the blob table.
func TestReadPipable(t *testing.T) {
	for name, want := range pipableSeeds {
		t.Run(name, func(t *testing.T) {
			b, r := readTestdata(t, name)
			h := r.Header()
			if !h.Pipable || h.Compression != want.codec || r.ImageCount() != want.images || r.Image(1).Name != "seedsrc" {
				t.Fatalf("header %+v, images %+v", h, r.Images())
			}
			if err := readAll(b); err != nil {
				t.Fatal(err)
			}
			text := strings.Repeat("pipable chunk text line\n", 2000)[:want.text]
			if got := pipableFile(t, r, want.images, "c.txt"); got != text {
				t.Errorf("c.txt reads %d bytes %.30q...", len(got), got)
			}
		})
	}
}

// pipableFile returns the contents of the file called name in image i.
func pipableFile(t *testing.T, r *Reader, i int, name string) string {
	t.Helper()
	m, err := r.Metadata(i)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	err = m.Walk(func(_ string, e *Entry) error {
		if e.Name != name {
			return nil
		}
		rc, err := r.OpenStream(e.Data.Hash)
		if err != nil {
			return err
		}
		defer closeStream(rc)
		out, err = io.ReadAll(rc)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// pipableText returns the blob of d/c.txt in the LZX seed: two chunks.
func pipableText(t *testing.T, r *Reader) *blob {
	t.Helper()
	for _, bl := range r.blobs {
		if bl.res.size == 40000 {
			return bl
		}
	}
	t.Fatal("no 40000-byte blob")
	return nil
}

// TestHostilePipable damages wimlib's pipable LZX WIM where the pipable
// layout differs from a WIM's: each read fails with ErrFormat naming what
// is wrong.
func TestHostilePipable(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name   string
		damage func(b []byte, r *Reader, text *blob) []byte
		want   string
	}{
		{"truncated", func(b []byte, _ *Reader, _ *blob) []byte { return b[:len(b)-1] }, "no header in the last 208 bytes"},
		{"shorter than two headers", func(b []byte, _ *Reader, _ *blob) []byte { return b[:400] }, "too short for its two 208-byte headers"},
		{"end header part", func(b []byte, _ *Reader, _ *blob) []byte {
			le.PutUint16(b[len(b)-headerSize+0x28:], 0)
			return b
		}, "part 0 of 1 (the end header of a pipable WIM, at offset 5013)"},
		{"blob header magic", func(b []byte, _ *Reader, text *blob) []byte {
			b[text.res.offset-40] ^= 1
			return b
		}, "pipable blob header at offset 2975: bad magic"},
		{"blob header size", func(b []byte, _ *Reader, text *blob) []byte {
			b[text.res.offset-40+8] ^= 1
			return b
		}, "pipable blob header at offset 2975: size 40001"},
		{"blob header hash", func(b []byte, _ *Reader, text *blob) []byte {
			b[text.res.offset-40+16] ^= 1
			return b
		}, "pipable blob header at offset 2975: SHA-1"},
		{"blob header flags", func(b []byte, _ *Reader, text *blob) []byte {
			b[text.res.offset-40+36] ^= resMetadata
			return b
		}, "pipable blob header at offset 2975: flags 0x6"},
		{"chunk size prefix", func(b []byte, _ *Reader, text *blob) []byte {
			le.PutUint32(b[text.res.offset:], 99)
			return b
		}, "chunk 0 at offset 3015: size prefix 99, the chunk table says 104"},
		{"chunk table", func(b []byte, _ *Reader, text *blob) []byte {
			le.PutUint32(b[text.res.offset+text.res.storedSize-4:], 100)
			return b
		}, "chunk 0 at offset 3015: size prefix 104, the chunk table says 100"},
		{"chunk table past the data", func(b []byte, _ *Reader, text *blob) []byte {
			le.PutUint32(b[text.res.offset+text.res.storedSize-4:], 1000)
			return b
		}, "chunk 0 has bad bounds 0..1000"},
		{"solid entry", func(b []byte, r *Reader, _ *blob) []byte {
			b[r.hdr.blobTable.offset+7] |= resSolid
			return b
		}, "blob table entry 0 is a solid resource"},
		{"stored size too small for the prefixes", func(b []byte, r *Reader, text *blob) []byte {
			entry := pipableEntry(t, b, r, text)
			le.PutUint64(entry, uint64(text.res.storedSize-190)|uint64(text.res.flags)<<56)
			return b
		}, "chunk table of 2 chunks does not fit in 8 stored bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, r := readTestdata(t, "wimlib-pipable-lzx.wim")
			err := readAll(tc.damage(b, r, pipableText(t, r)))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrFormat saying %q", err, tc.want)
			}
		})
	}
}

// pipableEntry returns the blob-table entry of bl in b.
func pipableEntry(t *testing.T, b []byte, r *Reader, bl *blob) []byte {
	t.Helper()
	tab := b[r.hdr.blobTable.offset : r.hdr.blobTable.offset+r.hdr.blobTable.size]
	for e := tab; len(e) >= blobEntrySize; e = e[blobEntrySize:] {
		if bytes.Equal(e[30:50], bl.hash[:]) {
			return e[:blobEntrySize]
		}
	}
	t.Fatal("blob not in the table")
	return nil
}

// TestPipableHugeSize: a pipable blob whose table entry and blob header
// both claim 1 PiB fails as malformed without allocating for that size.
func TestPipableHugeSize(t *testing.T) {
	b, r := readTestdata(t, "wimlib-pipable-lzx.wim")
	text := pipableText(t, r)
	huge := int64(1) << 50
	binary.LittleEndian.PutUint64(pipableEntry(t, b, r, text)[16:], uint64(huge))
	binary.LittleEndian.PutUint64(b[text.res.offset-40+8:], uint64(huge))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := readAll(b)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("got %v, want ErrFormat: chunk table does not fit", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("reading allocated %d bytes", grew)
	}
}

// TestPipableEveryByte truncates the pipable seeds at every length and
// flips every byte of them: each read either succeeds or fails with one of
// the package's errors, never a panic.
func TestPipableEveryByte(t *testing.T) {
	for name := range pipableSeeds {
		b, _ := readTestdata(t, name)
		for n := range len(b) {
			if err := readAll(b[:n]); !errors.Is(err, ErrFormat) {
				t.Fatalf("%s cut to %d bytes: %v, want ErrFormat", name, n, err)
			}
		}
		for i := range b {
			bad := bytes.Clone(b)
			bad[i] ^= 0x40
			err := readAll(bad)
			if err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrNotFound) &&
				!errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNoImage) {
				t.Fatalf("%s with byte %d flipped: %v", name, i, err)
			}
		}
	}
}

// TestSplitPipableRefused: WriteSplit copies resources as they are stored,
// so it refuses a pipable WIM, whose resources a normal part cannot hold;
// it wrote parts that failed to read.
func TestSplitPipableRefused(t *testing.T) {
	_, r := readTestdata(t, "wimlib-pipable-lzx.wim")
	dir := t.TempDir()
	var files []*os.File
	_, err := WriteSplit(t.Context(), r, 4096, false, func(k, _ int) (*os.File, error) {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("part%d.swm", k)))
		files = append(files, f)
		return f, err
	}, nil)
	for _, f := range files {
		closeFile(t, f)
	}
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "pipable") {
		t.Fatalf("got %v (%d parts), want ErrUnsupported naming pipable WIMs", err, len(files))
	}
}
