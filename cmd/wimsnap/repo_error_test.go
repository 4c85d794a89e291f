//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/snapshot"
)

// TestRepoErrorMessages: the repository's errors read as their sentinels
// ("wimsnap: no such snapshot: ..."), shown without the package prefix
// they carry, which read as the snapshot command in every other command's
// errors ("wimsnap snapshots" said "wimsnap: snapshot: no repository ..."); the
// errors of what it does (a bad restore pattern, an export or restore
// target it cannot use) name what failed, and all keep their exit codes.
func TestRepoErrorMessages(t *testing.T) {
	env := testRepoEnv(t)
	empty := map[string]string{envRepository: filepath.Join(t.TempDir(), "none"), envCacheDir: t.TempDir(),
		"HOME": t.TempDir()}
	damaged := func(t *testing.T) {
		t.Helper()
		for _, p := range packFiles(t, env[envRepository]) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/3] ^= 0x40 // in the chunks, before the trailer
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	missing, file := filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		setup func(t *testing.T)
		args  []string
		code  int
		want  string // stderr contains it
	}{
		{name: "no repository", env: empty, args: []string{"snapshots"}, code: exitNoRepo,
			want: "wimsnap: no repository at this location: "},
		// A file (a WIM) as the repository: "local store: mkdir FILE:
		// not a directory", exit 1.
		// The hint is a command line that works: --repo=VALUE, quoted.
		{name: "no repository, odd name", env: empty, args: []string{"snapshots", "--repo=" + filepath.Join(missing, "-h x")}, code: exitNoRepo,
			want: "(run 'wimsnap init \"--repo=" + filepath.Join(missing, "-h x") + "\"')"},
		{name: "repository is a file", env: empty, args: []string{"snapshots", "--repo", file}, code: exitNoRepo,
			want: "wimsnap: no repository at this location: " + file + " is a file; a repository is a directory"},
		{name: "repository under a file", env: empty, args: []string{"snapshots", "--repo", filepath.Join(file, "sub")}, code: exitNoRepo,
			want: "wimsnap: no repository at this location: " + file + " is a file; a repository is a directory"},
		{name: "init over a file", env: empty, args: []string{"init", "--repo", file}, code: exitFailure,
			want: "wimsnap: " + file + " is a file; a repository is a directory"},
		{name: "no such snapshot", env: env, args: []string{"restore", "deadbeef", "--target", t.TempDir()},
			code: exitFailure, want: `wimsnap: no such snapshot: "deadbeef"`},
		{name: "repository exists", env: env, args: []string{"init"}, code: exitFailure,
			want: "wimsnap: a repository exists at this location"},
		{name: "damaged restore", env: env, setup: damaged, args: []string{"restore", "latest", "--target", t.TempDir()},
			code: exitFailure, want: "wimsnap: malformed repository object: "},
		// The sentinel's prefix goes where it is wrapped, too.
		{name: "bad exclusion", env: env, args: []string{"snapshot", t.TempDir(), "--exclude=/"},
			code: exitUsage, want: `wimsnap: --exclude: bad capture configuration: "/": names no path`},
		{name: "bad retention policy", env: env, args: []string{"forget", "--keep-last=-2"},
			code: exitUsage, want: "wimsnap: invalid retention policy: keep-last is -2"},
		{name: "bad group-by", env: env, args: []string{"forget", "--keep-last=1", "--group-by=bogus"},
			code: exitUsage, want: `wimsnap: --group-by=bogus: invalid group-by "bogus"`},
		{name: "bad pattern", env: env, args: []string{"restore", "latest", "--target", t.TempDir(), "--include=["},
			code: exitUsage, want: `wimsnap: bad pattern "["`},
		{name: "export into a missing directory", env: env, args: []string{"export", "latest", filepath.Join(missing, "x.wim")},
			code: exitFailure, want: "wimsnap: export: "},
		{name: "restore under a file", env: env, args: []string{"restore", "latest", "--target", filepath.Join(file, "t")},
			code: exitFailure, want: "wimsnap: apply target: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			code, _, errb := runApp(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(errb, tt.want) || strings.Contains(errb, "wimsnap: snapshot: ") {
				t.Errorf("exit %d, stderr %q; want exit %d and %q, and no \"wimsnap: snapshot: \"", code, errb, tt.code, tt.want)
			}
		})
	}
}

// TestShownKeepsNames: shown drops the package prefix of sentinels, even
// wrapped, and leaves alone a file name that holds the same text.
func TestShownKeepsNames(t *testing.T) {
	name := &os.PathError{Op: "open", Path: "/mail/Re: snapshot: hi.eml", Err: os.ErrPermission}
	for err, want := range map[error]string{
		name: "open /mail/Re: snapshot: hi.eml: permission denied",
		fmt.Errorf("--exclude: %w: \"/\": names no path", snapshot.ErrConfig): `--exclude: bad capture configuration: "/": names no path`,
		fmt.Errorf("%w: %w", snapshot.ErrNoRepository, name):                  "no repository at this location: open /mail/Re: snapshot: hi.eml: permission denied",
		// A path holding a sentinel's whole text after it keeps it.
		fmt.Errorf("%w: /x/snapshot: no repository at this location", snapshot.ErrNoRepository): "no repository at this location: /x/snapshot: no repository at this location",
	} {
		if got := shown(err); got != want {
			t.Errorf("shown(%q) = %q, want %q", err, got, want)
		}
	}
}

// TestSnapshotSystemRootMissing: snapshot with no PATH and an
// $OSDTargetSystemRoot that names no directory says so, naming the
// variable, as capture does; it said "stat C:\Windows: no such file or
// directory" of a path nobody typed.
func TestSnapshotSystemRootMissing(t *testing.T) {
	env := testRepoEnv(t)
	env[envTargetSystemRoot] = filepath.Join(t.TempDir(), "Windows")
	code, _, errb := runApp(t, env, "snapshot")
	if want := "$OSDTargetSystemRoot=" + strconv.Quote(env[envTargetSystemRoot]) + ": no such directory"; code != exitUsage || !strings.Contains(errb, want) {
		t.Errorf("exit %d: %s; want %d and %q", code, errb, exitUsage, want)
	}
}
