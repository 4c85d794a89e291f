//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// clockStore is an in-memory store whose ModTimes come from a fake clock
// that ticks a second with every write.
type clockStore struct {
	remote.Store
	mu   sync.Mutex
	now  time.Time
	mods map[string]time.Time
}

func newClockStore() *clockStore {
	return &clockStore{Store: remote.NewMemory(), now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC),
		mods: map[string]time.Time{}}
}

func (c *clockStore) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clockStore) stamp(key string, err error) error {
	if err == nil {
		c.mu.Lock()
		c.now = c.now.Add(time.Second)
		c.mods[key] = c.now
		c.mu.Unlock()
	}
	return err
}

func (c *clockStore) mod(key string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mods[key]
}

func (c *clockStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return c.stamp(key, c.Store.Put(ctx, key, r, size))
}

func (c *clockStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return c.stamp(key, c.Store.PutIfAbsent(ctx, key, data))
}

func (c *clockStore) Stat(ctx context.Context, key string) (remote.Info, error) {
	i, err := c.Store.Stat(ctx, key)
	i.ModTime = c.mod(key)
	return i, err
}

func (c *clockStore) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	return c.Store.List(ctx, prefix, func(i remote.Info) error {
		i.ModTime = c.mod(i.Key)
		return fn(i)
	})
}

// coarseStore truncates ModTimes to a millisecond, as S3 lists them to one.
type coarseStore struct{ remote.Store }

func (c coarseStore) Stat(ctx context.Context, key string) (remote.Info, error) {
	i, err := c.Store.Stat(ctx, key)
	i.ModTime = i.ModTime.Truncate(time.Millisecond)
	return i, err
}

func (c coarseStore) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	return c.Store.List(ctx, prefix, func(i remote.Info) error {
		i.ModTime = i.ModTime.Truncate(time.Millisecond)
		return fn(i)
	})
}

// failStore fails Puts of keys under failPrefix once armed, and makes the
// first Put under slowPrefix wait slow.
type failStore struct {
	remote.Store
	armed      atomic.Bool
	failPrefix string
	slowPrefix string
	slow       time.Duration
	slowOnce   sync.Once
}

func (f *failStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.armed.Load() && strings.HasPrefix(key, f.failPrefix) {
		return fmt.Errorf("put %s: injected: %w", key, remote.ErrUnavailable)
	}
	if f.slowPrefix != "" && strings.HasPrefix(key, f.slowPrefix) {
		f.slowOnce.Do(func() { time.Sleep(f.slow) })
	}
	return f.Store.Put(ctx, key, r, size)
}

