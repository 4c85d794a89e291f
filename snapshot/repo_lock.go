package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/remote"
)

// Repository locks (docs/repository.md, "locks/").
//
// A lock is the object locks/<64 hex digits, random> holding a lockRecord.
// Shared locks coexist; an exclusive lock excludes every other lock. Whether
// a lock is stale is decided by the store's clock only: a process takes the
// ModTime of its own freshly written lock as "store now", and a lock whose
// ModTime is older than store now minus StaleAfter is stale and may be
// removed by anyone. A holder rewrites its lock every RefreshEvery and
// gives it up as lost when it could not for StaleAfter/2.

var (
	// ErrLocked means that another process holds a lock that conflicts
	// with the one asked for. The error is a *LockedError naming the holder.
	ErrLocked = errors.New("snapshot: repository is locked")
	// ErrLockLost means that a held lock could not be refreshed for half
	// its StaleAfter, or that another process removed it as stale: others
	// may now take the repository, so the work it protects must not commit.
	ErrLockLost = errors.New("snapshot: repository lock lost")
)

// Defaults of LockOptions.
const (
	DefaultLockStaleAfter = 30 * time.Minute
	DefaultLockSettle     = 2 * time.Second
)

const (
	exclusiveKey = lockPrefix + "exclusive" // the exclusive lock's mutex, with conditional writes
	maxLockLen   = 64 << 10                 // a lock object read back
	lockPoll     = 5 * time.Second          // between attempts while waiting (LockOptions.Wait)
	lockCleanup  = time.Minute              // bounds removing a lock after its context is done
)

// LockOptions configures LockShared and LockExclusive. Every process using
// one repository must use the same StaleAfter.
type LockOptions struct {
	// StaleAfter is how long after its last write, by the store's clock, a
	// lock counts as stale: its holder is taken for dead and anyone may
	// remove it. Default 30 minutes.
	StaleAfter time.Duration
	// RefreshEvery is how often a held lock is rewritten; it must be below
	// StaleAfter/2. Default StaleAfter/6 (5 minutes).
	RefreshEvery time.Duration
	// Settle is how long a store without conditional writes is given to
	// show concurrent writers' locks before the lock list is read. It must
	// exceed the time by which a lock's ModTime may precede its showing in
	// listings: the store's time granularity plus how long a small write
	// takes to become visible after the store stamped it. Default 2 s.
	Settle time.Duration
	// Wait bounds how long taking a lock waits for conflicting locks to go,
	// polling every 5 s; 0 (the default) fails at once with ErrLocked.
	Wait time.Duration
	// Now is the clock of the lock record's informational time; nil means
	// time.Now. Staleness never uses it.
	Now func() time.Time
	// Host names this machine in the lock record; empty means os.Hostname.
	Host string
	// Warn receives problems that do not end the lock: a refresh that
	// failed and will be retried, a lock that could not be removed. nil
	// discards them.
	Warn func(error)
	// Sleep waits for d or until ctx is done, then returning an error
	// wrapping ctx.Err(); it times Settle and the polls under Wait. nil
	// means a timer. The refresher always uses timers and the monotonic
	// clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *LockOptions) applyDefaults() error {
	if o.StaleAfter < 0 || o.RefreshEvery < 0 || o.Settle < 0 || o.Wait < 0 {
		return errors.New("snapshot: lock options: negative duration")
	}
	if o.StaleAfter == 0 {
		o.StaleAfter = DefaultLockStaleAfter
	}
	if o.RefreshEvery == 0 {
		o.RefreshEvery = o.StaleAfter / 6
	}
	if o.RefreshEvery <= 0 || o.RefreshEvery >= o.StaleAfter/2 {
		return fmt.Errorf("snapshot: lock options: refreshing every %v does not keep a lock that is stale after %v", o.RefreshEvery, o.StaleAfter)
	}
	if o.Settle == 0 {
		o.Settle = DefaultLockSettle
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("snapshot: lock: host name: %w", err)
		}
		o.Host = h
	}
	if o.Warn == nil {
		o.Warn = func(error) {}
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	return nil
}

// lockRecord is the JSON of a lock object.
type lockRecord struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	User      string    `json:"user,omitempty"`
	Exclusive bool      `json:"exclusive"`
	Time      time.Time `json:"time"` // the writer's clock at the last write; informational
	// Acquired is the store's ModTime of the lock's first write, recorded
	// from its second write on, so that a refresh does not make a lock
	// younger in the list-and-wait order.
	Acquired time.Time `json:"acquired,omitzero"`
	// Lock, in locks/exclusive only, is the key of its holder's own lock.
	Lock string `json:"lock,omitempty"`
}

