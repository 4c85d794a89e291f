package remotetest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// TestFaultyConformance checks that a Faulty without faults is a correct
// store.
func TestFaultyConformance(t *testing.T) {
	remotetest.Run(t, func(*testing.T) remote.Store { return remotetest.NewFaulty(remote.NewMemory()) })
}

var errBoom = errors.New("boom")

// newFaulty returns a Faulty over a Memory holding "obj" (1000 bytes) and
// the Memory.
func newFaulty(t *testing.T) (*remotetest.Faulty, *remote.Memory, []byte) {
	t.Helper()
	mem := remote.NewMemory()
	data := remotetest.Random(1, 1000)
	remotetest.Put(t, mem, "obj", data)
	return remotetest.NewFaulty(mem), mem, data
}

func TestFaultyFailNext(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		op  string
		run func(s remote.Store) error
	}{
		{"put", func(s remote.Store) error { return s.Put(ctx, "new", bytes.NewReader([]byte("x")), 1) }},
		{"putifabsent", func(s remote.Store) error { return s.PutIfAbsent(ctx, "new", []byte("x")) }},
		{"get", func(s remote.Store) error {
			rc, err := s.Get(ctx, "obj", 0, -1)
			if err == nil {
				err = rc.Close()
			}
			return err
		}},
		{"stat", func(s remote.Store) error { _, err := s.Stat(ctx, "obj"); return err }},
		{"list", func(s remote.Store) error { return s.List(ctx, "", func(remote.Info) error { return nil }) }},
		{"delete", func(s remote.Store) error { return s.Delete(ctx, "obj") }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			f, mem, _ := newFaulty(t)
			f.FailNext(tc.op, 2, errBoom)
			for i := range 2 {
				if err := tc.run(f); !errors.Is(err, errBoom) {
					t.Errorf("call %d: got %v, want %v", i+1, err, errBoom)
				}
			}
			if got := remotetest.Keys(t, mem, ""); len(got) != 1 {
				t.Errorf("failed calls changed the store: %v", got)
			}
			if err := tc.run(f); err != nil {
				t.Errorf("third call: %v", err)
			}
			if got := f.Calls(tc.op); got != 3 {
				t.Errorf("Calls: %d, want 3", got)
			}
		})
	}
}

func TestFaultyFailAfterWrite(t *testing.T) {
	f, mem, _ := newFaulty(t)
	ctx := t.Context()
	f.FailAfterWrite("put", 1)
	f.FailAfterWrite("putifabsent", 1)
	f.FailAfterWrite("delete", 1)
	remotetest.WantErr(t, "Put", f.Put(ctx, "a", bytes.NewReader([]byte("a")), 1), remote.ErrUnavailable)
	remotetest.WantErr(t, "PutIfAbsent", f.PutIfAbsent(ctx, "b", []byte("b")), remote.ErrUnavailable)
	remotetest.WantErr(t, "Delete", f.Delete(ctx, "obj"), remote.ErrUnavailable)
	if got := remotetest.Keys(t, mem, ""); len(got) != 2 || got["a"] != 1 || got["b"] != 1 {
		t.Errorf("after the writes: got %v, want a and b", got)
	}
	// A failing write uses the fault up.
	f.FailAfterWrite("delete", 1)
	remotetest.WantErr(t, "Delete of a missing key", f.Delete(ctx, "obj"), remote.ErrNotFound)
	if err := f.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete after the fault was used: %v", err)
	}
}

func TestFaultyCutReads(t *testing.T) {
	f, _, data := newFaulty(t)
	f.CutReads(100, 1, errBoom)
	rc, err := f.Get(t.Context(), "obj", 10, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if !errors.Is(err, errBoom) || !bytes.Equal(got, data[10:110]) {
		t.Errorf("cut reader: %d bytes, %v; want 100 bytes, %v", len(got), err, errBoom)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := remotetest.Get(t, f, "obj", 0, 50); !bytes.Equal(got, data[:50]) {
		t.Error("Get after the cut was used differs from the object")
	}
	f.CutReads(100, 1, errBoom)
	if got := remotetest.Get(t, f, "obj", 0, 50); !bytes.Equal(got, data[:50]) {
		t.Error("Get of a range shorter than the cut differs from the object")
	}
}

func TestFaultyCutWrites(t *testing.T) {
	f, mem, _ := newFaulty(t)
	f.CutWrites(300, 1, errBoom)
	r := bytes.NewReader(make([]byte, 1000))
	remotetest.WantErr(t, "Put", f.Put(t.Context(), "new", r, 1000), errBoom)
	if r.Len() != 700 {
		t.Errorf("the cut Put read %d bytes, want 300", 1000-r.Len())
	}
	remotetest.Absent(t, mem, "new")
}

func TestFaultyFlipByte(t *testing.T) {
	f, _, data := newFaulty(t)
	f.FlipByte(1)
	got := remotetest.Get(t, f, "obj", 5, 10)
	want := bytes.Clone(data[5:15])
	want[0] ^= 0xff
	if !bytes.Equal(got, want) {
		t.Errorf("flipped Get: got %x, want %x", got, want)
	}
	if got := remotetest.Get(t, f, "obj", 5, 10); !bytes.Equal(got, data[5:15]) {
		t.Error("Get after the flip was used differs from the object")
	}
}

func TestFaultyUnknownOp(t *testing.T) {
	f, _, _ := newFaulty(t)
	for name, call := range map[string]func(){
		"FailNext":       func() { f.FailNext("read", 1, errBoom) },
		"FailAfterWrite": func() { f.FailAfterWrite("get", 1) },
		"Calls":          func() { f.Calls("put-if-absent") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with an unknown operation did not panic", name)
				}
			}()
			call()
		}()
	}
}
