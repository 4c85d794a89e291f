package remotetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/wimsnap/wimsnap/remote"
)

func (s suite) putGet(t *testing.T) {
	st := s.newStore(t)
	data := Random(1, 1000)
	Put(t, st, "packs/ab/abcdef", data)
	if got := Get(t, st, "packs/ab/abcdef", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("Get: got %d bytes, want the %d put", len(got), len(data))
	}
	fi, err := st.Stat(t.Context(), "packs/ab/abcdef")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if fi.Key != "packs/ab/abcdef" || fi.Size != int64(len(data)) || fi.ModTime.IsZero() {
		t.Errorf("Stat: got %+v, want key packs/ab/abcdef, size %d, a ModTime", fi, len(data))
	}
}

func (s suite) getRange(t *testing.T) {
	st := s.newStore(t)
	data := Random(2, 1000)
	Put(t, st, "config", data)
	for _, tc := range []struct {
		name        string
		off, length int64
		want        []byte // nil: the range is refused with ErrRange
	}{
		{"whole", 0, -1, data},
		{"wholeExact", 0, 1000, data},
		{"head", 0, 10, data[:10]},
		{"middle", 100, 200, data[100:300]},
		{"toEnd", 900, -1, data[900:]},
		{"lastByte", 999, 1, data[999:]},
		{"zeroLength", 5, 0, []byte{}},
		{"offAtEnd", 1000, -1, []byte{}},
		{"offAtEndZeroLength", 1000, 0, []byte{}},
		{"offPastEnd", 1001, -1, nil},
		{"offPastEndZeroLength", 1001, 0, nil},
		{"lengthPastEnd", 900, 101, nil},
		{"negativeOff", -1, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want != nil {
				if got := Get(t, st, "config", tc.off, tc.length); !bytes.Equal(got, tc.want) {
					t.Errorf("got %d bytes, want %d", len(got), len(tc.want))
				}
				return
			}
			rc, err := st.Get(t.Context(), "config", tc.off, tc.length)
			if err == nil {
				_ = rc.Close()
			}
			WantErr(t, "Get", err, remote.ErrRange)
		})
	}
}

func (s suite) emptyObject(t *testing.T) {
	st := s.newStore(t)
	Put(t, st, "index/empty", nil)
	if got := Get(t, st, "index/empty", 0, -1); len(got) != 0 {
		t.Errorf("Get: got %d bytes, want 0", len(got))
	}
	if got := Get(t, st, "index/empty", 0, 0); len(got) != 0 {
		t.Errorf("Get(0, 0): got %d bytes, want 0", len(got))
	}
	_, err := st.Get(t.Context(), "index/empty", 1, -1)
	WantErr(t, "Get(1, -1)", err, remote.ErrRange)
	if got := Keys(t, st, "index/"); len(got) != 1 || got["index/empty"] != 0 {
		t.Errorf("List: got %v, want index/empty of size 0", got)
	}
}

func (s suite) overwrite(t *testing.T) {
	st := s.newStore(t)
	Put(t, st, "locks/l1", Random(3, 5000))
	data := Random(4, 300)
	Put(t, st, "locks/l1", data)
	if got := Get(t, st, "locks/l1", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("Get after overwrite: got %d bytes, want the %d of the second Put", len(got), len(data))
	}
	if fi, err := st.Stat(t.Context(), "locks/l1"); err != nil || fi.Size != 300 {
		t.Errorf("Stat after overwrite: got %+v, %v, want size 300", fi, err)
	}
}