// LockInfo describes a lock object found in the repository.
type LockInfo struct {
	Key       string    // its object key
	Host      string    // empty when the object could not be read
	PID       int       // the holder's process id on Host
	User      string    // the holder's user name, if it recorded one
	Exclusive bool      // an exclusive lock (prune), else shared (snapshot)
	Since     time.Time // the store's time of its first write
	ModTime   time.Time // the store's time of its last write (refresh)
}

// LockedError reports the lock that kept a lock from being taken. It
// wraps ErrLocked.
type LockedError struct {
	Holder LockInfo
	// StaleAfter is how long after its last refresh the holder's lock
	// becomes stale, should its process be gone.
	StaleAfter time.Duration
}

func (e *LockedError) Error() string {
	h := e.Holder
	how, who := "locked", fmt.Sprintf("a lock object %s that cannot be read", h.Key)
	if h.Exclusive {
		how = "locked exclusively"
	}
	if h.Host != "" {
		who = fmt.Sprintf("host %s (pid %d", h.Host, h.PID)
		if h.User != "" {
			who += ", user " + h.User
		}
		who += ")"
	}
	return fmt.Sprintf("snapshot: repository is %s by %s since %s; if that process is gone, the lock becomes stale %s after its last refresh",
		how, who, h.Since.UTC().Format(time.DateTime+" UTC"), fmtDuration(e.StaleAfter))
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

func fmtDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// Lock is a held repository lock. While it is held a goroutine rewrites it
// every RefreshEvery; failures go to Warn and are retried, and when none
// succeeded for StaleAfter/2 (or another process removed the lock as stale)
// the lock is lost: Lost is closed and Err returns an error wrapping
// ErrLockLost. A lost lock is never rewritten. The holder must call Unlock;
// a process that dies without it (SIGKILL) leaves its lock, which becomes
// stale StaleAfter after its last refresh. The methods are safe for
// concurrent use.
type Lock struct {
	store  remote.Store
	opts   LockOptions
	key    string     // the own lock object
	rec    lockRecord // what it holds; Acquired is set after the first write
	marker bool       // also holds locks/exclusive

	lastWrite time.Time // the monotonic start of the last write of key

	ctx    context.Context // of the refresher; cancelled by Unlock
	cancel context.CancelFunc
	done   chan struct{} // closed when the refresher has returned
	lost   chan struct{} // closed when the lock is lost

	mu       sync.Mutex
	err      error // why the lock was lost
	released bool
}

// LockShared takes a shared lock on the repository, as a snapshot does.
// Shared locks coexist; an exclusive lock that is not stale makes it fail
// with a *LockedError (after waiting up to opts.Wait for it to go).
func (r *Repo) LockShared(ctx context.Context, opts LockOptions) (*Lock, error) {
	return acquireLock(ctx, r.store, r.cfg.ConditionalWrites, false, opts)
}

// LockExclusive takes an exclusive lock on the repository, as prune does:
// any other lock that is not stale makes it fail with a *LockedError (after
// waiting up to opts.Wait for them to go). Stale locks are removed.
func (r *Repo) LockExclusive(ctx context.Context, opts LockOptions) (*Lock, error) {
	return acquireLock(ctx, r.store, r.cfg.ConditionalWrites, true, opts)
}

// acquireLock takes a lock in store. conditional says whether the store
// refuses a second create-if-absent write (RepoConfig.ConditionalWrites).
// On failure it leaves nothing behind that it wrote.
func acquireLock(ctx context.Context, store remote.Store, conditional, exclusive bool, opts LockOptions) (*Lock, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	l := &Lock{store: store, opts: opts, key: lockPrefix + hex.EncodeToString(id[:]),
		rec:  lockRecord{Host: opts.Host, PID: os.Getpid(), User: userName(), Exclusive: exclusive},
		done: make(chan struct{}), lost: make(chan struct{})}
	var err error
	switch {
	case !conditional:
		err = l.acquireListing(ctx)
	case exclusive:
		err = l.acquireExclusive(ctx)
	default:
		err = l.acquireShared(ctx)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockCleanup)
		defer cancel()
		if rerr := l.remove(cctx); rerr != nil {
			opts.Warn(rerr)
		}
		return nil, err
	}
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go l.refresher()
	return l, nil
}

func userName() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
}