// lockStores makes the stores the lock tests run against.
var lockStores = []struct {
	name string
	make func(t *testing.T) remote.Store
}{
	{"memory", func(*testing.T) remote.Store { return remote.NewMemory() }},
	{"local", func(t *testing.T) remote.Store {
		t.Helper()
		s, err := remote.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// lockMode is a store and a way of taking locks (conditional writes or
// list-and-wait).
type lockMode struct {
	name  string
	store func(t *testing.T) remote.Store
	cond  bool
}

// lockModes are every store with both ways of taking locks.
func lockModes() []lockMode {
	var ms []lockMode
	for _, st := range lockStores {
		for _, cond := range []bool{true, false} {
			ms = append(ms, lockMode{fmt.Sprintf("%s/conditional=%v", st.name, cond), st.make, cond})
		}
	}
	return ms
}

// sleeper is a LockOptions.Sleep that sleeps short waits (Settle) for real,
// to let a file system's coarse timestamps move on, and only records the
// long ones (polls under Wait), calling hook for each.
type sleeper struct {
	mu    sync.Mutex
	polls []time.Duration
	hook  func()
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	if d < 100*time.Millisecond {
		return sleepCtx(ctx, d)
	}
	s.mu.Lock()
	s.polls = append(s.polls, d)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ctx.Err()
}

func (s *sleeper) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Duration
	for _, d := range s.polls {
		t += d
	}
	return t
}

// lockOpts are the options of the tests: a named host, a settle time above
// a local file system's timestamp granularity, warnings as test errors.
func lockOpts(t *testing.T, host string) LockOptions {
	t.Helper()
	return LockOptions{Host: host, Settle: 20 * time.Millisecond, Sleep: (&sleeper{}).sleep,
		Warn: func(err error) { t.Errorf("lock warning: %v", err) }}
}

// takeLock takes a lock that the test's cleanup releases.
func takeLock(t *testing.T, s remote.Store, cond, exclusive bool, opts LockOptions) *Lock {
	t.Helper()
	l, err := acquireLock(t.Context(), s, cond, exclusive, opts)
	if err != nil {
		t.Fatalf("taking a lock (exclusive %v): %v", exclusive, err)
	}
	t.Cleanup(func() {
		if err := l.Unlock(context.Background()); err != nil {
			t.Errorf("unlock: %v", err)
		}
	})
	return l
}

// abandon stops l's refresher and leaves its objects, as SIGKILL would.
func abandon(l *Lock) {
	l.mu.Lock()
	l.released = true
	l.mu.Unlock()
	l.cancel()
	<-l.done
}

func lockKeys(t *testing.T, s remote.Store) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), lockPrefix, func(i remote.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// wantKeys checks the lock objects in s: the locks' own and, for those
// holding it, locks/exclusive.
func wantKeys(t *testing.T, s remote.Store, locks ...*Lock) {
	t.Helper()
	var want []string
	for _, l := range locks {
		want = append(want, l.key)
		if l.marker != "" {
			want = append(want, l.marker)
		}
	}
	slices.Sort(want)
	if got := lockKeys(t, s); !slices.Equal(got, want) {
		t.Fatalf("lock objects %v, want %v", got, want)
	}
}

// wantLocked checks that err is a *LockedError naming a lock of host, and
// returns that lock.
func wantLocked(t *testing.T, err error, host string, exclusive bool) LockInfo {
	t.Helper()
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LockedError", err)
	}
	h := le.Holder
	if h.Host != host || h.PID != os.Getpid() || h.Exclusive != exclusive || h.Since.IsZero() {
		t.Fatalf("holder %+v, want host %s, pid %d, exclusive %v", h, host, os.Getpid(), exclusive)
	}
	how := "locked by"
	if exclusive {
		how = "locked exclusively by"
	}
	if want := fmt.Sprintf("%s host %s (pid %d", how, host, os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	return h
}

func TestLockSharedCoexist(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			a, err := acquireLock(t.Context(), s, cond, false, lockOpts(t, "host-a"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := acquireLock(t.Context(), s, cond, false, lockOpts(t, "host-b"))
			if err != nil {
				t.Fatal(err)
			}
			wantKeys(t, s, a, b)
			for _, l := range []*Lock{a, b} {
				if err := l.Unlock(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			wantKeys(t, s)
		})
	}
}

func TestLockExclusiveAfterShared(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			sh := takeLock(t, s, cond, false, lockOpts(t, "host-a"))
			_, err := acquireLock(t.Context(), s, cond, true, lockOpts(t, "host-b"))
			if h := wantLocked(t, err, "host-a", false); h.Key != sh.Key() {
				t.Errorf("holder key %s, want %s", h.Key, sh.Key())
			}
			wantKeys(t, s, sh) // the loser left nothing
			if err := sh.Unlock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ex := takeLock(t, s, cond, true, lockOpts(t, "host-b"))
			wantKeys(t, s, ex)
		})
	}
}

func TestLockSharedAfterExclusive(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			ex := takeLock(t, s, cond, true, lockOpts(t, "host-a"))
			for _, exclusive := range []bool{false, true} {
				_, err := acquireLock(t.Context(), s, cond, exclusive, lockOpts(t, "host-b"))
				wantLocked(t, err, "host-a", true)
				if !strings.Contains(err.Error(), "becomes stale 30 minutes after its last refresh") {
					t.Errorf("message %q does not say when the lock becomes stale", err)
				}
				wantKeys(t, s, ex)
			}
		})
	}
}

// TestLockWait: with Wait, a lock waits for conflicting ones to go, and
// fails with ErrLocked when they stay longer; Waiting says so when it
// starts to wait (snapshot --lock-wait was silent).
func TestLockWait(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			for _, exclusive := range []bool{true, false} {
				first, err := acquireLock(t.Context(), s, cond, !exclusive, lockOpts(t, "host-a"))
				if err != nil {
					t.Fatal(err)
				}
				sl := &sleeper{}
				sl.hook = func() {
					if err := first.Unlock(t.Context()); err != nil {
						t.Error(err)
					}
				}
				opts := lockOpts(t, "host-b")
				opts.Wait, opts.Sleep = time.Minute, sl.sleep
				l, err := acquireLock(t.Context(), s, cond, exclusive, opts)
				if err != nil {
					t.Fatalf("exclusive %v after the other unlocked: %v", exclusive, err)
				}
				if got := sl.total(); got == 0 || got > opts.Wait || l.Waited() != got {
					t.Errorf("waited %v (the lock says %v), want some and at most %v", got, l.Waited(), opts.Wait)
				}
				wantKeys(t, s, l)
				if err := l.Unlock(t.Context()); err != nil {
					t.Fatal(err)
				}
			}

			// The holder stays: the wait ends after Wait with ErrLocked.
			// Waiting is told who holds it, once, when the wait starts.
			sh := takeLock(t, s, cond, false, lockOpts(t, "host-a"))
			sl := &sleeper{}
			opts := lockOpts(t, "host-b")
			var told []error
			opts.Wait, opts.Sleep, opts.Waiting = 12*time.Second, sl.sleep, func(held error) { told = append(told, held) }
			_, err := acquireLock(t.Context(), s, cond, true, opts)
			wantLocked(t, err, "host-a", false)
			if len(told) != 1 || !strings.Contains(told[0].Error(), "host-a") {
				t.Errorf("Waiting told %v, want once, naming host-a", told)
			}
			if got := sl.total(); got != opts.Wait {
				t.Errorf("waited %v (%v), want %v", got, sl.polls, opts.Wait)
			}
			wantKeys(t, s, sh)
		})
	}
}

