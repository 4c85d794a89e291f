//go:build linux

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// TestAbandoned: a lock is abandoned only when its mark is this
// machine's and PID namespace's and its process is gone, or it is this
// process's without this process holding it.
func TestAbandoned(t *testing.T) {
	mark := processMark()
	if mark == "" {
		t.Fatal("no process mark on Linux")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	running := exec.Command("sleep", "60")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = running.Process.Kill(); _ = running.Wait() })
	heldLocks.Store("locks/held", true)
	t.Cleanup(func() { heldLocks.Delete("locks/held") })
	tests := []struct {
		name string
		key  string
		rec  lockRecord
		want bool
	}{
		{"process gone", "locks/a", lockRecord{Host: host, PID: gone.Process.Pid, Mark: mark}, true},
		{"process running", "locks/a", lockRecord{Host: host, PID: running.Process.Pid, Mark: mark}, false},
		{"own, not held", "locks/a", lockRecord{Host: host, PID: os.Getpid(), Mark: mark}, true},
		{"own, held", "locks/held", lockRecord{Host: host, PID: os.Getpid(), Mark: mark}, false},
		{"other machine or boot", "locks/a", lockRecord{Host: host, PID: gone.Process.Pid, Mark: "other/pid:[1]"}, false},
		{"other host name", "locks/a", lockRecord{Host: host + "-clone", PID: gone.Process.Pid, Mark: mark}, false},
		{"no mark", "locks/a", lockRecord{Host: host, PID: gone.Process.Pid}, false},
	}
	for _, tt := range tests {
		if got := abandoned(tt.key, tt.rec, host); got != tt.want {
			t.Errorf("%s: abandoned = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// downStore fails every Delete while down is set, as a store that cannot
// be reached does.
type downStore struct {
	remote.Store
	down bool
}

func (d *downStore) Delete(ctx context.Context, key string) error {
	if d.down {
		return fmt.Errorf("delete %s: injected: %w", key, remote.ErrUnavailable)
	}
	return d.Store.Delete(ctx, key)
}

// TestPruneLockAfterFailedRelease: a prune whose lock could not be
// removed (the store was down) does not keep the same process (an agent)
// from taking the prune lock again once the store is back, nor does a
// lock left by a process of this machine that is gone keep another
// process out; unlock removes such a lock at once.
func TestPruneLockAfterFailedRelease(t *testing.T) {
	store := &downStore{Store: remote.NewMemory()}
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	quiet := LockOptions{Warn: func(error) {}}
	l, err := r.LockPrune(t.Context(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	store.down = true
	if err := l.Unlock(t.Context()); err == nil {
		t.Fatal("unlock with the store down succeeded")
	}
	store.down = false
	again, err := r.LockPrune(t.Context(), quiet)
	if err != nil {
		t.Fatalf("prune lock after this process's failed release: %v", err)
	}
	must(t, again.Unlock(t.Context()))

	// A lock of a process of this machine that is gone.
	gone := exec.Command("true")
	must(t, gone.Run())
	host, _ := os.Hostname()
	rec := lockRecord{Host: host, PID: gone.Process.Pid, Kind: kindPrune, Mark: processMark()}
	b := fmt.Appendf(nil, `{"host":%q,"pid":%d,"kind":"prune","exclusive":false,"time":"2026-12-04T00:00:00Z","mark":%q}`,
		rec.Host, rec.PID, rec.Mark)
	key := lockPrefix + strings.Repeat("ab", 32)
	must(t, store.PutIfAbsent(t.Context(), key, b))
	must(t, store.PutIfAbsent(t.Context(), pruneKey, fmt.Appendf(nil, `{"host":%q,"pid":%d,"kind":"prune","lock":%q,"mark":%q}`,
		rec.Host, rec.PID, key, rec.Mark)))
	locks, err := r.Locks(t.Context())
	if err != nil || len(locks) != 2 || !locks[0].Stale || !locks[1].Stale {
		t.Fatalf("locks of a process that is gone: %+v, %v; want both stale", locks, err)
	}
	l, err = r.LockPrune(t.Context(), quiet)
	if err != nil {
		t.Fatalf("prune lock beside one whose process is gone: %v", err)
	}
	must(t, l.Unlock(t.Context()))
	if _, err := store.Stat(t.Context(), key); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("the abandoned lock is still there: %v", err)
	}
}

// TestProcessAliveZombie: a process that has exited but is not reaped (a
// killed wimsnap whose parent, timeout -s KILL, died with it) is not alive,
// so that its locks are abandoned at once, not after 30 minutes.
func TestProcessAliveZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	for i := 0; !zombie(pid); i++ {
		if i == 1000 {
			t.Fatal("the child never became a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Error("a zombie is taken for alive")
	}
	if !processAlive(os.Getpid()) || zombie(os.Getpid()) {
		t.Error("this process is not taken for alive")
	}
}
