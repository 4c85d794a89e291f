//go:build unix

package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
	"github.com/wimsnap/wimsnap/wim"
)

// lockRepo is a repository in s (with a clockStore, on its fake clock).
func lockRepo(t *testing.T, s remote.Store) *Repo {
	t.Helper()
	if _, err := InitRepo(t.Context(), s, wim.CompressNone); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), s, RepoOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// putLock writes a lock record under key, as a process would have.
func putLock(t *testing.T, s remote.Store, key string, rec lockRecord) {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := putBytes(t.Context(), s, key, b); err != nil {
		t.Fatal(err)
	}
}

func lockInfoKeys(ls []LockInfo) []string {
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.Key
	}
	return keys
}

// TestRemoveLocks: the locks of a process that is gone (an exclusive lock
// with its locks/exclusive, a shared lock, an unreadable object) are
// listed as stale by the store's clock and removed; a fresh lock is kept,
// and removed only with all, after which its holder loses it. Objects under
// locks/ that are not locks are neither listed nor removed, and the probe
// of the store's time is gone.
func TestRemoveLocks(t *testing.T) {
	for _, cond := range []bool{true, false} {
		t.Run(map[bool]string{true: "conditional", false: "list-and-wait"}[cond], func(t *testing.T) {
			s := newClockStore()
			r := lockRepo(t, s)
			dead := takeLock(t, s, cond, true, lockOpts(t, "dead"))
			abandon(dead) // killed: its objects stay
			// A prune lock of the same age, written by hand: it and the
			// exclusive lock exclude each other.
			deadPrune := lockPrefix + strings.Repeat("5e", 32)
			if cond {
				rec := lockRecord{Host: "dead", PID: 4243, Kind: kindPrune}
				putLock(t, s, deadPrune, rec)
				rec.Lock = deadPrune
				putLock(t, s, pruneKey, rec)
			}
			deadShared := lockPrefix + strings.Repeat("0f", 32)
			putLock(t, s, deadShared, lockRecord{Host: "dead", PID: 4242, User: "root"})
			garbage := lockPrefix + strings.Repeat("ab", 32)
			if err := putBytes(t.Context(), s, garbage, []byte("not json")); err != nil {
				t.Fatal(err)
			}
			other := lockPrefix + "README"
			if err := putBytes(t.Context(), s, other, []byte("not a lock")); err != nil {
				t.Fatal(err)
			}
			s.advance(31 * time.Minute)
			// Taken with conditional writes, as list-and-wait would
			// remove the stale locks itself.
			alive := takeLock(t, s, true, false, lockOpts(t, "alive"))

			locks, err := r.Locks(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			stale := []string{dead.Key(), deadShared, garbage}
			if cond {
				stale = append(stale, exclusiveKey, deadPrune, pruneKey)
			}
			var gotStale, gotFresh []string
			for _, l := range locks {
				if l.Stale {
					gotStale = append(gotStale, l.Key)
				} else {
					gotFresh = append(gotFresh, l.Key)
				}
			}
			if !slices.Equal(slices.Sorted(slices.Values(gotStale)), slices.Sorted(slices.Values(stale))) ||
				!slices.Equal(gotFresh, []string{alive.Key()}) {
				t.Fatalf("Locks: stale %v, fresh %v; want stale %v, fresh %s", gotStale, gotFresh, stale, alive.Key())
			}
			if last := locks[len(locks)-1]; last.Key != alive.Key() || last.Host != "alive" || last.PID != os.Getpid() || last.Kind != "shared" {
				t.Errorf("newest lock %+v, want alive's shared lock last", last)
			}
			for _, l := range locks {
				switch l.Key {
				case deadShared:
					if l.Host != "dead" || l.PID != 4242 || l.User != "root" || l.Kind != "shared" || l.Since.IsZero() {
						t.Errorf("dead shared lock listed as %+v", l)
					}
				case garbage:
					if l.Host != "" || !l.Exclusive {
						t.Errorf("unreadable lock listed as %+v, want no host, exclusive", l)
					}
				case dead.Key(), exclusiveKey:
					if l.Host != "dead" || l.Kind != "exclusive" {
						t.Errorf("dead exclusive lock listed as %+v", l)
					}
				case deadPrune, pruneKey:
					if l.Host != "dead" || l.PID != 4243 || l.Kind != "prune" {
						t.Errorf("dead prune lock's %s listed as %+v", pruneKey, l)
					}
				}
			}

			removed, err := r.RemoveLocks(t.Context(), false, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := lockInfoKeys(removed); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(stale))) {
				t.Errorf("removed %v, want the stale %v", got, stale)
			}
			if got, want := lockKeys(t, s), []string{alive.Key(), other}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Fatalf("left %v, want %v", got, want)
			}
			if err := alive.Err(); err != nil {
				t.Fatalf("the fresh lock was lost: %v", err)
			}

			removed, err = r.RemoveLocks(t.Context(), true, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(removed) != 1 || removed[0].Key != alive.Key() || removed[0].Stale {
				t.Fatalf("remove all: removed %+v, want alive's fresh lock", removed)
			}
			if got := lockKeys(t, s); !slices.Equal(got, []string{other}) {
				t.Fatalf("left %v, want only %s", got, other)
			}
			if err := alive.refresh(t.Context()); !errors.Is(err, ErrLockLost) {
				t.Errorf("refreshing a removed lock: %v, want ErrLockLost", err)
			}
			if again, err := r.RemoveLocks(t.Context(), true, 0); err != nil || len(again) != 0 {
				t.Errorf("removing from no locks: %v, %v", again, err)
			}
		})
	}
}