// TestLockWaitGivenUp: a lock given up after waiting, for Wait or because
// its context ended during a poll, reports the time it waited, which a
// snapshot's TakeResult carries.
func TestLockWaitGivenUp(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			takeLock(t, s, cond, true, lockOpts(t, "host-a"))
			opts := lockOpts(t, "host-b")
			opts.Wait = 12 * time.Second
			_, waited, err := acquireWaited(t.Context(), s, cond, lockRecord{}, opts)
			wantLocked(t, err, "host-a", true)
			if waited != opts.Wait {
				t.Errorf("given up for Wait: waited %v, want %v", waited, opts.Wait)
			}

			// The context ends in the third poll, after 50 ms of it.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			polls := 0
			opts.Wait = time.Hour
			opts.Sleep = func(ctx context.Context, d time.Duration) error {
				if d < lockPoll {
					return nil // Settle
				}
				if polls++; polls < 3 {
					return nil
				}
				time.Sleep(50 * time.Millisecond)
				cancel()
				return ctx.Err()
			}
			_, waited, err = acquireWaited(ctx, s, cond, lockRecord{}, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped: %v, want context.Canceled", err)
			}
			if low := 2*lockPoll + 50*time.Millisecond; waited < low || waited > 3*lockPoll {
				t.Errorf("stopped: waited %v, want between %v and %v", waited, low, 3*lockPoll)
			}
		})
	}
}

// TestLockStale: locks that were not refreshed for StaleAfter by the
// store's clock do not block and are removed by the next exclusive locker.
func TestLockStale(t *testing.T) {
	for _, cond := range []bool{true, false} {
		t.Run(fmt.Sprintf("conditional=%v", cond), func(t *testing.T) {
			s := newClockStore()
			dead := takeLock(t, s, cond, true, lockOpts(t, "dead"))
			abandon(dead)
			// A shared lock of the same age, as a snapshot killed with it
			// would leave.
			deadShared := &Lock{key: lockPrefix + strings.Repeat("0f", 32)}
			rec, _ := json.Marshal(lockRecord{Host: "dead", PID: os.Getpid(), Time: time.Now()})
			if err := putBytes(t.Context(), s, deadShared.key, rec); err != nil {
				t.Fatal(err)
			}
			s.advance(29 * time.Minute) // fresh still
			_, err := acquireLock(t.Context(), s, cond, false, lockOpts(t, "host-b"))
			wantLocked(t, err, "dead", true)
			wantKeys(t, s, dead, deadShared)

			s.advance(2 * time.Minute)
			sh := takeLock(t, s, cond, false, lockOpts(t, "host-b"))
			if err := sh.Unlock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ex := takeLock(t, s, cond, true, lockOpts(t, "host-c"))
			wantKeys(t, s, ex) // the stale locks are gone
			if cond {
				if ours, _, err := ex.ownsMarker(t.Context()); err != nil || !ours {
					t.Fatalf("locks/exclusive is not the new lock's: %v, %v", ours, err)
				}
			}
		})
	}
}

// TestLockIgnoresOtherKeys: objects under locks/ that are not locks
// (init's probe) neither block nor are removed.
func TestLockIgnoresOtherKeys(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			other := []string{lockPrefix + "probe-0123456789abcdef", lockPrefix + "README"}
			for _, k := range other {
				if err := putBytes(t.Context(), s, k, []byte("{}")); err != nil {
					t.Fatal(err)
				}
			}
			l := takeLock(t, s, cond, true, lockOpts(t, "host-a"))
			if err := l.Unlock(t.Context()); err != nil {
				t.Fatal(err)
			}
			slices.Sort(other)
			if got := lockKeys(t, s); !slices.Equal(got, other) {
				t.Fatalf("lock objects %v, want %v", got, other)
			}
		})
	}
}

