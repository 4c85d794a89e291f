package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/remote"
)

// Repository locks (docs/repository.md, "locks/").
//
// A lock is the object locks/<64 hex digits, random> holding a lockRecord.
// Shared locks coexist with each other and with a prune lock; a prune lock
// excludes other prune locks; an exclusive lock excludes every other lock.
// (Prune lets snapshots run: see repo_prune.go for how.) Whether
// a lock is stale is decided by the store's clock only: a process takes the
// ModTime of its own freshly written lock as "store now", and a lock whose
// ModTime is older than store now minus StaleAfter is stale and may be
// removed by anyone. A holder rewrites its lock every RefreshEvery and
// gives it up as lost when it could not for StaleAfter/2.

// Lock errors.
var (
	// ErrLocked means that another process holds a lock that conflicts
	// with the one asked for. The error is a *LockedError naming the holder.
	ErrLocked = errors.New("snapshot: repository is locked")
	// ErrReadOnly is wrapped by the failure to take a lock in a
	// repository this process may not write, or whose disk is full: a
	// command that only reads can do without (LockOptions.None). Every
	// kind of lock says so; only the shared one did, and a snapshot, forget
	// or prune gave the store's bare error.
	ErrReadOnly = errors.New("snapshot: the repository cannot be written here, not even a lock")
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
	pruneKey     = lockPrefix + "prune"     // the prune lock's mutex, with conditional writes
	kindPrune    = "prune"                  // lockRecord.Kind of a prune lock
	maxLockLen   = 64 << 10                 // a lock object read back
	lockPoll     = 5 * time.Second          // between attempts while waiting (LockOptions.Wait)
	lockCleanup  = time.Minute              // bounds removing a lock at the end of a command
)

// interruptedCleanup bounds removing a lock after the command's context
// is done (a variable for tests).
var interruptedCleanup = 10 * time.Second

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
	// Waiting, if set, is told once, when taking the lock starts to wait
	// (Wait), the error it would fail with: who holds the lock.
	Waiting func(held error)
	// Now is the clock of the lock record's informational time; nil means
	// time.Now. Staleness never uses it.
	Now func() time.Time
	// Host names this machine in the lock record; empty means os.Hostname.
	Host string
	// Warn receives problems that do not end the lock: a refresh that
	// failed and will be retried, a lock that could not be removed. nil
	// discards them.
	Warn func(error)
	// None takes no lock, for the commands that only read (restore,
	// export, check): a repository on read-only media, or with read-only
	// credentials, cannot take one. A prune running meanwhile may then
	// delete what they read, which they report as missing.
	None bool
	// Sleep waits for d or until ctx is done, then returning an error
	// wrapping ctx.Err(); it times Settle and the polls under Wait. nil
	// means a timer. The refresher always uses timers and the monotonic
	// clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *LockOptions) applyDefaults() error {
	if o.StaleAfter < 0 || o.RefreshEvery < 0 || o.Settle < 0 || o.Wait < 0 {
		return errors.New("lock options: negative duration")
	}
	if o.StaleAfter == 0 {
		o.StaleAfter = DefaultLockStaleAfter
	}
	if o.RefreshEvery == 0 {
		o.RefreshEvery = o.StaleAfter / 6
	}
	if o.RefreshEvery <= 0 || o.RefreshEvery >= o.StaleAfter/2 {
		return fmt.Errorf("lock options: refreshing every %v does not keep a lock that is stale after %v", o.RefreshEvery, o.StaleAfter)
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
			return fmt.Errorf("lock: host name: %w", err)
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
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	User      string `json:"user,omitempty"`
	Exclusive bool   `json:"exclusive"`
	// Kind is "prune" for a prune lock, empty for a shared or exclusive one.
	Kind string    `json:"kind,omitempty"`
	Time time.Time `json:"time"` // the writer's clock at the last write; informational
	// Acquired is the store's ModTime of the lock's first write, recorded
	// from its second write on, so that a refresh does not make a lock
	// younger in the list-and-wait order.
	Acquired time.Time `json:"acquired,omitzero"`
	// Lock, in locks/exclusive and locks/prune only, is the key of its
	// holder's own lock.
	Lock string `json:"lock,omitempty"`
	// Mark names the holder's machine boot and PID namespace, for telling
	// a lock whose process is gone (abandoned).
	Mark string `json:"mark,omitempty"`
}

