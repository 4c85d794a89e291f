package remotetest

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/wimsnap/wimsnap/remote"
)

// ops are the operation names that Faulty's methods take.
var ops = []string{"put", "putifabsent", "get", "stat", "list", "delete"}

// Faulty is a remote.Store for tests that passes requests to another store
// and fails some of them as programmed: before the request (FailNext),
// after a write took effect (FailAfterWrite), in the middle of a transfer
// (CutReads, CutWrites), or with damaged data (FlipByte). It counts the
// calls of every operation (Calls). Each fault is used up by the call it
// hits; faults of one kind hit the calls in the order they were programmed.
// Operations are named "put", "putifabsent", "get", "stat", "list" and
// "delete"; the methods panic on any other name.
//
// A Faulty is safe for concurrent use; so is programming faults while
// requests run, though which request a fault then hits depends on timing. Location is the underlying store's.
type Faulty struct {
	s remote.Store

	mu        sync.Mutex
	calls     map[string]int
	fail      map[string][]error // FailNext, per op
	afterOK   map[string]int     // FailAfterWrite, per op
	cutReads  []cut
	cutWrites []cut
	flips     int
}

// cut is a transfer that fails with err after after bytes.
type cut struct {
	after int64
	err   error
}

var _ remote.Store = (*Faulty)(nil)

// NewFaulty returns a Faulty over s with no faults programmed.
func NewFaulty(s remote.Store) *Faulty {
	return &Faulty{
		s:       s,
		calls:   make(map[string]int),
		fail:    make(map[string][]error),
		afterOK: make(map[string]int),
	}
}

// checkOp panics unless op is one of allowed.
func checkOp(op string, allowed []string) {
	for _, a := range allowed {
		if op == a {
			return
		}
	}
	panic(fmt.Sprintf("remotetest: operation %q is not one of %q", op, allowed))
}

// FailNext makes the next n calls of op fail with an error wrapping err,
// without passing them to the underlying store.
func (f *Faulty) FailNext(op string, n int, err error) {
	checkOp(op, ops)
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fail[op] = append(f.fail[op], err)
	}
}

// FailAfterWrite makes the next n calls of op ("put", "putifabsent" or
// "delete") that succeed in the underlying store report an error wrapping
// remote.ErrUnavailable: the write took effect but the caller cannot know.
// A call that fails in the underlying store returns its error and uses the
// fault up.
func (f *Faulty) FailAfterWrite(op string, n int) {
	checkOp(op, []string{"put", "putifabsent", "delete"})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterOK[op] += n
}

// CutReads makes the readers of the next n successful Gets fail with err
// (returned as it is) once they have yielded after bytes, in place of the
// next bytes or of io.EOF; a range shorter than after bytes ends normally.
func (f *Faulty) CutReads(after int64, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.cutReads = append(f.cutReads, cut{after: after, err: err})
	}
}

// CutWrites makes the next n Puts pass the underlying store a reader that
// fails with err (returned as it is) after after bytes of the caller's
// reader, so the caller's reader is left partly read.
func (f *Faulty) CutWrites(after int64, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.cutWrites = append(f.cutWrites, cut{after: after, err: err})
	}
}

// FlipByte makes the readers of the next n successful Gets yield the first
// byte of their range inverted (XOR 0xff); an empty range is unchanged.
func (f *Faulty) FlipByte(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flips += n
}

// Calls returns how many times op was called, the calls failed by a fault
// included.
func (f *Faulty) Calls(op string) int {
	checkOp(op, ops)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// call counts a call of op on key and returns the error FailNext programmed
// for it, if any.
func (f *Faulty) call(op, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	q := f.fail[op]
	if len(q) == 0 {
		return nil
	}
	f.fail[op] = q[1:]
	return fmt.Errorf("remotetest: injected failure of %s %s: %w", op, key, q[0])
}

// afterWrite returns the result of a write op on key whose underlying call
// returned err, applying FailAfterWrite.
func (f *Faulty) afterWrite(op, key string, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.afterOK[op] == 0 {
		return err
	}
	f.afterOK[op]--
	if err != nil {
		return err
	}
	return fmt.Errorf("remotetest: injected failure after %s %s: %w", op, key, remote.ErrUnavailable)
}

// popCut removes and returns the first cut of *q, or nil.
func (f *Faulty) popCut(q *[]cut) *cut {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(*q) == 0 {
		return nil
	}
	c := (*q)[0]
	*q = (*q)[1:]
	return &c
}

// popFlip uses up one FlipByte fault and reports whether there was one.
func (f *Faulty) popFlip() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flips == 0 {
		return false
	}
	f.flips--
	return true
}

// Put implements remote.Store.
func (f *Faulty) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := f.call("put", key); err != nil {
		return err
	}
	if c := f.popCut(&f.cutWrites); c != nil {
		r = &faultyReader{r: r, cut: c}
	}
	return f.afterWrite("put", key, f.s.Put(ctx, key, r, size))
}

// PutIfAbsent implements remote.Store.
func (f *Faulty) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := f.call("putifabsent", key); err != nil {
		return err
	}
	return f.afterWrite("putifabsent", key, f.s.PutIfAbsent(ctx, key, data))
}

// Get implements remote.Store.
func (f *Faulty) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := f.call("get", key); err != nil {
		return nil, err
	}
	rc, err := f.s.Get(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	c, flip := f.popCut(&f.cutReads), f.popFlip()
	if c == nil && !flip {
		return rc, nil
	}
	return &faultyReadCloser{faultyReader{r: rc, cut: c, flip: flip}, rc}, nil
}

// Stat implements remote.Store.
func (f *Faulty) Stat(ctx context.Context, key string) (remote.Info, error) {
	if err := f.call("stat", key); err != nil {
		return remote.Info{}, err
	}
	return f.s.Stat(ctx, key)
}

// List implements remote.Store.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := f.call("list", prefix); err != nil {
		return err
	}
	return f.s.List(ctx, prefix, fn)
}

// Delete implements remote.Store.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.call("delete", key); err != nil {
		return err
	}
	return f.afterWrite("delete", key, f.s.Delete(ctx, key))
}

// Location implements remote.Store; it returns the underlying store's.
func (f *Faulty) Location() string { return f.s.Location() }

// faultyReader applies a cut (if not nil) and a flip to r.
type faultyReader struct {
	r    io.Reader
	cut  *cut
	flip bool
	n    int64 // bytes yielded so far
}

func (r *faultyReader) Read(p []byte) (int, error) {
	if r.cut != nil {
		left := r.cut.after - r.n
		if left <= 0 {
			return 0, r.cut.err
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := r.r.Read(p)
	if r.flip && n > 0 {
		p[0] ^= 0xff
		r.flip = false
	}
	r.n += int64(n)
	return n, err
}

// faultyReadCloser is a faultyReader that closes c.
type faultyReadCloser struct {
	faultyReader
	c io.Closer
}

func (r *faultyReadCloser) Close() error { return r.c.Close() }
