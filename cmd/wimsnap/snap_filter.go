package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
)

// latestOf is the help of --host, --tag and --path where they pick
// "latest".
const latestOf = `"latest" is the newest of the`

// snapFilter is --host, --tag and --path: the snapshots of one of the
// hosts, with one of the tags, of one of the sources. An empty list
// matches every snapshot.
type snapFilter struct {
	hosts, tags, paths []string
}

// addSnapFilterFlags adds --host, --tag and --path to cmd; what says what
// the snapshots that match are for ("only", "latest is the newest of").
func addSnapFilterFlags(cmd *cobra.Command, f *snapFilter, what string) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.hosts, "host", nil, what+" snapshots of this host (repeatable)")
	fl.StringArrayVar(&f.tags, "tag", nil, what+" snapshots with this tag (repeatable)")
	fl.StringArrayVar(&f.paths, "path", nil, what+" snapshots of this source path, relative to the working directory (repeatable)")
}

// set reports whether any of the flags was given.
func (f *snapFilter) set() bool { return len(f.hosts)+len(f.tags)+len(f.paths) > 0 }

// keep returns the snapshots of list that match, in list's order. A
// --path matches as snapshot records a source (sourceKeys).
func (f *snapFilter) keep(list []*snapshot.Manifest) []*snapshot.Manifest {
	paths := sourceKeys(f.paths)
	return slices.DeleteFunc(slices.Clone(list), func(m *snapshot.Manifest) bool {
		switch {
		case len(f.hosts) > 0 && !slices.Contains(f.hosts, m.Host):
			return true
		case len(paths) > 0 && !slices.ContainsFunc(paths, func(p string) bool { return samePath(p, m.SourceKey(), pathsFoldCase) }):
			return true
		}
		return len(f.tags) > 0 && !slices.ContainsFunc(f.tags, func(t string) bool { return slices.Contains(m.Tags, t) })
	})
}

// find resolves ref in r: "latest" is the newest snapshot that matches;
// an id or a prefix of one names its snapshot whether it matches or not.
func (f *snapFilter) find(ctx context.Context, r *snapshot.Repo, ref string) (*snapshot.Manifest, error) {
	if !strings.EqualFold(ref, "latest") || !f.set() {
		return r.FindSnapshot(ctx, ref)
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	kept := f.keep(list)
	if len(kept) == 0 {
		return nil, fmt.Errorf("%w: none of the %d snapshots matches --host, --tag and --path", snapshot.ErrSnapshotNotFound, len(list))
	}
	return kept[len(kept)-1], nil
}
