package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSpoolPutLinks: on Linux a spool file put into a local store on the
// same file system becomes the object without a copy, and the spool
// directory stays empty before and after.
func TestSpoolPutLinks(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	store, err := remote.NewLocal(filepath.Join(dir, "repo"))
	must(t, err)
	f, err := newSpool(spool)
	must(t, err)
	defer func() { _ = f.Close() }()
	data := wimtest.RandomBytes(2, 200000)
	_, err = f.Write(data)
	must(t, err)
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("the spool directory lists %d files, want none", len(left))
	}
	must(t, f.put(context.Background(), store, "packs/12/34"))
	ofi, err := os.Stat(filepath.Join(dir, "repo", "packs", "12", "34"))
	must(t, err)
	sfi, err := f.f.Stat()
	must(t, err)
	if !os.SameFile(ofi, sfi) {
		t.Error("the pack object is a copy of the spool file, want the file itself")
	}
	if ofi.Size() != int64(len(data)) {
		t.Errorf("object of %d bytes, want %d", ofi.Size(), len(data))
	}
}

// TestPackBypassesCache: a pack spooled for a local store is written past
// the page cache, its full writes all direct, and holds the same bytes as
// a pack written through the cache; finishing it puts the file back on
// the cache, so that a store copying it can read it with any buffer.
func TestPackBypassesCache(t *testing.T) {
	r := testRepo(t, wim.CompressXPRESS)
	probe, err := newSpool(r.spool)
	must(t, err)
	direct := probe.bypassCache()
	_ = probe.Close()
	if !direct {
		t.Skip("the test's file system takes no O_DIRECT")
	}
	p := r.newRepoPack()
	defer p.discard()
	if !p.spool.direct || p.queue == nil {
		t.Fatalf("a pack for a local store: direct %v, queue %v, want both", p.spool.direct, p.queue != nil)
	}
	if p.writeBehind {
		t.Error("a pack that bypasses the cache writes behind too")
	}
	z := newZcodec()
	fill := func(p *packBuilder) {
		for i := range 100 { // 1.6 MB in chunks of odd sizes
			data := wimtest.RandomBytes(uint64(i), 1000+i*317)
			p.add(index.ID(sha256.Sum256(data)), data, len(data), uint8(wim.CompressNone))
		}
	}
	fill(p)
	must(t, p.queue.close()) // the full buffers written: the spool's own size counts them
	p.queue = nil
	if !p.spool.direct {
		t.Fatal("a full write of the pack's buffer left O_DIRECT")
	}
	written := p.spool.Size()
	if written < 4*packWriteSize {
		t.Fatalf("%d bytes written before the tail, want at least %d", written, 4*packWriteSize)
	}
	if got := cachedPages(t, p.spool.f, written); got > 0 {
		t.Errorf("%d of the %d pages written directly are in the page cache", got, written/int64(os.Getpagesize()))
	}
	f, id, err := p.finish(z)
	must(t, err)
	if f.direct {
		t.Error("the finished pack's file still bypasses the cache")
	}
	got, err := io.ReadAll(io.NewSectionReader(f.f, 0, f.Size())) // unaligned reads
	must(t, err)
	want, wantID := packBytes(t, t.TempDir(), z, fill)
	if !bytes.Equal(got, want) || id != wantID {
		t.Errorf("the pack written directly differs from one written through the cache (%d bytes, want %d)", len(got), len(want))
	}
}

// TestSpoolDirectUnaligned: a write that cannot bypass the page cache (an
// odd length, or at an odd offset) puts the spool file back on the cache
// for good, and every byte lands where it belongs.
func TestSpoolDirectUnaligned(t *testing.T) {
	f, err := newSpool(filepath.Join(t.TempDir(), "spool"))
	must(t, err)
	defer func() { _ = f.Close() }()
	if !f.bypassCache() {
		t.Skip("the test's file system takes no O_DIRECT")
	}
	data := wimtest.RandomBytes(3, 3*directBlock+100)
	buf := alignedBuffer(len(data))
	buf = append(buf, data...)
	for _, w := range []struct {
		part   []byte
		direct bool
	}{
		{buf[:2*directBlock], true},
		{buf[2*directBlock : 3*directBlock+100], false},
	} {
		if _, err := f.Write(w.part); err != nil {
			t.Fatal(err)
		}
		if f.direct != w.direct {
			t.Errorf("after a write of %d bytes: direct %v, want %v", len(w.part), f.direct, w.direct)
		}
	}
	got, err := io.ReadAll(f.reader())
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Error("the spool file does not read back what was written")
	}
	if directable(buf[1:directBlock+1], 0) || directable(buf[:directBlock], 1) || directable(buf[:100], 0) {
		t.Error("directable takes an unaligned write")
	}
}

// cachedPages counts the pages of the first size bytes of f in the page
// cache (mincore of a mapping, which faults nothing in).
func cachedPages(t *testing.T, f *os.File, size int64) int {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	must(t, err)
	defer func() { _ = unix.Munmap(m) }()
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestPackQueueError: a write of a pack's queue that fails fails the pack
// at finish, which leaves no spool file behind.
func TestPackQueueError(t *testing.T) {
	r := testRepo(t, wim.CompressXPRESS)
	p := r.newRepoPack()
	if p.queue == nil {
		t.Skip("the test's file system takes no O_DIRECT")
	}
	ro, err := os.Open(r.spool) // a descriptor that takes no writes
	must(t, err)
	defer func() { _ = ro.Close() }()
	good := p.spool.f
	p.spool.f = ro
	defer func() { _ = good.Close() }()
	data := wimtest.RandomBytes(5, 3*packWriteSize)
	p.add(index.ID(sha256.Sum256(data)), data, len(data), uint8(wim.CompressNone))
	f, _, err := p.finish(newZcodec())
	if err == nil || f != nil {
		t.Fatalf("finish after a failed queued write: %v, want an error and no file", err)
	}
	t.Logf("error: %v", err)
	if left, _ := os.ReadDir(r.spool); len(left) != 0 {
		t.Errorf("%d spool files left behind", len(left))
	}
}