// TestLockUnreadable: a locks/<id> that does not parse counts as an
// exclusive lock until it is stale.
func TestLockUnreadable(t *testing.T) {
	for _, junk := range [][]byte{[]byte("not json"), bytes.Repeat([]byte("x"), maxLockLen+1)} {
		lockUnreadable(t, junk) // an oversized one failed every command with exit 1
	}
}

func lockUnreadable(t *testing.T, junk []byte) {
	t.Helper()
	s := newClockStore()
	key := lockPrefix + strings.Repeat("ab", 32)
	if err := putBytes(t.Context(), s, key, junk); err != nil {
		t.Fatal(err)
	}
	_, err := acquireLock(t.Context(), s, false, false, lockOpts(t, "host-a"))
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.Key != key || le.Holder.Host != "" ||
		!strings.Contains(err.Error(), "a lock object "+key+" that cannot be read") {
		t.Fatalf("err = %v, want a *LockedError naming %s", err, key)
	}
	// With conditional writes an exclusive locker waits for it too, as
	// for a shared lock (a repair ran beside it).
	_, err = acquireLock(t.Context(), s, true, true, lockOpts(t, "host-a"))
	if !errors.As(err, &le) || le.Holder.Key != key {
		t.Fatalf("conditional exclusive: err = %v, want a *LockedError naming %s", err, key)
	}
	s.advance(31 * time.Minute)
	l := takeLock(t, s, false, true, lockOpts(t, "host-a"))
	wantKeys(t, s, l)
}

// TestLockRace: of concurrent lockers, exactly one exclusive one wins, and
// an exclusive winner excludes every shared one. Run it with -race.
//
// List-and-wait needs a store that stamps a write's ModTime less than
// Settle before the write shows in listings: the in-memory store stamps it
// when it shows, the coarse one up to a millisecond earlier (as S3 lists
// whole milliseconds). The local store stamps the temporary file before it
// syncs and renames it, which a loaded test machine may stretch past any
// short Settle; it always has conditional writes, so it races only with
// them.
func TestLockRace(t *testing.T) {
	modes := []lockMode{
		{"memory/conditional=true", lockStores[0].make, true},
		{"memory/conditional=false", lockStores[0].make, false},
		{"coarse/conditional=true", func(*testing.T) remote.Store { return coarseStore{remote.NewMemory()} }, true},
		{"coarse/conditional=false", func(*testing.T) remote.Store { return coarseStore{remote.NewMemory()} }, false},
		{"local/conditional=true", lockStores[1].make, true},
	}
	rounds := 50
	if testing.Short() {
		rounds = 10
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := m.store(t)
			for range rounds {
				raceRound(t, s, m.cond, []bool{true, true})
				raceRound(t, s, m.cond, []bool{true, true, true, false, false})
			}
		})
	}
}