func (s suite) missing(t *testing.T) {
	st := s.newStore(t)
	Put(t, st, "packs/aa/other", []byte("x"))
	ctx := t.Context()
	for _, key := range []string{"nothing", "packs/aa/missing", "packs/zz/missing", "packs/aa/other/below"} {
		_, err := st.Get(ctx, key, 0, -1)
		WantErr(t, "Get("+key+")", err, remote.ErrNotFound)
		_, err = st.Stat(ctx, key)
		WantErr(t, "Stat("+key+")", err, remote.ErrNotFound)
		WantErr(t, "Delete("+key+")", st.Delete(ctx, key), remote.ErrNotFound)
		_, err = remote.ReadAll(ctx, st, key, 100)
		WantErr(t, "ReadAll("+key+")", err, remote.ErrNotFound)
	}
	// A key that is only a prefix of others is no object.
	_, err := st.Stat(ctx, "packs/aa")
	WantErr(t, "Stat(packs/aa)", err, remote.ErrNotFound)
	_, err = st.Get(ctx, "packs", 0, -1)
	WantErr(t, "Get(packs)", err, remote.ErrNotFound)
	WantErr(t, "Delete(packs/aa)", st.Delete(ctx, "packs/aa"), remote.ErrNotFound)
	if got := Keys(t, st, ""); len(got) != 1 {
		t.Errorf("List after failed Deletes: got %v, want packs/aa/other", got)
	}
}

// invalidKeys are keys every store refuses.
var invalidKeys = []string{
	"", "/", "/abs", "a/../b", "..", "../a", "a/..", "a//b", "a/", ".", "./a", "a/./b",
	"a/.tmp-1234", ".hidden", `a\b`, "a b", "a\x00b", "ü",
}

func (s suite) invalidKey(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	for _, key := range invalidKeys {
		err := st.Put(ctx, key, bytes.NewReader([]byte("x")), 1)
		WantErr(t, "Put("+key+")", err, remote.ErrInvalidKey)
		WantErr(t, "PutIfAbsent("+key+")", st.PutIfAbsent(ctx, key, []byte("x")), remote.ErrInvalidKey)
		_, err = st.Get(ctx, key, 0, -1)
		WantErr(t, "Get("+key+")", err, remote.ErrInvalidKey)
		_, err = st.Stat(ctx, key)
		WantErr(t, "Stat("+key+")", err, remote.ErrInvalidKey)
		WantErr(t, "Delete("+key+")", st.Delete(ctx, key), remote.ErrInvalidKey)
	}
	if got := Keys(t, st, ""); len(got) != 0 {
		t.Errorf("List after refused Puts: got %v, want nothing", got)
	}
}

func (s suite) invalidPrefix(t *testing.T) {
	st := s.newStore(t)
	for _, prefix := range []string{"/", "/a", "a//", "..", "../", "a/../", ".tmp-", "a/.t"} {
		err := st.List(t.Context(), prefix, func(remote.Info) error { return nil })
		WantErr(t, "List("+prefix+")", err, remote.ErrInvalidKey)
	}
}

func (s suite) shortReader(t *testing.T) {
	st := s.newStore(t)
	err := st.Put(t.Context(), "config", bytes.NewReader([]byte("12345")), 10)
	if err == nil {
		t.Fatal("Put of 5 bytes with size 10 succeeded")
	}
	WantErr(t, "Put", err, io.ErrUnexpectedEOF)
	Absent(t, st, "config")
	old := []byte("old contents")
	Put(t, st, "config", old)
	if err := st.Put(t.Context(), "config", bytes.NewReader([]byte("12345")), 10); err == nil {
		t.Fatal("Put of 5 bytes with size 10 over an object succeeded")
	}
	if got := Get(t, st, "config", 0, -1); !bytes.Equal(got, old) {
		t.Errorf("after a failed Put: got %q, want the old %q", got, old)
	}
	if got := Keys(t, st, ""); len(got) != 1 {
		t.Errorf("List after failed Puts: got %v, want only config", got)
	}
}

func (s suite) longReader(t *testing.T) {
	st := s.newStore(t)
	if err := st.Put(t.Context(), "config", bytes.NewReader(Random(5, 10)), 5); err == nil {
		t.Fatal("Put of 10 bytes with size 5 succeeded")
	}
	Absent(t, st, "config")
}

