package snapshot

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWritebackFileContents writes through a WritebackFile as the WIM
// writer does, past several writeback and background-sync steps and with a
// header rewritten at offset 0, and checks that the file holds exactly what
// was written and that Settle reports no error.
func TestWritebackFileContents(t *testing.T) {
	tmp, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tmp.Close() }()
	f := &WritebackFile{File: tmp}
	want := make([]byte, 2*backgroundSyncStep+12345)
	for i := range want {
		want[i] = byte(i*7 + i>>12)
	}
	for b := want; len(b) > 0; {
		n := min(len(b), 300<<10)
		if _, err := f.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	copy(want, "HEADER")
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("HEADER")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if f.off != int64(len(want)) || f.synced < backgroundSyncStep || f.sent < f.off-writebackStep {
		t.Errorf("offset %d, synced %d, sent %d after writing %d bytes", f.off, f.synced, f.sent, len(want))
	}
	if err := f.Settle(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the file does not hold the bytes written")
	}
}

// TestWritebackFileSyncError checks that Settle returns the error of a
// background sync, which the final fsync may no longer report: a pipe
// accepts writes but cannot be synced.
func TestWritebackFileSyncError(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	go func() { _, _ = io.Copy(io.Discard, r) }()
	f := &WritebackFile{File: w}
	if _, err := f.Write(make([]byte, backgroundSyncStep)); err != nil {
		t.Fatal(err)
	}
	if err := f.Settle(); err == nil {
		t.Error("Settle after a failed background sync: no error")
	}
	_ = w.Close()
}