// raceRound lets lockers of the given kinds (true: exclusive) race.
func raceRound(t *testing.T, s remote.Store, cond bool, kinds []bool) {
	t.Helper()
	locks := make([]*Lock, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, exclusive := range kinds {
		wg.Go(func() {
			locks[i], errs[i] = acquireLock(t.Context(), s, cond, exclusive, lockOpts(t, fmt.Sprintf("host-%d", i)))
		})
	}
	wg.Wait()
	var exclusive, shared int
	for i, err := range errs {
		switch {
		case err == nil && kinds[i]:
			exclusive++
		case err == nil:
			shared++
		case !errors.Is(err, ErrLocked):
			t.Fatalf("locker %d: %v", i, err)
		}
	}
	if exclusive > 1 || exclusive == 1 && shared > 0 {
		t.Fatalf("%d exclusive and %d shared lockers of %v won", exclusive, shared, kinds)
	}
	if shared == 0 && exclusive == 0 && slices.Equal(kinds, []bool{true, true}) {
		t.Fatalf("no exclusive locker of two won")
	}
	for _, l := range locks {
		if l != nil {
			if err := l.Unlock(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantKeys(t, s)
}

// TestLockRefresh: a held lock is rewritten every RefreshEvery (its ModTime
// and time advance, its acquired time stays), locks/exclusive with it.
func TestLockRefresh(t *testing.T) {
	for _, cond := range []bool{true, false} {
		t.Run(fmt.Sprintf("conditional=%v", cond), func(t *testing.T) {
			s := remote.NewMemory()
			opts := lockOpts(t, "host-a")
			opts.StaleAfter, opts.RefreshEvery = 2*time.Second, 10*time.Millisecond
			l := takeLock(t, s, cond, true, opts)
			keys := []string{l.key}
			if cond {
				keys = append(keys, exclusiveKey)
			}
			first := map[string]remote.Info{}
			for _, k := range keys {
				first[k] = stat(t, s, k)
			}
			deadline := time.Now().Add(10 * time.Second)
			for _, k := range keys {
				for !stat(t, s, k).ModTime.After(first[k].ModTime) {
					if time.Now().After(deadline) {
						t.Fatalf("%s was not refreshed", k)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			rec := readRecord(t, s, l.key)
			if !rec.Acquired.Equal(l.rec.Acquired) || !rec.Exclusive || rec.Host != "host-a" {
				t.Errorf("refreshed record %+v, acquired %v", rec, l.rec.Acquired)
			}
			if err := l.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func stat(t *testing.T, s remote.Store, key string) remote.Info {
	t.Helper()
	i, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func readRecord(t *testing.T, s remote.Store, key string) lockRecord {
	t.Helper()
	b, err := remote.ReadAll(t.Context(), s, key, maxLockLen)
	if err != nil {
		t.Fatal(err)
	}
	var r lockRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func waitLost(t *testing.T, l *Lock) {
	t.Helper()
	select {
	case <-l.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lock was not lost")
	}
	if err := l.Err(); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Err() = %v, want ErrLockLost", err)
	}
}

// TestLockLost: a lock that another process removed, or that could not be
// refreshed for StaleAfter/2, is lost and never written again.
func TestLockLost(t *testing.T) {
	t.Run("removed", func(t *testing.T) {
		s := remote.NewMemory()
		opts := lockOpts(t, "host-a")
		opts.StaleAfter, opts.RefreshEvery = 2*time.Second, 5*time.Millisecond
		l := takeLock(t, s, true, true, opts)
		if err := s.Delete(t.Context(), l.key); err != nil {
			t.Fatal(err)
		}
		waitLost(t, l)
		time.Sleep(20 * time.Millisecond)
		wantKeys(t, s, &Lock{key: exclusiveKey}) // the own lock is not written again
		if err := l.Unlock(t.Context()); err != nil {
			t.Fatal(err)
		}
		wantKeys(t, s)
	})
	t.Run("refresh fails", func(t *testing.T) {
		s := &failStore{Store: remote.NewMemory(), failPrefix: lockPrefix}
		var warned atomic.Int64
		opts := lockOpts(t, "host-a")
		opts.StaleAfter, opts.RefreshEvery = 400*time.Millisecond, 5*time.Millisecond
		opts.Warn = func(err error) {
			if !errors.Is(err, remote.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("warning %v", err)
			}
			warned.Add(1)
		}
		l := takeLock(t, s, true, false, opts)
		start := time.Now()
		s.armed.Store(true)
		waitLost(t, l)
		if err := l.Err(); !errors.Is(err, remote.ErrUnavailable) || warned.Load() == 0 {
			t.Errorf("lost after %v with %v, %d warnings", time.Since(start), l.Err(), warned.Load())
		}
		if time.Since(start) < opts.StaleAfter/4 {
			t.Errorf("lost after %v, before StaleAfter/2", time.Since(start))
		}
	})
}

func TestLockUnlockTwice(t *testing.T) {
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			l, err := acquireLock(t.Context(), s, cond, true, lockOpts(t, "host-a"))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := l.Unlock(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			wantKeys(t, s)
			if err := l.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLockOptions(t *testing.T) {
	tests := []struct {
		name string
		opts LockOptions
		ok   bool
	}{
		{"defaults", LockOptions{}, true},
		{"refresh too slow", LockOptions{StaleAfter: time.Minute, RefreshEvery: 30 * time.Second}, false},
		{"negative", LockOptions{Wait: -time.Second}, false},
		{"short stale", LockOptions{StaleAfter: 60 * time.Millisecond}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.applyDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("applyDefaults = %v", err)
			}
		})
	}
	var o LockOptions
	if err := o.applyDefaults(); err != nil || o.StaleAfter != 30*time.Minute || o.RefreshEvery != 5*time.Minute ||
		o.Settle != 2*time.Second || o.Wait != 0 || o.Host == "" {
		t.Fatalf("defaults %+v, %v", o, err)
	}
}

func TestLockedErrorMessage(t *testing.T) {
	since := time.Date(2026, 12, 2, 9, 0, 8, 0, time.UTC)
	tests := []struct {
		name string
		h    LockInfo
		want string
	}{
		{"exclusive", LockInfo{Host: "lab-07", PID: 4242, Exclusive: true, Since: since},
			"repository is locked exclusively by host lab-07 (pid 4242) since 2026-12-02 09:00:08 UTC; " +
				"if that process is gone, the lock becomes stale 30 minutes after its last refresh" +
				" (a command started at the same moment may have backed off too: run this one again)"},
		{"shared with user", LockInfo{Host: "lab-07", PID: 7, User: "root", Since: since},
			"repository is locked by host lab-07 (pid 7, user root) since 2026-12-02 09:00:08 UTC; " +
				"if that process is gone, the lock becomes stale 30 minutes after its last refresh" +
				" (a command started at the same moment may have backed off too: run this one again)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := error(&LockedError{Holder: tt.h, StaleAfter: 30 * time.Minute})
			if err.Error() != tt.want || !errors.Is(err, ErrLocked) {
				t.Fatalf("got %q", err)
			}
		})
	}
}

// lockTree makes a small source tree.
func lockTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte(strings.Repeat("lock ", 20000)), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

func countKeys(t *testing.T, s remote.Store, prefix string) int {
	t.Helper()
	n := 0
	if err := s.List(t.Context(), prefix, func(remote.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSnapshotLock: a snapshot holds a shared lock and removes it; an
// exclusive lock makes it fail with ErrLocked before it writes anything.
func TestSnapshotLock(t *testing.T) {
	for _, cond := range []bool{true, false} {
		t.Run(fmt.Sprintf("conditional=%v", cond), func(t *testing.T) {
			src := lockTree(t)
			r := testRepo(t, wim.CompressXPRESS)
			r.cfg.ConditionalWrites = cond
			opts := TakeOptions{Lock: LockOptions{Settle: 20 * time.Millisecond}}
			snapshotOK(t, r, src, opts)
			wantKeys(t, r.store)

			ex := takeLock(t, r.store, cond, true, lockOpts(t, "pruner"))
			_, err := r.Snapshot(t.Context(), src, opts)
			wantLocked(t, err, "pruner", true)
			if n := countKeys(t, r.store, snapPrefix); n != 1 {
				t.Fatalf("%d manifests, want 1", n)
			}
			wantKeys(t, r.store, ex)
			if err := ex.Unlock(t.Context()); err != nil {
				t.Fatal(err)
			}
			snapshotOK(t, r, src, opts)
			wantKeys(t, r.store)
		})
	}
}

// TestSnapshotLockLost: a snapshot whose lock could not be refreshed fails
// with ErrLockLost and commits nothing.
func TestSnapshotLockLost(t *testing.T) {
	dir := t.TempDir()
	s := &failStore{Store: remote.NewMemory(), failPrefix: lockPrefix, slowPrefix: packPrefix, slow: 500 * time.Millisecond}
	if _, err := InitRepo(t.Context(), s, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), s, RepoOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.armed.Store(true) // the lock is created with PutIfAbsent, and refreshed with Put
	_, err = r.Snapshot(t.Context(), lockTree(t), TakeOptions{Host: "h",
		Lock: LockOptions{StaleAfter: 100 * time.Millisecond, RefreshEvery: 5 * time.Millisecond},
		Warn: func(error) {}}) // the failed refreshes
	if !errors.Is(err, ErrLockLost) {
		t.Fatalf("err = %v, want ErrLockLost", err)
	}
	if n := countKeys(t, s, snapPrefix) + countKeys(t, s, indexPrefix); n != 0 {
		t.Fatalf("%d manifests and index objects were written", n)
	}
	wantKeys(t, s) // removed at the end all the same
}

// TestLockSharedKeepsSince: a shared lock taken with conditional writes
// (created without asking the store's time) keeps the time of its first
// write through its refreshes, so that a prune does not take a long
// snapshot for one that started after its new index.
func TestLockSharedKeepsSince(t *testing.T) {
	s := newClockStore()
	opts := lockOpts(t, "host-a")
	opts.StaleAfter, opts.RefreshEvery = time.Hour, 10*time.Millisecond
	l := takeLock(t, s, true, false, opts)
	created := s.mod(l.key)
	deadline := time.Now().Add(10 * time.Second)
	for !s.mod(l.key).After(created.Add(time.Second)) { // two refreshes
		if time.Now().After(deadline) {
			t.Fatal("the lock was not refreshed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e, err := l.read(t.Context(), remote.Info{Key: l.key, ModTime: s.mod(l.key)})
	if err != nil || e == nil {
		t.Fatal(err)
	}
	if !e.since().Equal(created) {
		t.Errorf("since %v after refreshes, want the first write's %v", e.since(), created)
	}
}

// TestLockPruneKinds: a prune lock coexists with shared locks, both ways
// round, and excludes another prune lock and an exclusive lock, both ways
// round, naming the holder.
func TestLockPruneKinds(t *testing.T) {
	prune := lockRecord{Kind: kindPrune}
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s, cond := m.store(t), m.cond
			sh := takeLock(t, s, cond, false, lockOpts(t, "host-a"))
			pr, err := acquireKind(t.Context(), s, cond, prune, lockOpts(t, "host-b"))
			if err != nil {
				t.Fatalf("prune lock beside a shared one: %v", err)
			}
			sh2 := takeLock(t, s, cond, false, lockOpts(t, "host-c"))
			wantKeys(t, s, sh, pr, sh2)
			_, err = acquireKind(t.Context(), s, cond, prune, lockOpts(t, "host-d"))
			var le *LockedError
			if !errors.As(err, &le) || le.Holder.Kind != kindPrune || le.Holder.Key != pr.Key() && le.Holder.Key != pruneKey ||
				!strings.Contains(err.Error(), "repository is being pruned by host host-b (pid") {
				t.Errorf("second prune: %v", err)
			}
			_, err = acquireLock(t.Context(), s, cond, true, lockOpts(t, "host-d"))
			if !errors.Is(err, ErrLocked) {
				t.Errorf("exclusive lock beside a prune lock: %v", err)
			}
			wantKeys(t, s, sh, pr, sh2)
			for _, l := range []*Lock{sh, sh2, pr} {
				if err := l.Unlock(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			ex := takeLock(t, s, cond, true, lockOpts(t, "host-e"))
			_, err = acquireKind(t.Context(), s, cond, prune, lockOpts(t, "host-f"))
			wantLocked(t, err, "host-e", true)
			wantKeys(t, s, ex)
		})
	}
}

// TestLockPruneRace: of prune lockers racing with shared ones, exactly one
// prune locker and every shared one win.
func TestLockPruneRace(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	for _, m := range lockModes() {
		t.Run(m.name, func(t *testing.T) {
			s := m.store(t)
			for range rounds {
				kinds := []lockRecord{{Kind: kindPrune}, {Kind: kindPrune}, {}, {Kind: kindPrune}, {}}
				locks := make([]*Lock, len(kinds))
				errs := make([]error, len(kinds))
				var wg sync.WaitGroup
				for i, k := range kinds {
					opts := lockOpts(t, fmt.Sprintf("host-%d", i))
					if !m.cond {
						// List-and-wait orders lockers by their objects' times,
						// which a local store sets before the object shows: a
						// locker held up longer than Settle between the two
						// (a loaded machine) could win beside one that did
						// not see it. 20 ms was once too short.
						opts.Settle = 80 * time.Millisecond // under the sleeper's 100 ms: slept
					}
					wg.Go(func() {
						locks[i], errs[i] = acquireKind(t.Context(), s, m.cond, k, opts)
					})
				}
				wg.Wait()
				prunes := 0
				for i, err := range errs {
					switch {
					case err == nil && kinds[i].Kind == kindPrune:
						prunes++
					case err != nil && (kinds[i].Kind != kindPrune || !errors.Is(err, ErrLocked)):
						t.Fatalf("locker %d (%+v): %v", i, kinds[i], err)
					}
				}
				if prunes != 1 && (m.cond || prunes > 1) {
					// Without conditional writes lockers that see each
					// other may all give way; never may two win.
					t.Fatalf("%d prune lockers won", prunes)
				}
				for _, l := range locks {
					if l != nil {
						if err := l.Unlock(t.Context()); err != nil {
							t.Fatal(err)
						}
					}
				}
				wantKeys(t, s)
			}
		})
	}
}

// readOnlyStore refuses every write, as a repository on read-only media or
// behind read-only credentials does.
type readOnlyStore struct{ remote.Store }

func (readOnlyStore) Put(context.Context, string, io.Reader, int64) error {
	return fmt.Errorf("put: %w", remote.ErrDenied)
}

func (readOnlyStore) PutIfAbsent(context.Context, string, []byte) error {
	return fmt.Errorf("put-if-absent: %w", remote.ErrDenied)
}

func (readOnlyStore) Delete(context.Context, string) error {
	return fmt.Errorf("delete: %w", remote.ErrDenied)
}

// TestReadOnlyRepository: a repository that cannot be written, not even a
// lock, fails restore and check with ErrReadOnly; with LockOptions.None
// they read it without a lock.
func TestReadOnlyRepository(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "read me", "d/b.txt": "and me"})
	rw, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache-rw")})
	if err != nil {
		t.Fatal(err)
	}
	m := snapshotOK(t, rw, src, TakeOptions{}).Manifest
	ro, err := OpenRepo(t.Context(), readOnlyStore{store}, RepoOptions{CacheDir: filepath.Join(tmp, "cache-ro")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Restore(t.Context(), m, filepath.Join(tmp, "locked"), RestoreOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("restore with a lock: %v, want ErrReadOnly", err)
	}
	if _, err := ro.Check(t.Context(), CheckOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("check with a lock: %v, want ErrReadOnly", err)
	}
	out := filepath.Join(tmp, "out")
	if _, err := ro.Restore(t.Context(), m, out, RestoreOptions{Lock: LockOptions{None: true}}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	if res, err := ro.Check(t.Context(), CheckOptions{ReadData: true, Lock: LockOptions{None: true}}); err != nil || len(res.Problems) > 0 {
		t.Errorf("check without a lock: %v %q", err, res.Problems)
	}
}

// TestFindDamagedSnapshot: a snapshot whose manifest cannot be read is not
// "no such snapshot" but named as damaged.
func TestFindDamagedSnapshot(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	garbage := []byte("not a manifest")
	if err := store.Put(t.Context(), snapPrefix+m.ID, bytes.NewReader(garbage), int64(len(garbage))); err != nil {
		t.Fatal(err)
	}
	fresh, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "fresh")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fresh.FindSnapshot(t.Context(), m.ShortID())
	if !errors.Is(err, ErrSnapshotNotFound) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("FindSnapshot of a damaged manifest: %v", err)
	}
	if _, err := fresh.FindSnapshot(t.Context(), "0123abcd"); err == nil || strings.Contains(err.Error(), "damaged") {
		t.Errorf("FindSnapshot of no snapshot: %v", err)
	}

	// A prefix that begins more than one id, readable or not, names no
	// damaged snapshot: forget must not pick one.
	damaged, other := "ab00"+strings.Repeat("0", 60), "ab11"+strings.Repeat("1", 60)
	for _, id := range []string{damaged, other} {
		must(t, store.Put(t.Context(), snapPrefix+id, bytes.NewReader(garbage), int64(len(garbage))))
	}
	lone := "cd00" + strings.Repeat("0", 60) // damaged, beside a readable cd22...
	must(t, store.Put(t.Context(), snapPrefix+lone, bytes.NewReader(garbage), int64(len(garbage))))
	readable := []*Manifest{{ID: "ab22" + strings.Repeat("2", 60)}, {ID: "cd22" + strings.Repeat("2", 60)}}
	for _, m := range readable {
		must(t, store.Put(t.Context(), snapPrefix+m.ID, bytes.NewReader(garbage), int64(len(garbage))))
	}
	for ref, want := range map[string]string{"ab": "", "ab0": damaged, "ab1": other, "ab2": "", "ab3": "", "cd": "", "cd0": lone} {
		if got, err := fresh.FindDamaged(t.Context(), ref, readable); got != want || err != nil {
			t.Errorf("FindDamaged(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
}

// hangingDelete is a store whose deletions wait until their context is
// done, as against a server that stopped answering.
type hangingDelete struct{ remote.Store }

func (s hangingDelete) Delete(ctx context.Context, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestLockReleaseInterrupted: a command interrupted waits for its lock's
// removal at most interruptedCleanup, not the minute a command that ends
// otherwise gives it: against a server that stopped answering, Ctrl-C
// took a minute more.
func TestLockReleaseInterrupted(t *testing.T) {
	defer func(d time.Duration) { interruptedCleanup = d }(interruptedCleanup)
	interruptedCleanup = 200 * time.Millisecond
	s := hangingDelete{newClockStore()}
	ctx, cancel := context.WithCancel(t.Context())
	l, err := acquireLock(ctx, s, true, false, lockOpts(t, "host-a"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var warned error
	start := time.Now()
	l.release(ctx, func(err error) { warned = err })
	if took := time.Since(start); took > 5*time.Second || warned == nil {
		t.Errorf("release after an interrupt took %v (warning %v); want about %v and a warning", took, warned, interruptedCleanup)
	}
}

// noDeleteStore refuses every deletion, as a store does to credentials
// without delete rights.
type noDeleteStore struct{ remote.Store }

func (noDeleteStore) Delete(_ context.Context, key string) error {
	return fmt.Errorf("delete %s: injected: %w", key, remote.ErrDenied)
}

// TestLockStaleUndeletable: a stale lock that the store refuses to delete
// fails the next exclusive locker with the refusal (exit 12 in the
// command), not after ten tries with "locks/exclusive keeps changing"
// (exit 1).
func TestLockStaleUndeletable(t *testing.T) {
	s := newClockStore()
	dead := takeLock(t, s, true, true, lockOpts(t, "dead"))
	abandon(dead)
	s.advance(31 * time.Minute)
	opts := lockOpts(t, "host-b")
	opts.Warn = func(error) {} // its own lock, which it cannot remove either
	_, err := acquireLock(t.Context(), noDeleteStore{s}, true, true, opts)
	if !errors.Is(err, remote.ErrDenied) || strings.Contains(err.Error(), "keeps changing") {
		t.Errorf("exclusive lock over an undeletable stale one: %v; want the store's refusal", err)
	}
}
