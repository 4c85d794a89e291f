//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote/miniotest"
	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// concurrentSnapshots starts "snapshot srcs[i] --host=hosts[i] --json" in
// envs[i] for every i at once, waits for all of them and fails the test
// unless each exits 0 within 5 minutes.
func concurrentSnapshots(t *testing.T, envs []*repoEnv, hosts, srcs []string) []snapshotSummary {
	t.Helper()
	type run struct {
		cmd         *exec.Cmd
		out, stderr bytes.Buffer
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a hang fails rather than stalls the test
	defer cancel()
	runs := make([]*run, len(envs))
	for i, r := range envs {
		ru := &run{cmd: exec.CommandContext(ctx, r.bin, "snapshot", srcs[i], "--host="+hosts[i], "--json")}
		ru.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
		ru.cmd.Stdout, ru.cmd.Stderr = &ru.out, &ru.stderr
		if err := ru.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs[i] = ru
	}
	sums := make([]snapshotSummary, len(runs))
	for i, ru := range runs {
		if err := ru.cmd.Wait(); err != nil {
			t.Errorf("snapshot on %s: %v\nstderr: %s", hosts[i], err, ru.stderr.String())
			continue
		}
		if err := json.Unmarshal(ru.out.Bytes(), &sums[i]); err != nil {
			t.Errorf("snapshot on %s --json: %v\n%s", hosts[i], err, ru.out.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return sums
}

// settleAtimes lists every directory and reads every symlink below dir
// once, so that a snapshot's reads do not change their atimes (MakeTree
// leaves them years old, which relatime updates on the next read; see
// TestS3EndToEnd) and two snapshots of the unchanged tree have the same
// metadata.
func settleAtimes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type() == fs.ModeSymlink {
			_, err = os.Readlink(p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// repoStats runs stats in r.
func repoStats(t *testing.T, r *repoEnv) snapshot.RepoStats {
	t.Helper()
	var st snapshot.RepoStats
	r.runJSON(t, exitOK, &st, "stats")
	return st
}

// TestS3ThreeHosts has three machines, each with its own local index,
// snapshot overlapping trees into one bucket at the same time: the data
// the repository had before is not stored again, every snapshot restores,
// and a second concurrent round of unchanged trees stores nothing.
func TestS3ThreeHosts(t *testing.T) {
	bin := buildBinary(t)
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	tmp := t.TempDir()
	// Every tree holds the base: MakeTree's entries and 6 MiB of random
	// data.
	makeBase := func(dir string) {
		wimtest.MakeTree(t, dir, wimtest.TreeOptions{})
		addBigFiles(t, dir, 3000, 3, 2<<20)
	}
	base := newS3Env(t, bin, srv, srv.URL, bucket)
	base.run(t, exitOK, "init")
	baseSrc := filepath.Join(tmp, "base")
	makeBase(baseSrc)
	baseSnap := base.snapshot(t, baseSrc, "--host=base")
	before := repoStats(t, base)

	const sharedSize, ownSize, chunk = 16 << 20, 4 << 20, 32768
	shared := randomBytes(4000, sharedSize)
	hosts := []string{"h1", "h2", "h3"}
	envs := make([]*repoEnv, len(hosts))
	srcs := make([]string, len(hosts))
	for i, h := range hosts {
		srcs[i] = filepath.Join(tmp, h)
		makeBase(srcs[i])
		writeFile(t, srcs[i], "shared-new.bin", shared)
		writeFile(t, srcs[i], "own.bin", randomBytes(5000+uint64(i), ownSize))
		settleAtimes(t, srcs[i])
		envs[i] = newS3Env(t, bin, srv, srv.URL, bucket) // a machine of its own
	}

	first := concurrentSnapshots(t, envs, hosts, srcs)
	meta := map[string]int64{} // metadata stream size by snapshot
	var doc struct {
		Snapshots []manifestJSON `json:"snapshots"`
	}
	base.runJSON(t, exitOK, &doc, "snapshots")
	for _, m := range doc.Snapshots {
		meta[m.ID] = m.Metadata.Size
	}
	var sumNew, metaChunks int64
	for i, s := range first {
		m, ok := meta[s.Snapshot]
		if !ok {
			t.Fatalf("snapshot %s of %s is not listed", s.ShortID, hosts[i])
		}
		if s.NewRaw < ownSize || s.NewRaw > sharedSize+ownSize+m {
			t.Errorf("%s: new_bytes %d, want %d to %d (its own file, the shared one and its %d bytes of metadata): "+
				"data the repository had was stored again", hosts[i], s.NewRaw, ownSize, sharedSize+ownSize+m, m)
		}
		t.Logf("%s: new_chunks %d, new_bytes %d, packs %d, %.1fs, requests %+v",
			hosts[i], s.NewChunks, s.NewRaw, s.Packs, s.DurationSec, s.Requests)
		sumNew += s.NewChunks
		metaChunks += (m + chunk - 1) / chunk
	}

	// The shared new file is stored once: it is big enough for packs of
	// its own, which every host builds byte for byte the same, under the
	// same key. The repository grows by one copy of it, the three own
	// files and three images' metadata (random data does not compress).
	after := repoStats(t, base)
	gained := after.Chunks - before.Chunks
	newChunks := int64((sharedSize + 3*ownSize) / chunk)
	if gained < newChunks || gained > newChunks+metaChunks {
		t.Errorf("the repository gained %d chunks, want %d to %d", gained, newChunks, newChunks+metaChunks)
	}
	grown := after.PackBytes - before.PackBytes
	if limit := int64(sharedSize+3*ownSize) + 1<<20; grown > limit {
		t.Errorf("packs grew by %d bytes, more than one copy of the shared file allows (%d): it was stored more than once", grown, limit)
	}
	t.Logf("new chunks reported %d, distinct chunks gained %d; packs %d -> %d, %d -> %d bytes (grown %d for %d bytes of new data)",
		sumNew, gained, before.Packs, after.Packs, before.PackBytes, after.PackBytes, grown, sharedSize+3*ownSize)

	second := concurrentSnapshots(t, envs, hosts, srcs)
	for i, s := range second {
		if s.NewChunks != 0 || s.FilesRead != 0 || s.Parent != first[i].Snapshot {
			t.Errorf("%s, unchanged: new_chunks %d, files_read %d, parent %q (want %s)",
				hosts[i], s.NewChunks, s.FilesRead, s.Parent, first[i].Snapshot)
		}
	}

	for i, h := range hosts {
		for _, s := range []snapshotSummary{first[i], second[i]} {
			target := filepath.Join(tmp, "restored", fmt.Sprintf("%s-%s", h, s.ShortID))
			envs[(i+1)%len(envs)].run(t, exitOK, "restore", s.Snapshot, "--target", target)
			compareTrees(t, srcs[i], target)
		}
	}
	target := filepath.Join(tmp, "restored", "base")
	envs[0].run(t, exitOK, "restore", baseSnap.Snapshot, "--target", target)
	compareTrees(t, baseSrc, target)

	c := base.check(t, exitOK, "--read-data")
	requireOK(t, c)
	if c.Snapshots != 1+2*len(hosts) || c.PacksRead != c.Packs {
		t.Errorf("check --read-data: %d snapshots (want %d), %d of %d packs read", c.Snapshots, 1+2*len(hosts), c.PacksRead, c.Packs)
	}
}
