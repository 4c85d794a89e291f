//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/snapshot"
)

// testRepoEnv makes a local repository with two snapshots of a small tree
// and returns the environment that names it and its cache.
func testRepoEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"),
		"HOME": filepath.Join(dir, "home")}
	if code, _, errb := runApp(t, env, "init", "--compress=none"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a.bin", randomBytes(1, 100<<10))
	writeFile(t, src, "sub/b.txt", []byte("hello"))
	for i := range 2 { // a pack each
		writeFile(t, src, "new.bin", randomBytes(uint64(2+i), 50<<10))
		if code, _, errb := runApp(t, env, "snapshot", src, "--host=test"); code != exitOK {
			t.Fatalf("snapshot: exit %d: %s", code, errb)
		}
	}
	return env
}

func TestCheckOptions(t *testing.T) {
	tests := []struct {
		name      string
		readData  bool
		subset    string
		subsetSet bool
		want      snapshot.CheckOptions
		usage     string // the usage error must contain it
	}{
		{name: "structure only"},
		{name: "read data", readData: true, want: snapshot.CheckOptions{ReadData: true}},
		{name: "group", subset: "2/7", subsetSet: true,
			want: snapshot.CheckOptions{Subset: snapshot.DataSubset{Group: 2, Groups: 7}}},
		{name: "percent", subset: "2.5%", subsetSet: true,
			want: snapshot.CheckOptions{Subset: snapshot.DataSubset{Percent: 2.5}}},
		{name: "both", readData: true, subset: "1/2", subsetSet: true, usage: "--read-data and --read-data-subset exclude each other"},
		{name: "empty", subsetSet: true, usage: "--read-data-subset=: neither a group n/t nor a percentage; want " + snapshot.SubsetForms},
		{name: "bad group", subset: "8/7", subsetSet: true, usage: "--read-data-subset=8/7: n must be from 1 to t; want n/t"},
		{name: "bad percent", subset: "150%", subsetSet: true, usage: "--read-data-subset=150%: the percentage must be above 0 and at most 100; want n/t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkOptions(tt.readData, tt.subset, tt.subsetSet)
			if tt.usage != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.usage) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.usage)
				}
				return
			}
			if err != nil || got.ReadData != tt.want.ReadData || got.Subset != tt.want.Subset {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestCheckSubsetCommand: check --read-data-subset reads the packs of its
// group, together all of them, and says which subset it read.
func TestCheckSubsetCommand(t *testing.T) {
	env := testRepoEnv(t)
	read, packs := 0, 0
	for _, sub := range []string{"1/2", "2/2"} {
		code, out, errb := runApp(t, env, "check", "--read-data-subset="+sub, "--json")
		var c checkSummary
		if err := json.Unmarshal([]byte(out), &c); err != nil || code != exitOK {
			t.Fatalf("check %s: exit %d, %v\n%s%s", sub, code, err, out, errb)
		}
		requireOK(t, c)
		if c.ReadDataSubset != sub || !strings.Contains(out, `"read_data_subset": "`+sub+`"`) {
			t.Errorf("check %s: read_data_subset %q", sub, c.ReadDataSubset)
		}
		read, packs = read+c.PacksRead, c.Packs
	}
	if packs < 2 || read != packs {
		t.Errorf("1/2 and 2/2 read %d packs of %d", read, packs)
	}

	code, out, errb := runApp(t, env, "check", "--read-data-subset=100%")
	if code != exitOK || !strings.Contains(out, "read: subset 100%") {
		t.Errorf("check 100%%: exit %d\n%s%s", code, out, errb)
	}
	if code, out, _ := runApp(t, env, "check", "--json"); code != exitOK || strings.Contains(out, "read_data_subset") {
		t.Errorf("check without a subset: exit %d, %s", code, out)
	}
	code, out, errb = runApp(t, env, "check", "--read-data", "--read-data-subset=1/2")
	if code != exitUsage || out != "" || !strings.Contains(errb, "exclude each other") {
		t.Errorf("both flags: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	code, _, errb = runApp(t, env, "check", "--read-data-subset=0/3")
	if code != exitUsage || !strings.Contains(errb, "--read-data-subset=0/3") || !strings.Contains(errb, "N%") {
		t.Errorf("bad subset: exit %d, stderr %q", code, errb)
	}
}

// TestCheckErrorPrefix: check's error names the command, not the
// snapshot package, which reads as the snapshot command: "wimsnap:
// check: ...", as the CLI's other messages name what failed.
func TestCheckErrorPrefix(t *testing.T) {
	env := testRepoEnv(t)
	packs, _ := filepath.Glob(filepath.Join(env[envRepository], "packs", "*", "*"))
	if len(packs) == 0 {
		t.Fatal("no pack in the repository")
	}
	must(t, os.Remove(packs[0]))
	code, _, errb := runApp(t, env, "check")
	if code == exitOK || !strings.HasPrefix(errb, "wimsnap: check: ") || strings.Contains(errb, "snapshot:") {
		t.Errorf("check of a damaged repository: exit %d, stderr %q; want it to start \"wimsnap: check: \" and not name the snapshot package", code, errb)
	}
}

// TestSnapshotParentPackLost: a snapshot whose parent's image is in a pack
// that is gone or damaged, which the local index still names, fails,
// saying that the repository is damaged and what to run, rather than
// storing a snapshot that shares chunks with what was lost (its unchanged
// image chunks).
func TestSnapshotParentPackLost(t *testing.T) {
	damage := map[string]func(pack string) error{
		"gone":      os.Remove,
		"truncated": func(pack string) error { return os.Truncate(pack, 100) },
	}
	for name, hurt := range damage {
		t.Run(name, func(t *testing.T) {
			env := testRepoEnv(t)
			src := t.TempDir()
			for i := range 200 {
				writeFile(t, src, fmt.Sprintf("d%d/f%d", i%10, i), []byte(fmt.Sprint(i)))
			}
			runAppOK(t, env, "snapshot", src)
			packs, err := filepath.Glob(filepath.Join(env[envRepository], "packs", "*", "*"))
			if err != nil || len(packs) == 0 {
				t.Fatalf("packs: %v, %v", packs, err)
			}
			for _, p := range packs {
				must(t, hurt(p))
			}
			metas, err := filepath.Glob(filepath.Join(env[envCacheDir], "*.meta"))
			if err != nil || len(metas) != 1 {
				t.Fatalf("the cache of images: %v, %v", metas, err)
			}
			must(t, os.RemoveAll(metas[0])) // the image is read from its pack
			code, _, errb := runApp(t, env, "snapshot", src)
			if code != exitFailure || !strings.Contains(errb, "the parent's image") || !strings.Contains(errb, "'wimsnap repair'") {
				t.Errorf("exit %d: %s; want a failure naming the parent's image and repair", code, errb)
			}
		})
	}
}
