package wim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchCorpus returns about 16 MiB of mixed text and binary data from the
// system (or generated when /usr is sparse), cut into files of varied size.
func benchCorpus(b *testing.B) [][]byte {
	b.Helper()
	var files [][]byte
	total := 0
	_ = filepath.WalkDir("/usr/share", func(p string, d os.DirEntry, err error) error {
		if err != nil || total > 16<<20 {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if data, err := os.ReadFile(p); err == nil && len(data) > 0 {
				files = append(files, data)
				total += len(data)
			}
		}
		return nil
	})
	if total < 1<<20 {
		files = append(files, bytes.Repeat([]byte("generated benchmark data, not from /usr "), 1<<18))
	}
	return files
}

// BenchmarkWriter measures AddStream throughput for a corpus of real files,
// including SHA-1, compression on all cores and output.
func BenchmarkWriter(b *testing.B) {
	files := benchCorpus(b)
	var total int64
	for _, f := range files {
		total += int64(len(f))
	}
	for _, c := range []Compression{CompressNone, CompressXPRESS} {
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				f, err := os.Create(filepath.Join(dir, "b.wim"))
				if err != nil {
					b.Fatal(err)
				}
				w, err := NewWriter(f, WithCompression(c))
				if err != nil {
					b.Fatal(err)
				}
				root := &Entry{Attributes: AttrDirectory, SecurityID: -1}
				for j, data := range files {
					h, err := w.AddStream(bytes.NewReader(data), int64(len(data)))
					if err != nil {
						b.Fatal(err)
					}
					root.Children = append(root.Children, &Entry{Name: fmt.Sprintf("f%d", j), Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h}})
				}
				if err := w.AddImage(&Metadata{Root: root}, ImageInfo{}); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				closeFile(b, f)
			}
		})
	}
}

// BenchmarkReadStreams measures reading every stream of an XPRESS WIM
// (decompression and SHA-1 check).
func BenchmarkReadStreams(b *testing.B) {
	files := benchCorpus(b)
	path := filepath.Join(b.TempDir(), "r.wim")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w, _ := NewWriter(f)
	var hashes []Hash
	var total int64
	for _, data := range files {
		h, err := w.AddStream(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		hashes, total = append(hashes, h), total+int64(len(data))
	}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1}
	for j, h := range hashes {
		root.Children = append(root.Children, &Entry{Name: fmt.Sprintf("f%d", j), Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h}})
	}
	if err := w.AddImage(&Metadata{Root: root}, ImageInfo{}); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	closeFile(b, f)
	raw, _ := os.ReadFile(path)
	r, err := NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	buf := make([]byte, 64<<10)
	for i := 0; i < b.N; i++ {
		for _, h := range hashes {
			rc, err := r.OpenStream(h)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
				b.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkParseMetadata measures decoding the metadata resource of a
// tree shaped like a Debian root: 6,000 files and 300 directories with
// UNIX data, sorted as writers sort them.
func BenchmarkParseMetadata(b *testing.B) {
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1}
	for d := range 300 {
		dir := &Entry{Name: fmt.Sprintf("dir-%03d", d), Attributes: AttrDirectory, SecurityID: -1,
			Unix: &UnixData{Mode: 0o40755}}
		for f := range 20 {
			e := &Entry{Name: fmt.Sprintf("lib%d-file.so.%d", f, d), Attributes: AttrNormal, SecurityID: -1,
				LastWriteTime: Filetime(133e15 + d*1000 + f), Unix: &UnixData{Mode: 0o100644}}
			e.Data.Hash[0], e.Data.Hash[1], e.Data.Hash[2] = byte(d), byte(f), 1
			dir.Children = append(dir.Children, e)
		}
		root.Children = append(root.Children, dir)
	}
	raw := metadataBytes(b, root)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMetadata(raw); err != nil {
			b.Fatal(err)
		}
	}
}
