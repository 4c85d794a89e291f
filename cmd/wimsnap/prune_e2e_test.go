//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote/miniotest"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// bgRun is a wimsnap process started in the background.
type bgRun struct {
	cmd         *exec.Cmd
	out, stderr bytes.Buffer
}

// start starts wimsnap args in r without waiting for it.
func (r *repoEnv) start(t *testing.T, ctx context.Context, args ...string) *bgRun {
	t.Helper()
	b := &bgRun{cmd: exec.CommandContext(ctx, r.bin, args...)}
	b.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return b
}

// wait waits for b and decodes its --json output into v; it fails the
// test unless b exited with one of the codes.
func (b *bgRun) wait(t *testing.T, v any, codes ...int) int {
	t.Helper()
	_ = b.cmd.Wait()
	code := b.cmd.ProcessState.ExitCode()
	ok := false
	for _, c := range codes {
		ok = ok || code == c
	}
	if !ok {
		t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", b.cmd.Args, code, b.out.String(), b.stderr.String())
	}
	if v != nil {
		if err := json.Unmarshal(b.out.Bytes(), v); err != nil {
			t.Fatalf("%v --json: %v\n%s", b.cmd.Args, err, b.out.String())
		}
	}
	return code
}

// TestS3PruneBesideSnapshots: a prune runs while three machines snapshot
// overlapping trees into the bucket, their trees holding data that only
// forgotten snapshots had: all complete, check --read-data passes, and
// every snapshot restores to its tree.
func TestS3PruneBesideSnapshots(t *testing.T) {
	bin := buildBinary(t)
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	tmp := t.TempDir()
	base := newS3Env(t, bin, srv, srv.URL, bucket)
	base.run(t, exitOK, "init")
	src := filepath.Join(tmp, "base")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	for round := range 3 {
		writeFile(t, src, "round.bin", randomBytes(uint64(100+round), 4<<20))
		base.snapshot(t, src, "--host=base")
	}
	base.run(t, exitOK, "forget", "--keep-last=1")

	hosts := []string{"h1", "h2", "h3"}
	srcs := make([]string, len(hosts))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	runs := make([]*bgRun, len(hosts))
	for i, h := range hosts {
		srcs[i] = filepath.Join(tmp, h)
		wimtest.MakeTree(t, srcs[i], wimtest.TreeOptions{})
		writeFile(t, srcs[i], "old.bin", randomBytes(100, 4<<20)) // only a forgotten snapshot had it
		writeFile(t, srcs[i], "own.bin", randomBytes(200+uint64(i), 6<<20))
		settleAtimes(t, srcs[i])
	}
	for i, h := range hosts {
		env := newS3Env(t, bin, srv, srv.URL, bucket) // a machine of its own
		runs[i] = env.start(t, ctx, "snapshot", srcs[i], "--host="+h, "--limit-upload=3072", "--json")
	}
	time.Sleep(300 * time.Millisecond) // the snapshots have taken their locks
	pruner := newS3Env(t, bin, srv, srv.URL, bucket).start(t, ctx, "prune", "--json")

	ids := make([]string, len(hosts))
	for i := range runs {
		var s snapshotSummary
		runs[i].wait(t, &s, exitOK)
		ids[i] = s.Snapshot
	}
	var pr pruneSummary
	pruner.wait(t, &pr, exitOK)
	t.Logf("prune: %+v", pr.PruneResult)
	if pr.PacksDeleted == 0 || pr.Pending != 0 {
		t.Errorf("prune deleted %d packs, left %d", pr.PacksDeleted, pr.Pending)
	}
	requireOK(t, base.check(t, exitOK, "--read-data"))
	for i, id := range ids {
		out := filepath.Join(tmp, "out-"+hosts[i])
		base.run(t, exitOK, "restore", id, "--target", out)
		wimtest.CompareTrees(t, srcs[i], out, wimtest.CompareOptions{})
	}
}

// TestPruneKilled kills prunes with SIGKILL at random points (a file edited
// in one chunk each time is stored as delta recipes of its last version,
// whose bases each prune forgets): after each,
// check passes; unlock --remove-all (the killed prune's lock is fresh)
// lets the next round go on; at the end a prune finishes the work, check
// --read-data passes and the latest snapshot restores.
func TestPruneKilled(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	rng := rand.New(rand.NewPCG(7, 7))
	edited := randomBytes(999, 1<<20) // a chunk changes each snapshot: a chain of delta recipes
	var killed int
	span := time.Duration(0) // how long a whole prune takes: round 0 measures it
	for round := range rounds {
		// Each round adds two snapshots and forgets the older, so that
		// every prune deletes and repacks.
		for k := range 2 {
			writeFile(t, src, "var/round.bin", randomBytes(uint64(1000+2*round+k), 3<<20))
			copy(edited[(2*round+k)%32*32768:], fmt.Sprint("snapshot ", 2*round+k))
			writeFile(t, src, "var/edited.bin", edited)
			writeFile(t, src, fmt.Sprintf("keep/%d-%d.txt", round, k), []byte("kept"))
			r.snapshot(t, src, "--host=h")
		}
		r.run(t, exitOK, "forget", "--keep-last=1")
		start := time.Now()
		cmd := exec.Command(r.bin, "prune", "--max-unused=0%")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if span > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(span))))
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		if span == 0 {
			span = time.Since(start)
		}
		if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
			killed++
		}
		t.Logf("round %d: prune ran %v, killed %v", round, time.Since(start).Round(time.Millisecond), cmd.ProcessState)
		requireOK(t, r.check(t, exitOK))
		r.run(t, exitOK, "unlock", "--remove-all")
	}
	if killed == 0 {
		t.Error("no prune was killed before it finished")
	}
	var pr pruneSummary
	r.runJSON(t, exitOK, &pr, "prune", "--max-unused=0%")
	requireOK(t, r.check(t, exitOK, "--read-data"))
	out := filepath.Join(tmp, "out")
	r.run(t, exitOK, "restore", "latest", "--target", out)
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	// Nothing but the last snapshot's data is left.
	var again pruneSummary
	r.runJSON(t, exitOK, &again, "prune", "--max-unused=0%")
	if again.PacksDeleted != 0 || again.UnusedBytes > again.Bytes/10 {
		t.Errorf("after the kills, prune left %d of %d bytes unused: %+v", again.UnusedBytes, again.Bytes, again.PruneResult)
	}
}