// LockInfo describes a lock object found in the repository.
type LockInfo struct {
	Key       string    // its object key
	Host      string    // empty when the object could not be read
	PID       int       // the holder's process id on Host
	User      string    // the holder's user name, if it recorded one
	Exclusive bool      // an exclusive lock
	Kind      string    // "shared" (snapshot, restore, check...), "prune" or "exclusive"
	Since     time.Time // the store's time of its first write
	ModTime   time.Time // the store's time of its last write (refresh)
	// Stale: not written for StaleAfter by the store's clock, or abandoned
	// by a process of this machine that is gone (set by Repo.Locks and
	// RemoveLocks).
	Stale bool

	holder string // for a mutex, the key of the lock it names
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
	switch {
	case h.Exclusive:
		how = "locked exclusively"
	case h.Kind == kindPrune:
		how = "being pruned"
	}
	if h.Host != "" {
		who = fmt.Sprintf("host %s (pid %d", h.Host, h.PID)
		if h.User != "" {
			who += ", user " + h.User
		}
		who += ")"
	}
	return fmt.Sprintf("repository is %s by %s since %s; if that process is gone, the lock becomes stale %s after its last refresh"+
		" (a command started at the same moment may have backed off too: run this one again)",
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
	marker string     // the mutex it also holds (locks/exclusive or locks/prune), or ""

	lastWrite time.Time     // the monotonic start of the last write of key
	waited    time.Duration // spent pausing for other locks while acquiring

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

// withShared runs fn holding a shared lock, as every command that reads
// the repository's data or adds to it does: a prune waits for the shared
// locks older than its new index before it deletes what they may read.
// With opts.None it runs fn(nil), holding none.
func (r *Repo) withShared(ctx context.Context, opts LockOptions, fn func(*Lock) error) error {
	if opts.None {
		return fn(nil)
	}
	lock, err := r.LockShared(ctx, opts)
	if err != nil {
		return err
	}
	defer lock.release(ctx, opts.Warn)
	return fn(lock)
}

// LockExclusive takes an exclusive lock on the repository: any other lock
// that is not stale makes it fail with a *LockedError (after waiting up to
// opts.Wait for them to go). Stale locks are removed.
func (r *Repo) LockExclusive(ctx context.Context, opts LockOptions) (*Lock, error) {
	return acquireLock(ctx, r.store, r.cfg.ConditionalWrites, true, opts)
}

// LockPrune takes a prune lock on the repository: shared locks coexist
// with it; another prune lock or an exclusive lock that is not stale makes
// it fail with a *LockedError (after waiting up to opts.Wait).
func (r *Repo) LockPrune(ctx context.Context, opts LockOptions) (*Lock, error) {
	return acquireKind(ctx, r.store, r.cfg.ConditionalWrites, lockRecord{Kind: kindPrune}, opts)
}

// acquireLock takes a lock in store. conditional says whether the store
// refuses a second create-if-absent write (RepoConfig.ConditionalWrites).
// On failure it leaves nothing behind that it wrote.
func acquireLock(ctx context.Context, store remote.Store, conditional, exclusive bool, opts LockOptions) (*Lock, error) {
	return acquireKind(ctx, store, conditional, lockRecord{Exclusive: exclusive}, opts)
}

// readOnly reports whether err, a failure to take a lock, says that the
// repository cannot be written here.
func readOnly(err error) bool {
	return errors.Is(err, os.ErrPermission) || unwritable(err) || errors.Is(err, remote.ErrDenied)
}

// acquireKind takes a lock of the kind kind.Exclusive and kind.Kind say.
func acquireKind(ctx context.Context, store remote.Store, conditional bool, kind lockRecord, opts LockOptions) (*Lock, error) {
	l, _, err := acquireWaited(ctx, store, conditional, kind, opts)
	return l, err
}

// acquireWaited is acquireKind that also returns how long it paused for
// other locks (Lock.Waited), on failure too: a lock given up after
// waiting, for its context or for Wait, still waited.
func acquireWaited(ctx context.Context, store remote.Store, conditional bool, kind lockRecord, opts LockOptions) (*Lock, time.Duration, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, 0, err
	}
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, 0, err
	}
	l := &Lock{store: lockStore{store}, opts: opts, key: lockPrefix + hex.EncodeToString(id[:]),
		rec: lockRecord{Host: opts.Host, PID: os.Getpid(), User: userName(), Exclusive: kind.Exclusive,
			Kind: kind.Kind, Mark: processMark()},
		done: make(chan struct{}), lost: make(chan struct{})}
	heldLocks.Store(l.key, true) // until remove: see abandoned
	var err error
	switch {
	case !conditional:
		err = l.acquireListing(ctx)
	case kind.Exclusive:
		err = l.acquireExclusive(ctx)
	case kind.Kind == kindPrune:
		err = l.acquirePrune(ctx)
	default:
		err = l.acquireShared(ctx)
	}
	if errors.Is(err, remote.ErrForeign) {
		return nil, l.waited, fmt.Errorf("%w: %w", ErrReadOnly, err) // the store wrote nothing: nothing to remove
	}
	if err != nil && readOnly(err) {
		err = fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockCleanup)
		defer cancel()
		if rerr := l.remove(cctx); rerr != nil {
			opts.Warn(rerr)
		}
		return nil, l.waited, err
	}
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go l.refresher()
	return l, l.waited, nil
}

