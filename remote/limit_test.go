package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// gate is a Store over a Memory whose Put, PutIfAbsent, Stat and Delete
// announce themselves on entered and then wait for a token on release,
// counting how many run at once.
type gate struct {
	remote.Store
	entered chan string
	release chan struct{}

	mu        sync.Mutex
	now, peak int
}

func newGate() *gate {
	return &gate{Store: remote.NewMemory(), entered: make(chan string), release: make(chan struct{})}
}

// pass runs f as operation op between the announcement and the release.
func (g *gate) pass(op string, f func() error) error {
	g.mu.Lock()
	g.now++
	g.peak = max(g.peak, g.now)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	g.entered <- op
	<-g.release
	return f()
}

func (g *gate) counts() (now, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now, g.peak
}

func (g *gate) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return g.pass("put", func() error { return g.Store.Put(ctx, key, r, size) })
}

func (g *gate) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return g.pass("put-if-absent", func() error { return g.Store.PutIfAbsent(ctx, key, data) })
}

func (g *gate) Stat(ctx context.Context, key string) (remote.Info, error) {
	var fi remote.Info
	err := g.pass("stat", func() (err error) {
		fi, err = g.Store.Stat(ctx, key)
		return err
	})
	return fi, err
}

func (g *gate) Delete(ctx context.Context, key string) error {
	return g.pass("delete", func() error { return g.Store.Delete(ctx, key) })
}

// TestLimitConcurrency lets requests of every limited kind through a gate
// one at a time and checks that no more than the limit ever run at once.
func TestLimitConcurrency(t *testing.T) {
	const n, calls = 3, 24
	g := newGate()
	s := remote.NewLimit(g, n)
	ctx := t.Context()
	ops := []func(key string) error{
		func(key string) error { return s.Put(ctx, key, bytes.NewReader([]byte("x")), 1) },
		func(key string) error { return s.PutIfAbsent(ctx, key, []byte("y")) },
		func(key string) error { _, err := s.Stat(ctx, key); return err },
		func(key string) error { return s.Delete(ctx, key) },
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range calls {
		wg.Go(func() { _ = ops[i%len(ops)](fmt.Sprintf("k/%d", i)) }) // missing keys fail; only the count matters
	}
	for range n {
		<-g.entered
	}
	for i := range calls {
		if now, _ := g.counts(); now > n {
			t.Errorf("%d requests in flight, limit %d", now, n)
		}
		g.release <- struct{}{}
		if i+n < calls {
			<-g.entered
		}
	}
	if _, peak := g.counts(); peak != n {
		t.Errorf("at most %d requests ran at once, want the limit %d", peak, n)
	}
}

// TestLimitWaitRespectsContext cancels a request waiting for the only slot.
func TestLimitWaitRespectsContext(t *testing.T) {
	g := newGate()
	s := remote.NewLimit(g, 1)
	first := make(chan error, 1)
	go func() { first <- s.Put(t.Context(), "a", bytes.NewReader(nil), 0) }()
	<-g.entered
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() { second <- s.Put(ctx, "b", bytes.NewReader(nil), 0) }()
	cancel()
	remotetest.WantErr(t, "Put waiting for a slot", <-second, context.Canceled)
	g.release <- struct{}{}
	if err := <-first; err != nil {
		t.Errorf("Put holding the slot: %v", err)
	}
	remotetest.Absent(t, g.Store, "b")
}

// TestLimitGetHoldsSlot checks that a Get holds its slot until its reader
// is closed, once.
func TestLimitGetHoldsSlot(t *testing.T) {
	mem := remote.NewMemory()
	remotetest.Put(t, mem, "obj", []byte("data"))
	s := remote.NewLimit(mem, 1)
	rc, err := s.Get(t.Context(), "obj", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.Stat(cancelled, "obj")
	remotetest.WantErr(t, "Stat while a reader is open", err, context.Canceled)
	_, err = s.Get(cancelled, "obj", 0, -1)
	remotetest.WantErr(t, "Get while a reader is open", err, context.Canceled)

	waiting := make(chan error, 1)
	go func() {
		data, err := remote.ReadAll(t.Context(), s, "obj", 100)
		if err == nil && string(data) != "data" {
			err = fmt.Errorf("read %q", data)
		}
		waiting <- err
	}()
	select {
	case err := <-waiting:
		t.Fatalf("a second Get ran while the first reader was open (%v)", err)
	default:
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-waiting; err != nil {
		t.Errorf("second Get: %v", err)
	}
	_ = rc.Close() // a second Close must not free a second slot (nor block)
	rc, err = s.Get(t.Context(), "obj", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close() //nolint:errcheck // a Memory reader's Close does not fail
	_, err = s.Stat(cancelled, "obj")
	remotetest.WantErr(t, "Stat while a reader is open after a double Close", err, context.Canceled)
}

func TestLimitGetErrorReleases(t *testing.T) {
	s := remote.NewLimit(remote.NewMemory(), 1)
	for range 3 {
		_, err := s.Get(t.Context(), "missing", 0, -1)
		remotetest.WantErr(t, "Get", err, remote.ErrNotFound)
	}
}

// TestLimitList checks that List takes no slot: it runs while all slots
// are held, and its fn may call the store at a limit of 1.
func TestLimitList(t *testing.T) {
	mem := remote.NewMemory()
	remotetest.Put(t, mem, "a", []byte("1"))
	remotetest.Put(t, mem, "b", []byte("22"))
	s := remote.NewLimit(mem, 1)
	rc, err := s.Get(t.Context(), "a", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got := remotetest.Keys(t, s, ""); len(got) != 2 {
		t.Errorf("List with the slot held: got %v", got)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = s.List(t.Context(), "", func(fi remote.Info) error {
		_, err := s.Stat(t.Context(), fi.Key)
		return err
	})
	if err != nil {
		t.Errorf("List whose fn calls Stat: %v", err)
	}
}
