package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wimsnap/wimsnap/remote"
)

// Taking a repository lock: with conditional writes through the mutexes
// locks/exclusive and locks/prune (acquireShared, acquirePrune,
// acquireExclusive), without them by list-and-wait
// (acquireListing); the lock objects as listed and read, their order, and
// staleness.

// acquireShared takes a shared lock with conditional writes: write the own
// lock, then look for a fresh locks/exclusive. An exclusive locker lists
// the locks after taking locks/exclusive, so of the two at least one sees
// the other. While waiting, the own lock is removed, or an exclusive
// locker waiting for shared locks to go would wait for it.
func (l *Lock) acquireShared(ctx context.Context) error {
	var waited time.Duration
	for {
		if err := l.createOwn(ctx); err != nil {
			return err
		}
		holder, err := l.freshMarker(ctx, exclusiveKey, l.storeNow)
		if err != nil || holder == nil {
			return err
		}
		if err := l.deleteKey(ctx, l.key); err != nil {
			return err
		}
		if waited, err = l.pause(ctx, waited, holder); err != nil {
			return err
		}
	}
}

// freshMarker returns the mutex key if it is there and not stale by the
// store's time, which storeNow gives (asked only when there is a mutex). A
// stale one is left for the next locker of its kind to remove.
func (l *Lock) freshMarker(ctx context.Context, key string, storeNow func(context.Context) (time.Time, error)) (*lockEntry, error) {
	info, err := l.store.Stat(ctx, key)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, mutexStatError(key, err)
	}
	now, err := storeNow(ctx)
	if err != nil {
		return nil, err
	}
	if l.stale(info.ModTime, now) {
		return nil, nil
	}
	e, err := l.read(ctx, info)
	if e != nil && abandoned(e.rec.Lock, e.rec, l.opts.Host) {
		return nil, nil // left for the next locker of its kind to remove
	}
	return e, err
}

// acquireExclusive takes an exclusive lock with conditional writes: write
// the own lock, create locks/exclusive (removing a stale one), then wait
// until no fresh shared lock remains, removing stale locks. Holding
// locks/exclusive while waiting keeps new shared lockers out.
func (l *Lock) acquireExclusive(ctx context.Context) error {
	now, err := l.writeOwn(ctx, true)
	if err != nil {
		return err
	}
	var waited time.Duration
	for {
		holder, err := l.takeMarker(ctx, exclusiveKey, now)
		if err != nil {
			return err
		}
		if holder == nil {
			break
		}
		if waited, err = l.pause(ctx, waited, holder); err != nil {
			return err
		}
		if now, err = l.writeOwn(ctx, false); err != nil {
			return err
		}
	}
	for {
		_, others, err := l.scan(ctx, now)
		if err != nil {
			return err
		}
		// Shared locks, and objects that do not parse, which count as
		// exclusive locks but have no locks/exclusive to stop the lockers.
		holder := oldest(others, func(e *lockEntry) bool { return !e.rec.Exclusive || e.bad })
		if holder == nil {
			break
		}
		if waited, err = l.pause(ctx, waited, holder); err != nil {
			return err
		}
		if now, err = l.touch(ctx); err != nil {
			return err
		}
	}
	// Two lockers that both found a stale locks/exclusive may both have
	// created one, the later after the earlier's removal: the earlier
	// finds out here.
	return l.readBack(ctx, "another process took locks/exclusive meanwhile")
}

// readBack checks that l's mutex is still l's, and if not gives it up
// and fails with why.
func (l *Lock) readBack(ctx context.Context, why string) error {
	ours, holder, err := l.ownsMarker(ctx)
	if err != nil || !ours {
		l.marker = ""
		if err == nil {
			err = l.lockedBy(holder, why)
		}
	}
	return err
}

