package remotetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
)

func (s suite) putIfAbsent(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	data := []byte("lock 1")
	if err := st.PutIfAbsent(ctx, "locks/l", data); err != nil {
		t.Fatalf("PutIfAbsent of a new key: %v", err)
	}
	data[0] = 'X' // the store must have kept a copy
	if got := Get(t, st, "locks/l", 0, -1); string(got) != "lock 1" {
		t.Errorf("Get: got %q, want %q", got, "lock 1")
	}
	WantErr(t, "PutIfAbsent of an existing key", st.PutIfAbsent(ctx, "locks/l", []byte("lock 2")), remote.ErrExists)
	if got := Get(t, st, "locks/l", 0, -1); string(got) != "lock 1" {
		t.Errorf("Get after refused PutIfAbsent: got %q, want %q", got, "lock 1")
	}
	Put(t, st, "config", []byte("c"))
	WantErr(t, "PutIfAbsent over a Put", st.PutIfAbsent(ctx, "config", []byte("d")), remote.ErrExists)
	if err := st.PutIfAbsent(ctx, "locks/empty", nil); err != nil {
		t.Errorf("PutIfAbsent of no bytes: %v", err)
	}
	if got := Keys(t, st, ""); !maps.Equal(got, map[string]int64{"locks/l": 6, "config": 1, "locks/empty": 0}) {
		t.Errorf("List: got %v", got)
	}
}

func (s suite) putIfAbsentConcurrent(t *testing.T) {
	st := s.newStore(t)
	const writers = 8
	for round := range 5 {
		key := fmt.Sprintf("locks/race%d", round)
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				<-start
				errs[i] = st.PutIfAbsent(t.Context(), key, fmt.Appendf(nil, "writer %d", i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("%s: writers %d and %d both won", key, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, remote.ErrExists):
				t.Errorf("%s: writer %d: got %v, want ErrExists", key, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no writer won", key)
		}
		if got, want := string(Get(t, st, key, 0, -1)), fmt.Sprintf("writer %d", winner); got != want {
			t.Errorf("%s: got %q, want the winner's %q", key, got, want)
		}
	}
}

func (s suite) list(t *testing.T) {
	st := s.newStore(t)
	objects := map[string]int64{
		"config": 3, "configs/x": 4, "index/1": 5, "index/2": 6,
		"packs/aa/p1": 7, "packs/ab/p2": 8, "packs/ba/p3": 0, "snapshots/s1": 9,
	}
	for key, size := range objects {
		Put(t, st, key, Random(uint64(size), int(size)))
	}
	pick := func(keys ...string) map[string]int64 {
		m := make(map[string]int64)
		for _, k := range keys {
			m[k] = objects[k]
		}
		return m
	}
	for _, tc := range []struct {
		prefix string
		want   map[string]int64
	}{
		{"", objects},
		{"packs/", pick("packs/aa/p1", "packs/ab/p2", "packs/ba/p3")},
		{"packs/a", pick("packs/aa/p1", "packs/ab/p2")},
		{"packs/aa/", pick("packs/aa/p1")},
		{"index/", pick("index/1", "index/2")},
		{"snap", pick("snapshots/s1")},
		{"config", pick("config", "configs/x")},
		{"config/", pick()},
		{"index/1", pick("index/1")},
		{"none/", pick()},
		{"packs/zz/", pick()},
	} {
		if got := Keys(t, st, tc.prefix); !maps.Equal(got, tc.want) {
			t.Errorf("List(%q): got %v, want %v", tc.prefix, got, tc.want)
		}
		keys := map[string]bool{}
		if err := remote.ListKeys(t.Context(), st, tc.prefix, func(k string) error { keys[k] = true; return nil }); err != nil {
			t.Errorf("ListKeys(%q): %v", tc.prefix, err)
		}
		if !maps.EqualFunc(keys, tc.want, func(bool, int64) bool { return true }) {
			t.Errorf("ListKeys(%q): got %v, want the keys of %v", tc.prefix, keys, tc.want)
		}
	}
	// fn may use the store.
	err := st.List(t.Context(), "index/", func(fi remote.Info) error {
		got, err := st.Stat(t.Context(), fi.Key)
		if err == nil && (got.Size != fi.Size || !got.ModTime.Equal(fi.ModTime)) {
			t.Errorf("List reported %+v, Stat %+v", fi, got)
		}
		return err
	})
	if err != nil {
		t.Errorf("List calling Stat: %v", err)
	}
}

func (s suite) listStops(t *testing.T) {
	st := s.newStore(t)
	for i := range 5 {
		Put(t, st, fmt.Sprintf("index/%d", i), []byte("x"))
	}
	errStop := errors.New("stop")
	calls := 0
	err := st.List(t.Context(), "index/", func(remote.Info) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("List with fn failing: got %v after %d calls, want %v after 1", err, calls, errStop)
	}
	calls = 0
	err = remote.ListKeys(t.Context(), st, "index/", func(string) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("ListKeys with fn failing: got %v after %d calls, want %v after 1", err, calls, errStop)
	}
}

func (s suite) delete(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	Put(t, st, "packs/aa/a", []byte("a"))
	Put(t, st, "packs/aa/b", []byte("bb"))
	if err := st.Delete(ctx, "packs/aa/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	Absent(t, st, "packs/aa/a")
	if got := Keys(t, st, "packs/"); !maps.Equal(got, map[string]int64{"packs/aa/b": 2}) {
		t.Errorf("List after Delete: got %v, want only packs/aa/b", got)
	}
	WantErr(t, "second Delete", st.Delete(ctx, "packs/aa/a"), remote.ErrNotFound)
	if err := st.PutIfAbsent(ctx, "packs/aa/a", []byte("new")); err != nil {
		t.Errorf("PutIfAbsent after Delete: %v", err)
	}
	if got := Get(t, st, "packs/aa/a", 0, -1); string(got) != "new" {
		t.Errorf("Get after re-creation: got %q", got)
	}
}

// concurrentOverwrite checks that a reader sees one whole version of an
// object that is replaced while it reads, never a mix or a missing object.
func (s suite) concurrentOverwrite(t *testing.T) {
	st := s.newStore(t)
	versions := [][]byte{bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 100<<10)}
	Put(t, st, "index/hot", versions[0])
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done) // also when a Put below fails t
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := st.Get(t.Context(), "index/hot", 0, -1)
				if err != nil {
					t.Errorf("Get during overwrites: %v", err)
					return
				}
				var buf bytes.Buffer
				_, err = buf.ReadFrom(rc)
				_ = rc.Close()
				got := buf.Bytes()
				if err != nil || !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
					t.Errorf("Get during overwrites: %d bytes, %v; want one whole version", len(got), err)
					return
				}
			}
		})
	}
	for i := range 40 {
		Put(t, st, "index/hot", versions[i%2])
	}
}

// getAfterReplace checks that an open reader keeps reading the version it
// started with when the object is replaced.
func (s suite) getAfterReplace(t *testing.T) {
	st := s.newStore(t)
	old := Random(11, 64<<10)
	Put(t, st, "index/v", old)
	rc, err := st.Get(t.Context(), "index/v", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close() //nolint:errcheck // read-only; a failed read is reported below
	head := make([]byte, 1)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatalf("reading the first byte: %v", err)
	}
	Put(t, st, "index/v", Random(12, 32<<10))
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(append(head, rest...), old) {
		t.Errorf("reader opened before a replacing Put: got %d bytes, %v; want the old %d", 1+len(rest), err, len(old))
	}
}