// TestRemoveLocksStaleAfter: staleness follows the given time, by the
// store's clock only.
func TestRemoveLocksStaleAfter(t *testing.T) {
	s := newClockStore()
	r := lockRepo(t, s)
	key := lockPrefix + strings.Repeat("12", 32)
	putLock(t, s, key, lockRecord{Host: "h", PID: 1, Time: time.Now().Add(-24 * time.Hour)}) // the writer's clock: ignored
	s.advance(4 * time.Minute)
	if removed, err := r.RemoveLocks(t.Context(), false, 5*time.Minute); err != nil || len(removed) != 0 {
		t.Fatalf("a lock 4 minutes old, stale after 5: removed %v, %v", removed, err)
	}
	s.advance(2 * time.Minute)
	removed, err := r.RemoveLocks(t.Context(), false, 5*time.Minute)
	if err != nil || len(removed) != 1 || removed[0].Key != key || !removed[0].Stale {
		t.Fatalf("a lock 6 minutes old, stale after 5: removed %v, %v", removed, err)
	}
	if _, err := r.RemoveLocks(t.Context(), false, -time.Second); err == nil {
		t.Error("a negative stale time is accepted")
	}
}

// TestLocksStoreFailures: when the probe of the store's time cannot be
// written or removed, or a removal fails, the error says so.
func TestLocksStoreFailures(t *testing.T) {
	f := remotetest.NewFaulty(remote.NewMemory())
	r := lockRepo(t, f)
	injected := errors.New("injected")

	f.FailNext("put", 1, injected)
	if _, err := r.Locks(t.Context()); !errors.Is(err, injected) || !strings.Contains(err.Error(), "store's time") {
		t.Errorf("probe write failing: %v", err)
	}
	f.FailNext("delete", 1, injected)
	if _, err := r.Locks(t.Context()); !errors.Is(err, injected) {
		t.Errorf("probe removal failing: %v", err)
	}
	if locks, err := r.Locks(t.Context()); err != nil || len(locks) != 0 {
		t.Errorf("with a probe left behind: locks %+v, %v; want none", locks, err)
	}
	key := lockPrefix + strings.Repeat("34", 32)
	putLock(t, f, key, lockRecord{Host: "h", PID: 1})
	fd := &failDelete{Store: f, key: key, err: injected}
	removed, err := (&Repo{store: fd}).RemoveLocks(t.Context(), true, 0)
	if !errors.Is(err, injected) || !strings.Contains(err.Error(), key) || len(removed) != 0 {
		t.Errorf("lock removal failing: removed %v, %v", removed, err)
	}
	if got := lockKeys(t, f); !slices.Contains(got, key) {
		t.Errorf("locks %v: the lock whose removal failed is gone", got)
	}
}

// failDelete fails deletions of key with err.
type failDelete struct {
	remote.Store
	key string
	err error
}

func (f *failDelete) Delete(ctx context.Context, key string) error {
	if key == f.key {
		return f.err
	}
	return f.Store.Delete(ctx, key)
}