// acquirePrune takes a prune lock with conditional writes: write the own
// lock, look for a fresh locks/exclusive (as a shared locker does), then
// create locks/prune (removing a stale one). Shared locks do not matter.
func (l *Lock) acquirePrune(ctx context.Context) error {
	now, err := l.writeOwn(ctx, true)
	if err != nil {
		return err
	}
	var waited time.Duration
	for {
		sameNow := func(context.Context) (time.Time, error) { return now, nil }
		holder, err := l.freshMarker(ctx, exclusiveKey, sameNow)
		if err == nil && holder == nil {
			holder, err = l.takeMarker(ctx, pruneKey, now)
		}
		if err != nil {
			return err
		}
		if holder == nil {
			// Read back, as an exclusive locker does: another prune that
			// removed the same stale mutex may have replaced this one.
			return l.readBack(ctx, "another prune took locks/prune meanwhile")
		}
		if waited, err = l.pause(ctx, waited, holder); err != nil {
			return err
		}
		if now, err = l.writeOwn(ctx, false); err != nil {
			return err
		}
	}
}

// takeMarker creates the mutex key for l, removing a stale one, and
// returns the holder of a fresh one; nil, nil when l holds it.
func (l *Lock) takeMarker(ctx context.Context, key string, now time.Time) (*lockEntry, error) {
	for range 10 {
		holder, err := l.createMarker(ctx, key, now)
		if err != nil || holder != nil || l.marker != "" {
			return holder, err
		}
		// A stale one removed, or one gone meanwhile: try again.
	}
	return nil, fmt.Errorf("lock: %s keeps changing", key)
}