func (s suite) readerError(t *testing.T) {
	st := s.newStore(t)
	old := Random(6, 100)
	Put(t, st, "packs/aa/p", old)
	errBoom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(Random(7, 64<<10)), iotest.ErrReader(errBoom))
	err := st.Put(t.Context(), "packs/aa/p", r, 128<<10)
	WantErr(t, "Put with a failing reader", err, errBoom)
	if got := Get(t, st, "packs/aa/p", 0, -1); !bytes.Equal(got, old) {
		t.Errorf("after a failed Put: got %d bytes, want the old %d", len(got), len(old))
	}
	r = io.MultiReader(bytes.NewReader(Random(7, 64<<10)), iotest.ErrReader(errBoom))
	WantErr(t, "Put with a failing reader", st.Put(t.Context(), "packs/aa/q", r, 128<<10), errBoom)
	Absent(t, st, "packs/aa/q")
}

func (s suite) negativeSize(t *testing.T) {
	st := s.newStore(t)
	if err := st.Put(t.Context(), "config", bytes.NewReader(nil), -1); err == nil {
		t.Error("Put with size -1 succeeded")
	}
	Absent(t, st, "config")
}

func (s suite) cancelledContext(t *testing.T) {
	st := s.newStore(t)
	Put(t, st, "config", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := st.Put(ctx, "index/i", bytes.NewReader([]byte("x")), 1)
	WantErr(t, "Put", err, context.Canceled)
	WantErr(t, "PutIfAbsent", st.PutIfAbsent(ctx, "index/j", []byte("x")), context.Canceled)
	_, err = st.Get(ctx, "config", 0, -1)
	WantErr(t, "Get", err, context.Canceled)
	_, err = st.Stat(ctx, "config")
	WantErr(t, "Stat", err, context.Canceled)
	WantErr(t, "List", st.List(ctx, "", func(remote.Info) error { return nil }), context.Canceled)
	WantErr(t, "Delete", st.Delete(ctx, "config"), context.Canceled)
	Absent(t, st, "index/i")
	Absent(t, st, "index/j")
	Get(t, st, "config", 0, -1)
}

func (s suite) cancelDuringPut(t *testing.T) {
	st := s.newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &chunkReader{r: bytes.NewReader(Random(8, 1<<20)), n: 4096, after: cancel}
	WantErr(t, "Put", st.Put(ctx, "packs/aa/p", r, 1<<20), context.Canceled)
	Absent(t, st, "packs/aa/p")
}

func (s suite) large(t *testing.T) {
	st := s.newStore(t)
	const size = 20 << 20
	data := Random(9, size)
	want := sha256.Sum256(data)
	r := &chunkReader{r: bytes.NewReader(data), n: 1 << 20}
	if err := st.Put(t.Context(), "packs/12/large", r, size); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rc, err := st.Get(t.Context(), "packs/12/large", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != size {
		t.Fatalf("reading: %d bytes, %v; want %d bytes", n, err, size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Errorf("SHA-256 of Get: %x, want %x", got, want)
	}
	off := int64(7<<20 + 3)
	if got := Get(t, st, "packs/12/large", off, 1<<20); !bytes.Equal(got, data[off:off+1<<20]) {
		t.Error("Get of 1 MiB at 7 MiB+3 differs from what was put")
	}
}

func (s suite) readAll(t *testing.T) {
	st := s.newStore(t)
	data := Random(10, 100)
	Put(t, st, "snapshots/s1", data)
	ctx := t.Context()
	if got, err := remote.ReadAll(ctx, st, "snapshots/s1", 100); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadAll(limit 100): got %d bytes, %v; want the 100 put", len(got), err)
	}
	_, err := remote.ReadAll(ctx, st, "snapshots/s1", 99)
	WantErr(t, "ReadAll(limit 99)", err, remote.ErrTooLarge)
	Put(t, st, "snapshots/empty", nil)
	if got, err := remote.ReadAll(ctx, st, "snapshots/empty", 0); err != nil || len(got) != 0 {
		t.Errorf("ReadAll(empty, limit 0): got %d bytes, %v", len(got), err)
	}
}

func (s suite) location(t *testing.T) {
	if s.newStore(t).Location() == "" {
		t.Error("Location is empty")
	}
}
