package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wimsnap/wimsnap/remote"
)

// Listing and removing the repository's locks from outside (wimsnap
// unlock): the lock objects locks/<id> and the mutexes a lock holds besides
// its own object, each judged stale by the store's clock.

// isMutex reports whether key is one a lock may hold besides its own
// object.
func isMutex(key string) bool { return key == exclusiveKey || key == pruneKey }

// Locks lists the repository's locks, oldest first: every locks/<id>
// object and the mutexes locks/exclusive and locks/prune, each with Stale
// set when it was not written for DefaultLockStaleAfter by the store's
// clock, or when its process, of this machine, is gone (abandoned). A lock object that cannot be parsed is listed with an empty Host
// (and counts as exclusive); one that vanishes while listed is left out.
//
// The store's time is learnt by writing a probe object
// locks/probe-<16 hex digits>, which lock scans pass over, reading its
// modification time and deleting it again: Locks writes to the store.
func (r *Repo) Locks(ctx context.Context) ([]LockInfo, error) {
	return r.listLocks(ctx, DefaultLockStaleAfter)
}

// RemoveLocks removes the repository's stale locks: those not written for
// staleAfter (0: DefaultLockStaleAfter, as every process using the
// repository should use) by the store's clock, whose holders are taken for
// dead. With all it removes every lock, fresh ones too, which is for locks
// whose processes are known to be gone: a holder that is still running
// goes on as if it held its lock until its next refresh finds the lock
// removed (ErrLockLost). Mutexes (locks/exclusive, locks/prune) are
// removed like locks.
//
// It returns the locks it removed, oldest first, Stale telling which were
// stale; a lock that another process removed first is left out. On error
// the result holds those removed before it. It learns the store's time as
// Locks does.
func (r *Repo) RemoveLocks(ctx context.Context, all bool, staleAfter time.Duration) ([]LockInfo, error) {
	switch {
	case staleAfter < 0:
		return nil, fmt.Errorf("remove locks: negative stale time %v", staleAfter)
	case staleAfter == 0:
		staleAfter = DefaultLockStaleAfter
	}
	locks, err := r.listLocks(ctx, staleAfter)
	if err != nil {
		return nil, err
	}
	var removed []LockInfo
	reader := &Lock{store: r.store} // holds nothing
	for _, l := range locks {
		if !all && !l.Stale {
			continue
		}
		if !all && isMutex(l.Key) && !reader.mutexNames(ctx, l.Key, l.holder) {
			continue // replaced since it was listed, by a locker that holds it now
		}
		err := r.store.Delete(ctx, l.Key)
		switch {
		case errors.Is(err, remote.ErrNotFound):
		case err != nil:
			return removed, fmt.Errorf("removing lock %s: %w", l.Key, err)
		default:
			removed = append(removed, l)
		}
	}
	return removed, nil
}

// listLocks lists and reads the locks and mutexes, oldest first (by the
// store's time of their first write, then by key), judging staleness by
// staleAfter: a lock is stale when its last write as listed is older than
// staleAfter before the store's time, taken just before the listing.
func (r *Repo) listLocks(ctx context.Context, staleAfter time.Duration) ([]LockInfo, error) {
	now, err := storeTime(ctx, r.store)
	if err != nil {
		return nil, err
	}
	infos, err := listLockObjects(ctx, r.store)
	if err != nil {
		return nil, err
	}
	reader := &Lock{store: r.store, opts: LockOptions{StaleAfter: staleAfter}} // holds nothing
	host, _ := os.Hostname()                                                   // as locks record it; "": none abandoned
	var es []lockEntry
	for _, i := range infos {
		if !validID(strings.TrimPrefix(i.Key, lockPrefix)) && !isMutex(i.Key) {
			continue // a probe, or a key that is not ours
		}
		e, err := reader.read(ctx, i)
		if err != nil {
			return nil, err
		}
		if e != nil { // else removed meanwhile
			es = append(es, *e)
		}
	}
	slices.SortFunc(es, func(a, b lockEntry) int {
		switch {
		case a.key == b.key:
			return 0
		case a.before(&b):
			return -1
		}
		return 1
	})
	locks := make([]LockInfo, len(es))
	for i := range es {
		locks[i] = es[i].info()
		holder := es[i].key
		if isMutex(holder) {
			holder = es[i].rec.Lock
		}
		locks[i].Stale = reader.stale(es[i].mod, now) || abandoned(holder, es[i].rec, host)
	}
	return locks, nil
}

// probePrefix begins the keys of probe objects under locks/, which lock
// scans pass over (not being lock ids); init's probe has the same form.
const probePrefix = lockPrefix + "probe-"

// storeTime returns the store's "now": the modification time of a probe
// object it writes, reads back and deletes. A probe that cannot be deleted
// is an error (and is harmless where it stays).
func storeTime(ctx context.Context, s remote.Store) (time.Time, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return time.Time{}, err
	}
	key := probePrefix + hex.EncodeToString(id[:])
	if err := putBytes(ctx, s, key, []byte("wimsnap: the store's time\n")); err != nil {
		return time.Time{}, fmt.Errorf("learning the store's time: %w", err)
	}
	info, err := s.Stat(ctx, key)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockCleanup)
	defer cancel()
	if derr := s.Delete(ctx, key); !errors.Is(derr, remote.ErrNotFound) {
		err = errors.Join(err, derr)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("learning the store's time: %w", err)
	}
	return info.ModTime, nil
}
