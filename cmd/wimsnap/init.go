package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

const initHelp = `
Create a repository at --repo (or $WIMSNAP_REPOSITORY, or the default
local repository). --compress chooses the codec chunks are stored in, which
is also the codec of the WIMs 'export' writes by copying them: xpress
(default, fast), lzx (smaller, slower to capture) or none.
` + repoHelp + `

With --json, stdout receives one document: {"repository", "id", "codec", "chunk_size"}.
Fails with exit code 1 when a repository exists there already, and with
exit code 10 when the location holds a repository's packs, index objects
or snapshots without its config: a new config is never written over them.`

func (a *app) newInitCommand() *cobra.Command {
	var rf repoFlags
	var compress string
	cmd := &cobra.Command{
		Use:   "init [--repo=LOCATION] [--compress=xpress|lzx|none]",
		Short: "Create a repository",
		Long:  long(initHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			c, ok := parseCodecName(compress)
			if !ok || c == wim.CompressLZMS {
				return usagef("unknown repository codec %q: want xpress, lzx or none", compress)
			}
			return a.runInit(ctx, &rf, c)
		}),
	}
	addRepoFlags(cmd, &rf)
	cmd.Flags().StringVar(&compress, "compress", "xpress", "chunk codec: xpress, lzx or none")
	return cmd
}

func (a *app) runInit(ctx context.Context, rf *repoFlags, c wim.Compression) error {
	loc, _, err := a.repoLocation(rf)
	if err != nil {
		return err
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
	cfg, err := snapshot.InitRepo(ctx, store, c)
	if errors.Is(err, snapshot.ErrConfigMissing) {
		return configMissing(err)
	}
	if err != nil {
		return err
	}
	if a.json {
		return writeJSON(a.stdout, map[string]any{"repository": loc, "id": cfg.ID, "codec": cfg.Codec, "chunk_size": cfg.ChunkSize})
	}
	_, err = fmt.Fprintf(a.stdout, "Created repository %s (id %s, %s chunks)\n", loc, cfg.ID[:16], cfg.Codec)
	return err
}
