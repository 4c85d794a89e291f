package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

const initHelp = `
Create a repository at --repo (or $WIMSNAP_REPOSITORY, or the default
local repository): a local one in a new or empty directory, private to
its owner (see docs/repository.md for one shared with a group).
--compress=TYPE[:LEVEL] chooses the codec chunks are stored in, which is
also the codec of the WIMs 'export' writes by copying them: xpress
(default, fast), lzx (smaller, slower to capture) or none. LEVEL, a
positive integer on wimlib's scale (20 quick, 50 medium, 100
high), is kept in the repository's config for the XPRESS chunks its
snapshots add: 35 and over compress them somewhat smaller and more
slowly; without it, or below 35, snapshots use the fast XPRESS encoder.
LZX and none ignore it.
` + repoHelp + `

With --json, stdout receives one document: {"repository", "id", "codec", "level",
"chunk_size"} ("level" 0 when none was given).
Fails with exit code 1 when a repository exists there already, and with
exit code 10 when the location holds a repository's packs, index objects
or snapshots without its config: a new config is never written over them.`

func (a *app) newInitCommand() *cobra.Command {
	var rf repoFlags
	var compress string
	cmd := &cobra.Command{
		Use: "init [--repo=LOCATION] [--compress=xpress|lzx|none[:LEVEL]]",
		Example: `  wimsnap init --repo=/backup/repo
  wimsnap init --repo=s3:https://minio.lab:9000/backups/pc1 --compress=lzx`,
		Short: "Create a repository",
		Long:  long(initHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			c, level, err := parseWriteCodec(compress)
			if err != nil {
				return err
			}
			if c == wim.CompressLZMS {
				return usagef("--compress=%s: a repository stores its chunks in none, xpress or lzx (LZMS is for WIM files)", compress)
			}
			if c != wim.CompressXPRESS {
				level = 0 // ignored, as capture ignores it: not recorded
			}
			return a.runInit(ctx, &rf, c, level)
		}),
	}
	addRepoFlags(cmd, &rf)
	cmd.Flags().StringVar(&compress, "compress", "xpress", "chunk codec, xpress, lzx or none, and optionally :LEVEL for XPRESS")
	return cmd
}

func (a *app) runInit(ctx context.Context, rf *repoFlags, c wim.Compression, level int) error {
	loc, _, err := a.repoLocation(rf)
	if err != nil {
		return err
	}
	if !isS3(loc) {
		if err := repoIsFile(loc); err != nil {
			return err // openStore's "no repository" says nothing here
		}
		if err := holdsOthers(loc); err != nil {
			return err
		}
	}
	store, err := a.openStore(loc, rf)
	if err != nil {
		return err
	}
	if a.s3 != nil {
		if err := a.s3.CreateBucket(ctx); err != nil {
			return err
		}
	}
	cfg, err := snapshot.InitRepoLevel(ctx, store, c, level)
	if errors.Is(err, snapshot.ErrConfigMissing) {
		return configMissing(err)
	}
	if err != nil {
		return err
	}
	if a.json {
		return writeJSON(a.stdout, map[string]any{"repository": loc, "id": cfg.ID, "codec": cfg.Codec, "level": cfg.Level,
			"chunk_size": cfg.ChunkSize})
	}
	chunks := cfg.Codec
	if cfg.Level != 0 {
		chunks += fmt.Sprintf(" level %d", cfg.Level)
	}
	_, err = fmt.Fprintf(a.stdout, "Created repository %s (id %s, %s chunks)\n", loc, cfg.ID[:16], chunks)
	return err
}

// repoNames are the names a local repository's directory holds (see
// docs/repository.md, "Layout").
var repoNames = map[string]bool{"config": true, "packs": true, "index": true, "snapshots": true, "retired": true, "locks": true}

// holdsOthers refuses a directory dir that holds names other than a
// repository's: init into a home or a documents folder would mix the
// repository with the user's files (a new repository wants a new or empty
// directory). What the systems put at the root of a disk or a share is
// not counted (systemName): hidden names, lost+found, Windows' System
// Volume Information and $RECYCLE.BIN, a NAS's #recycle and @eaDir.
func holdsOthers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // missing: made; unreadable: the store says why
	}
	var others []string
	for _, e := range entries {
		if !repoNames[e.Name()] && !systemName(e.Name()) {
			others = append(others, e.Name())
		}
	}
	switch len(others) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s holds %q, which is not a repository's: give init a new or empty directory", dir, others[0])
	}
	return fmt.Errorf("%s holds %q and %d more names that are not a repository's: give init a new or empty directory", dir, others[0], len(others)-1)
}

// systemName reports whether name is one that a system, not the user,
// puts at the root of a disk or a share (see holdsOthers).
func systemName(name string) bool {
	return strings.ContainsAny(name[:1], ".$#@") || name == "lost+found" || name == "System Volume Information"
}
