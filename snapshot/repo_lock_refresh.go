package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wimsnap/wimsnap/remote"
)

// Writing and keeping a held repository lock: the writes of the own lock and
// its mutex (locks/exclusive or locks/prune), whether the mutex is still
// ours, the refresher and losing the lock, and removing what was written.

// encode marshals the record, for the mutex when marker is set.
func (l *Lock) encode(marker bool) []byte {
	r := l.rec
	r.Time = l.opts.Now().UTC()
	if marker {
		r.Lock = l.key
	}
	b, _ := json.Marshal(r) // a struct of strings, numbers and times
	return append(b, '\n')
}

// writeOwn writes l's lock, first creating it, and returns its ModTime:
// the store's "now".
func (l *Lock) writeOwn(ctx context.Context, first bool) (time.Time, error) {
	if !first && l.rec.Acquired.IsZero() {
		// Created by createOwn, which did not ask: the first write's
		// ModTime is still there to read, until this write replaces it.
		info, err := l.store.Stat(ctx, l.key)
		if err != nil {
			return time.Time{}, fmt.Errorf("lock: %w", err)
		}
		l.rec.Acquired = info.ModTime
	}
	l.lastWrite = time.Now()
	var err error
	if first {
		l.rec.Acquired = time.Time{}
		err = l.create(ctx)
	} else {
		b := l.encode(false)
		err = putBytes(ctx, l.store, l.key, b)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("writing lock: %w", err)
	}
	info, err := l.store.Stat(ctx, l.key)
	if err != nil {
		return time.Time{}, fmt.Errorf("lock: %w", err)
	}
	if first {
		l.rec.Acquired = info.ModTime
	}
	return info.ModTime, nil
}

// createOwn creates l's lock like writeOwn, without asking the store for
// its ModTime: a shared locker needs the store's time only when it finds
// locks/exclusive, and that saves a request per snapshot.
func (l *Lock) createOwn(ctx context.Context) error {
	l.lastWrite = time.Now()
	l.rec.Acquired = time.Time{}
	if err := l.create(ctx); err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	return nil
}

// storeNow is the ModTime of l's lock, the store's "now" shortly after its
// last write.
func (l *Lock) storeNow(ctx context.Context) (time.Time, error) {
	info, err := l.store.Stat(ctx, l.key)
	if err != nil {
		return time.Time{}, fmt.Errorf("lock: %w", err)
	}
	return info.ModTime, nil
}

// create writes l's lock under its random key with a create-if-absent
// put, so that it never replaces another's. (NewRetry resolves an ErrExists
// after an attempt of unknown outcome by reading the bytes back, and the
// record's time makes them unique.)
func (l *Lock) create(ctx context.Context) error {
	return l.store.PutIfAbsent(ctx, l.key, l.encode(false))
}

// touch rewrites l's lock and the mutex if l holds one.
func (l *Lock) touch(ctx context.Context) (time.Time, error) {
	now, err := l.writeOwn(ctx, false)
	if err == nil && l.marker != "" {
		if err = putBytes(ctx, l.store, l.marker, l.encode(true)); err != nil {
			err = fmt.Errorf("writing lock: %w", err)
		}
	}
	return now, err
}

// remove deletes what l wrote: its mutex if it is still l's, then its
// own lock.
func (l *Lock) remove(ctx context.Context) error {
	defer heldLocks.Delete(l.key) // if the deletion fails, the lock is abandoned
	var errs []error
	if l.marker != "" {
		ours, _, err := l.ownsMarker(ctx)
		if err == nil && ours {
			err = l.deleteKey(ctx, l.marker)
		}
		errs = append(errs, err)
	}
	errs = append(errs, l.deleteKey(ctx, l.key))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing lock %s (it becomes stale %s after its last refresh): %w",
			l.key, fmtDuration(l.opts.StaleAfter), err)
	}
	return nil
}

// ownsMarker reads l's mutex and reports whether it is l's.
func (l *Lock) ownsMarker(ctx context.Context) (bool, *lockEntry, error) {
	info, err := l.store.Stat(ctx, l.marker)
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("lock: %w", err)
	}
	e, err := l.read(ctx, info)
	if err != nil || e == nil {
		return false, nil, err
	}
	return e.rec.Lock == l.key, e, nil
}

// refresher rewrites the lock every RefreshEvery until Unlock, retrying a
// failure every RefreshEvery/5, and declares the lock lost when no write
// started in the last StaleAfter/2 succeeded. It measures time on the
// monotonic clock: these are its own intervals, compared with nobody's.
func (l *Lock) refresher() {
	defer close(l.done)
	half := l.opts.StaleAfter / 2
	deadline, wait := l.lastWrite.Add(half), l.opts.RefreshEvery
	var lastErr error
	for {
		t := time.NewTimer(min(wait, time.Until(deadline)))
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !time.Now().Before(deadline) {
			err := fmt.Errorf("%w: %s not refreshed for %v (was the process suspended?)", ErrLockLost, l.key, half)
			if lastErr != nil {
				err = fmt.Errorf("%w: %s not refreshed for %v: %w", ErrLockLost, l.key, half, lastErr)
			}
			l.setLost(err)
			return
		}
		start := time.Now()
		ctx, cancel := context.WithDeadline(l.ctx, deadline)
		err := l.refresh(ctx)
		cancel()
		switch {
		case l.ctx.Err() != nil:
			return
		case err == nil:
			deadline, wait, lastErr = start.Add(half), l.opts.RefreshEvery, nil
		case errors.Is(err, ErrLockLost):
			l.setLost(err)
			return
		default:
			// An attempt cut off by the deadline says less than the
			// failures before it.
			if lastErr == nil || time.Now().Before(deadline) {
				lastErr = err
			}
			if time.Now().Before(deadline) {
				l.opts.Warn(fmt.Errorf("refreshing the repository lock (will retry): %w", err))
			}
			wait = max(l.opts.RefreshEvery/5, time.Millisecond)
		}
	}
}

// refresh rewrites the lock, unless another process removed it (or took
// its mutex) meanwhile: a removed lock is never written again. A lock whose
// first write's time is not yet recorded (a shared lock, created without
// asking) records it now, while the object still has it: a prune judges
// by it whether the lock's holder started before its new index.
func (l *Lock) refresh(ctx context.Context) error {
	info, err := l.store.Stat(ctx, l.key)
	if errors.Is(err, remote.ErrNotFound) {
		return fmt.Errorf("%w: %s was removed by another process, which took it for stale", ErrLockLost, l.key)
	}
	if err != nil {
		return err
	}
	if l.rec.Acquired.IsZero() {
		l.rec.Acquired = info.ModTime // only the refresher writes l.rec now
	}
	if l.marker != "" {
		ours, _, err := l.ownsMarker(ctx)
		if err != nil {
			return err
		}
		if !ours {
			return fmt.Errorf("%w: %s was removed or taken by another process", ErrLockLost, l.marker)
		}
	}
	if err := putBytes(ctx, l.store, l.key, l.encode(false)); err != nil {
		return err
	}
	if l.marker != "" {
		return putBytes(ctx, l.store, l.marker, l.encode(true))
	}
	return nil
}

func (l *Lock) setLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
		close(l.lost)
	}
}