// acquireShared takes a shared lock with conditional writes: write the own
// lock, then look for a fresh locks/exclusive. An exclusive locker lists
// the locks after taking locks/exclusive, so of the two at least one sees
// the other. While waiting, the own lock is removed, or an exclusive
// locker waiting for shared locks to go would wait for it.
func (l *Lock) acquireShared(ctx context.Context) error {
	var waited time.Duration
	for {
		now, err := l.writeOwn(ctx, true)
		if err != nil {
			return err
		}
		holder, err := l.freshMarker(ctx, now)
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

// freshMarker returns locks/exclusive if it is there and not stale. A
// stale one is left for the next exclusive locker to remove.
func (l *Lock) freshMarker(ctx context.Context, now time.Time) (*lockEntry, error) {
	info, err := l.store.Stat(ctx, exclusiveKey)
	if errors.Is(err, remote.ErrNotFound) || err == nil && l.stale(info.ModTime, now) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: lock: %w", err)
	}
	return l.read(ctx, info)
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
	for retries := 0; !l.marker; {
		holder, err := l.createMarker(ctx, now)
		switch {
		case err != nil:
			return err
		case holder == nil && retries == 10:
			return fmt.Errorf("snapshot: lock: %s keeps changing", exclusiveKey)
		case holder == nil:
			retries++ // taken, or a stale one removed: try again
			continue
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
		holder := oldest(others, func(e *lockEntry) bool { return !e.rec.Exclusive })
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
	if ours, holder, err := l.ownsMarker(ctx); err != nil || !ours {
		l.marker = false
		if err == nil {
			err = l.lockedBy(holder, "another process took locks/exclusive meanwhile")
		}
		return err
	}
	return nil
}

// createMarker tries to create locks/exclusive. It sets l.marker when it
// did, returns the holder when a fresh one is there, and removes a stale
// one (returning nil, nil to try again).
func (l *Lock) createMarker(ctx context.Context, now time.Time) (*lockEntry, error) {
	err := l.store.PutIfAbsent(ctx, exclusiveKey, l.encode(true))
	if err == nil {
		l.marker = true
		return nil, nil
	}
	if !errors.Is(err, remote.ErrExists) {
		return nil, fmt.Errorf("snapshot: lock: %w", err)
	}
	info, err := l.store.Stat(ctx, exclusiveKey)
	switch {
	case errors.Is(err, remote.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("snapshot: lock: %w", err)
	}
	e, err := l.read(ctx, info)
	switch {
	case err != nil || e == nil:
		return nil, err
	case e.rec.Lock == l.key: // our own write, sent again by a retrying store
		l.marker = true
		return nil, nil
	case l.stale(info.ModTime, now):
		l.removeStale(ctx, exclusiveKey)
		return nil, nil
	}
	return e, nil
}

// ownsMarker reads locks/exclusive and reports whether it is l's.
func (l *Lock) ownsMarker(ctx context.Context) (bool, *lockEntry, error) {
	info, err := l.store.Stat(ctx, exclusiveKey)
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("snapshot: lock: %w", err)
	}
	e, err := l.read(ctx, info)
	if err != nil || e == nil {
		return false, nil, err
	}
	return e.rec.Lock == l.key, e, nil
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
			return fmt.Errorf("snapshot: lock: %s is not listed %v after it was written", l.key, l.opts.Settle)
		}
		if first {
			// The time others see in the list, which may be finer than
			// Stat's (S3), orders this lock from now on.
			l.rec.Acquired = own.mod
		}
		own.rec.Acquired = l.rec.Acquired
		holder := oldest(others, func(e *lockEntry) bool {
			return (l.rec.Exclusive || e.rec.Exclusive) && e.before(own)
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
// of Sleep, so an injected Sleep decides it.
func (l *Lock) pause(ctx context.Context, waited time.Duration, holder *lockEntry) (time.Duration, error) {
	if waited >= l.opts.Wait {
		return waited, l.lockedBy(holder, "")
	}
	d := min(lockPoll, l.opts.Wait-waited)
	if err := l.opts.Sleep(ctx, d); err != nil {
		return waited, err
	}
	return waited + d, nil
}

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
	i := LockInfo{Key: e.key, Exclusive: e.rec.Exclusive, Since: e.since(), ModTime: e.mod}
	if !e.bad {
		i.Host, i.PID, i.User = e.rec.Host, e.rec.PID, e.rec.User
	}
	return i
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
	var infos []remote.Info
	err = l.store.List(ctx, lockPrefix, func(i remote.Info) error {
		infos = append(infos, i)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: listing locks: %w", err)
	}
	for _, i := range infos {
		switch {
		case !validID(strings.TrimPrefix(i.Key, lockPrefix)):
		case i.Key == l.key:
			own = &lockEntry{key: i.Key, mod: i.ModTime, rec: l.rec}
		case l.stale(i.ModTime, now):
			l.removeStale(ctx, i.Key)
		default:
			e, err := l.read(ctx, i)
			if err != nil {
				return nil, nil, err
			}
			if e != nil {
				others = append(others, *e)
			}
		}
	}
	return own, others, nil
}

// read reads the lock object i; nil, nil when it is gone.
func (l *Lock) read(ctx context.Context, i remote.Info) (*lockEntry, error) {
	b, err := remote.ReadAll(ctx, l.store, i.Key, maxLockLen)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: reading lock: %w", err)
	}
	e := &lockEntry{key: i.Key, mod: i.ModTime}
	if json.Unmarshal(b, &e.rec) != nil {
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
		return fmt.Errorf("snapshot: lock: %w", err)
	}
	return nil
}

// encode marshals the record, for locks/exclusive when marker is set.
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
		return time.Time{}, fmt.Errorf("snapshot: writing lock: %w", err)
	}
	info, err := l.store.Stat(ctx, l.key)
	if err != nil {
		return time.Time{}, fmt.Errorf("snapshot: lock: %w", err)
	}
	if first {
		l.rec.Acquired = info.ModTime
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

// touch rewrites l's lock and locks/exclusive if l holds it.
func (l *Lock) touch(ctx context.Context) (time.Time, error) {
	now, err := l.writeOwn(ctx, false)
	if err == nil && l.marker {
		if err = putBytes(ctx, l.store, exclusiveKey, l.encode(true)); err != nil {
			err = fmt.Errorf("snapshot: writing lock: %w", err)
		}
	}
	return now, err
}

// remove deletes what l wrote: locks/exclusive if it is still l's, then
// its own lock.
func (l *Lock) remove(ctx context.Context) error {
	var errs []error
	if l.marker {
		ours, _, err := l.ownsMarker(ctx)
		if err == nil && ours {
			err = l.deleteKey(ctx, exclusiveKey)
		}
		errs = append(errs, err)
	}
	errs = append(errs, l.deleteKey(ctx, l.key))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("snapshot: removing lock %s (it becomes stale %s after its last refresh): %w",
			l.key, fmtDuration(l.opts.StaleAfter), err)
	}
	return nil
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
// locks/exclusive) meanwhile: a removed lock is never written again.
func (l *Lock) refresh(ctx context.Context) error {
	_, err := l.store.Stat(ctx, l.key)
	if errors.Is(err, remote.ErrNotFound) {
		return fmt.Errorf("%w: %s was removed by another process, which took it for stale", ErrLockLost, l.key)
	}
	if err != nil {
		return err
	}
	if l.marker {
		ours, _, err := l.ownsMarker(ctx)
		if err != nil {
			return err
		}
		if !ours {
			return fmt.Errorf("%w: locks/exclusive was removed or taken by another process", ErrLockLost)
		}
	}
	if err := putBytes(ctx, l.store, l.key, l.encode(false)); err != nil {
		return err
	}
	if l.marker {
		return putBytes(ctx, l.store, exclusiveKey, l.encode(true))
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

// Key is the lock's object key, locks/<id>.
func (l *Lock) Key() string { return l.key }

// Exclusive reports whether the lock is exclusive.
func (l *Lock) Exclusive() bool { return l.rec.Exclusive }

// Lost is closed when the lock is lost (see Err). It stays open after
// Unlock.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err returns nil while the lock is held, and an error wrapping ErrLockLost
// once it is lost. Work the lock protects checks it before committing.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Unlock stops the refresher and deletes the lock (locks/exclusive too,
// while it is still this lock's). A lock object already gone is fine.
// Calls after the first return nil at once. Use a context that outlives the
// work's (context.WithoutCancel): an interrupted command should still
// remove its lock. When Unlock fails, the lock becomes stale StaleAfter
// after its last refresh.
func (l *Lock) Unlock(ctx context.Context) error {
	l.mu.Lock()
	released := l.released
	l.released = true
	l.mu.Unlock()
	if released {
		return nil
	}
	l.cancel()
	<-l.done
	return l.remove(ctx)
}

// release unlocks l at the end of a command, also when ctx is done, and
// passes a failure to warn (nil: dropped): the lock then becomes stale.
func (l *Lock) release(ctx context.Context, warn func(error)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockCleanup)
	defer cancel()
	if err := l.Unlock(ctx); err != nil && warn != nil {
		warn(err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("snapshot: waiting for a lock: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
