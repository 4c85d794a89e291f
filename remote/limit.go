package remote

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// DefaultLimit is the number of requests NewLimit lets run at once when it
// is given n <= 0. Requests to a store wait on the network, not on the CPU,
// so the number does not follow GOMAXPROCS; 8 keeps a home uplink busy
// without opening more connections than a small NAS or an S3 endpoint's
// per-client throttling tolerates.
const DefaultLimit = 8

// limitStore is the Store that NewLimit returns.
type limitStore struct {
	Store
	slots chan struct{} // one element per request in flight
}

// NewLimit returns a Store that lets at most n requests to s run at once
// (DefaultLimit when n <= 0); the others wait for a slot, or until their
// ctx is done and then fail with an error wrapping ctx.Err().
//
// Put, PutIfAbsent, Stat and Delete hold a slot for the call. Get holds one
// from the call until the returned reader is closed, because the transfer
// happens while the caller reads. So callers must close every reader, and
// a caller that keeps n readers open and calls Get again waits until its
// ctx is done.
//
// List is not limited: fn may call the store, and a List holding a slot
// while fn waits for another would deadlock at n = 1; the Store interface
// has no hook to release the slot between the pages of a listing. Location
// is s's.
func NewLimit(s Store, n int) Store {
	if n <= 0 {
		n = DefaultLimit
	}
	return &limitStore{Store: s, slots: make(chan struct{}, n)}
}

// acquire waits for a slot for operation op on key, or until ctx is done.
func (l *limitStore) acquire(ctx context.Context, op, key string) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: waiting for a request slot: %w", op, key, ctx.Err())
	}
}

// release frees a slot that acquire took.
func (l *limitStore) release() { <-l.slots }

// Put implements Store.
func (l *limitStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := l.acquire(ctx, "put", key); err != nil {
		return err
	}
	defer l.release()
	return l.Store.Put(ctx, key, r, size)
}

// PutIfAbsent implements Store.
func (l *limitStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := l.acquire(ctx, "put-if-absent", key); err != nil {
		return err
	}
	defer l.release()
	return l.Store.PutIfAbsent(ctx, key, data)
}

// Stat implements Store.
func (l *limitStore) Stat(ctx context.Context, key string) (Info, error) {
	if err := l.acquire(ctx, "stat", key); err != nil {
		return Info{}, err
	}
	defer l.release()
	return l.Store.Stat(ctx, key)
}

// Delete implements Store.
func (l *limitStore) Delete(ctx context.Context, key string) error {
	if err := l.acquire(ctx, "delete", key); err != nil {
		return err
	}
	defer l.release()
	return l.Store.Delete(ctx, key)
}

// Get implements Store; the slot is released when the reader is closed.
func (l *limitStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := l.acquire(ctx, "get", key); err != nil {
		return nil, err
	}
	rc, err := l.Store.Get(ctx, key, off, length)
	if err != nil {
		l.release()
		return nil, err
	}
	return &slotReader{ReadCloser: rc, release: l.release}, nil
}

// slotReader releases its request slot on the first Close.
type slotReader struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (r *slotReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}