func userName() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
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

// Confirm reports, as Err does, whether the lock is lost, having first
// checked that its object is still there: work that commits calls it just
// before, so that a lock removed by another process (unlock --remove-all,
// after which a prune waits for nobody) is noticed then, not at the next
// refresh minutes later. It costs one request.
func (l *Lock) Confirm(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	_, err := l.store.Stat(ctx, l.key)
	if errors.Is(err, remote.ErrNotFound) {
		err = fmt.Errorf("%w: %s was removed by another process", ErrLockLost, l.key)
		l.setLost(err)
	}
	return err
}

// Unlock stops the refresher and deletes the lock (locks/exclusive too,
// while it is still this lock's). A lock object already gone is fine.
// Calls after the first return nil at once. Use a context that outlives the
// work's (context.WithoutCancel): an interrupted command should still
// remove its lock. When Unlock fails, the lock becomes stale StaleAfter
// after its last refresh, and at once abandoned for the locks this process
// or another of its machine takes later (repo_lock_owner.go).
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
// A command interrupted (ctx done) waits for that at most
// interruptedCleanup: its user wants it to end, and a server that stopped
// answering would otherwise hold it a minute more.
func (l *Lock) release(ctx context.Context, warn func(error)) {
	limit := lockCleanup
	if ctx.Err() != nil {
		limit = interruptedCleanup
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
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
		return fmt.Errorf("waiting for a lock: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// lockStore is the store as a Lock writes to it: its writes and deletions
// are remote.Ephemeral. A lock needs no durable name: it dies with its
// holder, and one that a crash brings back (its deletion lost) is stale
// and passed over, as a killed holder's is. Its bytes are still synced: an
// empty lock file left by a crash would read as an exclusive lock until
// stale. On a local directory this spares two of a locked command's three
// lock fsyncs (the directory's after creating and after deleting the lock).
type lockStore struct{ remote.Store }

func (s lockStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.Store.Put(remote.Ephemeral(ctx), key, r, size)
}

func (s lockStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return s.Store.PutIfAbsent(remote.Ephemeral(ctx), key, data)
}

func (s lockStore) Delete(ctx context.Context, key string) error {
	return s.Store.Delete(remote.Ephemeral(ctx), key)
}