// createMarker tries to create the mutex key. It sets l.marker when it
// did, returns the holder when a fresh one is there, and removes a stale
// one (returning nil, nil to try again).
func (l *Lock) createMarker(ctx context.Context, key string, now time.Time) (*lockEntry, error) {
	err := l.store.PutIfAbsent(ctx, key, l.encode(true))
	if err == nil {
		l.marker = key
		return nil, nil
	}
	if !errors.Is(err, remote.ErrExists) {
		return nil, fmt.Errorf("lock: %w", err)
	}
	info, err := l.store.Stat(ctx, key)
	switch {
	case errors.Is(err, remote.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, mutexStatError(key, err)
	}
	e, err := l.read(ctx, info)
	switch {
	case err != nil || e == nil:
		return nil, err
	case e.rec.Lock == l.key: // our own write, sent again by a retrying store
		l.marker = key
		return nil, nil
	case abandoned(e.rec.Lock, e.rec, l.opts.Host):
		if validID(strings.TrimPrefix(e.rec.Lock, lockPrefix)) {
			l.removeStale(ctx, e.rec.Lock) // the holder's own lock, abandoned too
		}
		return nil, l.removeMutexOf(ctx, key, e.rec.Lock)
	case l.stale(info.ModTime, now):
		return nil, l.removeMutexOf(ctx, key, e.rec.Lock)
	}
	return e, nil
}

// mutexStatError is the error of a mutex key that could not be looked at.
// One that is no object at all (remote.ErrDamaged: a FIFO, a device) never
// goes stale, so it names the way out.
func mutexStatError(key string, err error) error {
	if errors.Is(err, remote.ErrDamaged) {
		return fmt.Errorf("lock: %s is not a lock (%w); if no other process uses the repository, 'wimsnap unlock --remove-all' removes it", key, err)
	}
	return fmt.Errorf("lock: %w", err)
}

// removeMutexOf deletes the mutex key if it still names holder, the lock
// found stale or abandoned in it: another locker that found the same may
// have replaced it with its own meanwhile, which must stay. (Between this
// read and the deletion a window remains; the winner's read-back and each
// refresh catch a locker that lost its mutex in it.) A store that refuses
// the deletion (ErrDenied: credentials without delete rights) is an error,
// any other failure a warning.
func (l *Lock) removeMutexOf(ctx context.Context, key, holder string) error {
	if !l.mutexNames(ctx, key, holder) {
		return nil
	}
	err := l.deleteKey(ctx, key)
	if errors.Is(err, remote.ErrDenied) {
		// It would be found again at every try ("keeps changing").
		return fmt.Errorf("removing the stale lock %s: %w", key, err)
	}
	if err != nil {
		l.opts.Warn(fmt.Errorf("removing a stale lock: %w", err))
	}
	return nil
}

// mutexNames reports whether the mutex key is there and names holder.
func (l *Lock) mutexNames(ctx context.Context, key, holder string) bool {
	info, err := l.store.Stat(ctx, key)
	if err != nil {
		return false // gone, or unreadable: left for later
	}
	e, err := l.read(ctx, info)
	return err == nil && e != nil && e.rec.Lock == holder
}

// acquireListing takes a lock without conditional writes (list-and-wait):
// write the own lock, wait Settle for concurrent writers to show, list the
// locks and remove stale ones. Shared locks never conflict with each other;
// of conflicting fresh locks the oldest (by the store's time of its first
// write, ties broken by the smaller key) wins and the others give way, so
// every locker that lists all of them decides alike. A locker that waits
// keeps its lock, and its place in that order.
func (l *Lock) acquireListing(ctx context.Context) error {
	now, err := l.writeOwn(ctx, true)
	if err != nil {
		return err
	}
	if err := l.opts.Sleep(ctx, l.opts.Settle); err != nil {
		return err
	}
	var waited time.Duration
	for first := true; ; first = false {
		own, others, err := l.scan(ctx, now)
		if err != nil {
			return err
		}
		if own == nil {
			return fmt.Errorf("lock: %s is not listed %v after it was written", l.key, l.opts.Settle)
		}
		if first {
			// The time others see in the list, which may be finer than
			// Stat's (S3), orders this lock from now on.
			l.rec.Acquired = own.mod
		}
		own.rec.Acquired = l.rec.Acquired
		holder := oldest(others, func(e *lockEntry) bool {
			return conflict(l.rec, e.rec) && e.before(own)
		})
		if holder == nil {
			return nil
		}
		if waited, err = l.pause(ctx, waited, holder); err != nil {
			return err
		}
		if now, err = l.writeOwn(ctx, false); err != nil {
			return err
		}
	}
}

// pause waits before the next attempt, or returns a *LockedError naming
// holder once Wait is used up. Waiting is counted in the durations asked
// of Sleep, so an injected Sleep decides it; a Sleep cut short (the
// context is done) counts the time it took, at most the duration asked.
func (l *Lock) pause(ctx context.Context, waited time.Duration, holder *lockEntry) (time.Duration, error) {
	if waited >= l.opts.Wait {
		return waited, l.lockedBy(holder, "")
	}
	if waited == 0 && l.opts.Waiting != nil {
		l.opts.Waiting(l.lockedBy(holder, ""))
	}
	d := min(lockPoll, l.opts.Wait-waited)
	start := time.Now()
	if err := l.opts.Sleep(ctx, d); err != nil {
		l.waited += min(time.Since(start), d)
		return waited, err
	}
	l.waited += d
	return waited + d, nil
}

// Waited returns how long acquiring the lock paused for other locks (the
// durations asked of Sleep, which the default Sleep takes in full, and
// the part taken of one cut short).
func (l *Lock) Waited() time.Duration { return l.waited }

func (l *Lock) lockedBy(holder *lockEntry, why string) error {
	if holder == nil {
		return fmt.Errorf("%w: %s", ErrLocked, why)
	}
	return &LockedError{Holder: holder.info(), StaleAfter: l.opts.StaleAfter}
}

// lockEntry is a lock object as listed and read.
type lockEntry struct {
	key string
	mod time.Time // the store's time of its last write
	rec lockRecord
	bad bool // unreadable: taken for an exclusive lock until it is stale
}

// since is the store's time of the lock's first write.
func (e *lockEntry) since() time.Time {
	if !e.rec.Acquired.IsZero() && e.rec.Acquired.Before(e.mod) {
		return e.rec.Acquired
	}
	return e.mod
}

// before orders locks by the time of their first write, then by key.
func (e *lockEntry) before(o *lockEntry) bool {
	a, b := e.since(), o.since()
	if !a.Equal(b) {
		return a.Before(b)
	}
	return e.key < o.key
}

func (e *lockEntry) info() LockInfo {
	i := LockInfo{Key: e.key, Exclusive: e.rec.Exclusive, Kind: "shared", Since: e.since(), ModTime: e.mod,
		holder: e.rec.Lock}
	switch {
	case e.rec.Exclusive:
		i.Kind = "exclusive"
	case e.rec.Kind == kindPrune:
		i.Kind = kindPrune
	}
	if !e.bad {
		i.Host, i.PID, i.User = e.rec.Host, e.rec.PID, e.rec.User
	}
	return i
}

// conflict reports whether locks of the kinds a and b exclude each other.
func conflict(a, b lockRecord) bool {
	return a.Exclusive || b.Exclusive || a.Kind == kindPrune && b.Kind == kindPrune
}

// oldest returns the oldest of the entries that match, or nil.
func oldest(es []lockEntry, match func(*lockEntry) bool) *lockEntry {
	var o *lockEntry
	for i := range es {
		if match(&es[i]) && (o == nil || es[i].before(o)) {
			o = &es[i]
		}
	}
	return o
}

// scan lists the lock objects, removes the stale ones other than l's and
// reads the rest. own is l's lock as listed, nil when it is not. Keys that
// are not locks/<id> (locks/exclusive, init's probes) are passed over.
func (l *Lock) scan(ctx context.Context, now time.Time) (own *lockEntry, others []lockEntry, err error) {
	infos, err := listLockObjects(ctx, l.store)
	if err != nil {
		return nil, nil, err
	}
	return l.sortLocks(ctx, infos, now, func(key string) { l.removeStale(ctx, key) })
}

// holders lists and reads the locks other than l that are neither stale
// nor abandoned, as scan does but removing nothing, for a caller that only
// looks (a dry run). Staleness is judged by the store's clock: the time of
// l's own last write as listed, else (l not listed) the local clock.
func (l *Lock) holders(ctx context.Context) ([]lockEntry, error) {
	infos, err := listLockObjects(ctx, l.store)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, i := range infos {
		if i.Key == l.key {
			now = i.ModTime
		}
	}
	_, others, err := l.sortLocks(ctx, infos, now, func(string) {})
	return others, err
}

// sortLocks tells apart the lock objects infos: l's own (as listed, nil
// when it is not), the others that are neither stale at now nor
// abandoned, read, and those that are, passed to gone. Keys that are not
// locks/<id> are passed over.
func (l *Lock) sortLocks(ctx context.Context, infos []remote.Info, now time.Time, gone func(key string)) (own *lockEntry, others []lockEntry, err error) {
	for _, i := range infos {
		switch {
		case !validID(strings.TrimPrefix(i.Key, lockPrefix)):
		case i.Key == l.key:
			own = &lockEntry{key: i.Key, mod: i.ModTime, rec: l.rec}
		case l.stale(i.ModTime, now):
			gone(i.Key)
		default:
			e, err := l.read(ctx, i)
			switch {
			case err != nil:
				return nil, nil, err
			case e != nil && abandoned(e.key, e.rec, l.opts.Host):
				gone(e.key)
			case e != nil:
				others = append(others, *e)
			}
		}
	}
	return own, others, nil
}

// listLockObjects lists the objects under locks/: locks, mutexes and
// probes alike, for the caller to tell apart.
func listLockObjects(ctx context.Context, s remote.Store) ([]remote.Info, error) {
	var infos []remote.Info
	err := s.List(ctx, lockPrefix, func(i remote.Info) error {
		infos = append(infos, i)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing locks: %w", err)
	}
	return infos, nil
}

// read reads the lock object i; nil, nil when it is gone.
func (l *Lock) read(ctx context.Context, i remote.Info) (*lockEntry, error) {
	b, err := remote.ReadAll(ctx, l.store, i.Key, maxLockLen)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, nil
	}
	e := &lockEntry{key: i.Key, mod: i.ModTime}
	switch {
	case errors.Is(err, remote.ErrTooLarge), errors.Is(err, remote.ErrDamaged): // no lock of ours (a FIFO): unparseable, as below
		e.rec, e.bad = lockRecord{Exclusive: true}, true
	case err != nil:
		return nil, fmt.Errorf("reading lock: %w", err)
	case json.Unmarshal(b, &e.rec) != nil:
		e.rec, e.bad = lockRecord{Exclusive: true}, true
	}
	return e, nil
}

func (l *Lock) stale(mod, now time.Time) bool { return mod.Before(now.Add(-l.opts.StaleAfter)) }

// removeStale deletes a stale lock; a failure only leaves it for later.
func (l *Lock) removeStale(ctx context.Context, key string) {
	if err := l.deleteKey(ctx, key); err != nil {
		l.opts.Warn(fmt.Errorf("removing a stale lock: %w", err))
	}
}

// deleteKey deletes key; one already gone is fine.
func (l *Lock) deleteKey(ctx context.Context, key string) error {
	if err := l.store.Delete(ctx, key); err != nil && !errors.Is(err, remote.ErrNotFound) {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}
