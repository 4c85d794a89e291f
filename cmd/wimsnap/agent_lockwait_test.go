//go:build unix

package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/scheduler"
	"github.com/wimsnap/wimsnap/snapshot"
)

// TestAgentLockWaitStopped: a run stopped while its snapshot waits for
// the repository lock (held exclusively by another process) is
// interrupted and reports how long it waited, not 0.
func TestAgentLockWaitStopped(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	runAppOK(t, env, "init", "--compress=none", "--repo", repo)
	store, err := remote.NewLocal(repo)
	must(t, err)
	r, err := snapshot.OpenRepo(t.Context(), store, snapshot.RepoOptions{CacheDir: filepath.Join(dir, "holder-cache")})
	must(t, err)
	held, err := r.LockExclusive(t.Context(), snapshot.LockOptions{})
	must(t, err)
	t.Cleanup(func() { _ = held.Unlock(context.Background()) })

	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("data"))
	cfg, _, err := loadConfigDoc(t, "repository = \""+repo+"\"\n[status]\nlisten = \"off\"\n"+
		"[[job]]\nname = \"j\"\nsources = [\""+src+"\"]\nschedule = \"@every 6h\"\n", nil)
	must(t, err)
	a, _, _ := testApp(env)
	run := &runner{parent: a, cfg: cfg, log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	const stopAfter = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), stopAfter)
	defer cancel()
	o := run.execute(ctx, cfg.tasks[0], scheduler.Run{Kind: scheduler.Scheduled, Attempt: 1}, 0, nil)
	if o.result != resultInterrupted {
		t.Fatalf("result %q (%s), want %q", o.result, o.err, resultInterrupted)
	}
	if got := o.totals.LockWaitSec; got < stopAfter.Seconds()-0.2 || got > stopAfter.Seconds()+2 {
		t.Errorf("lock_wait_seconds %v, want about %v", got, stopAfter.Seconds())
	}
}
