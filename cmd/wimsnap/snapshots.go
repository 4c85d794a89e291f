package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
)

const snapshotsHelp = `
List the repository's snapshots, oldest first: id, time (UTC), host,
source, image name, files, bytes and tags. --host, --tag and --path
(repeatable) list only the snapshots of those hosts, with one of those
tags, of those sources.
` + repoHelp + `

With --json, stdout receives one document: {"repository", "snapshots":
[{"id", "short_id", "version", "time", "host", "source", "source_bytes",
"kind", "parent", "tags", "image": {"name", "description", "display_name",
"display_description", "flags", "creator", "version", "created", "boot",
"extra_xml"},
"metadata": {"sha1", "size"}, "summary": {"dirs", "files", "symlinks",
"special", "bytes", "files_read", "bytes_read", "files_unchanged",
"skipped", "new_chunks", "new_bytes", "new_bytes_stored", "packs",
"duration_seconds"}}], "warnings": [{"path", "error"}], "warnings_total"}
The first "version" is the manifest's format version; "kind" is "tree" for
a snapshot of a directory tree and "import" for an image imported from a
WIM (absent in manifests written before it was recorded); "summary" is the
snapshot's run, as its 'snapshot --json' document counted it.
A snapshot whose manifest cannot be read is left out, with a warning
("path": "repository"; on stderr without --json), as is a local index
found damaged and rebuilt. "source_bytes" is there when the source path is
not valid UTF-8: its
exact bytes in base64. "extra_xml" holds, as XML text, the elements of an
imported image's XML that wimsnap keeps without reading them (DISM's
WINDOWS), which 'export' writes back. "boot": true marks a snapshot imported from a WIM's boot image, which
'export' marks bootable again.`

func (a *app) newSnapshotsCommand() *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "snapshots [--repo=LOCATION]",
		Short: "List the snapshots of the repository",
		Long:  long(snapshotsHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			return a.runSnapshots(ctx, &rf)
		}),
	}
	addRepoFlags(cmd, &rf)
	addSnapFilterFlags(cmd, &rf.filter, "only")
	return cmd
}

// manifestJSON is a snapshot in --json listings.
type manifestJSON struct {
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
	*snapshot.Manifest
	Tags  []string      `json:"tags"` // [] when none: the stored manifest leaves them out
	Image snapImageJSON `json:"image"`
}

func (a *app) runSnapshots(ctx context.Context, rf *repoFlags) error {
	warn := a.newWarnings(nil)
	r, err := a.openRepoWarn(ctx, rf, false, a.syncWarn(warn))
	if err != nil {
		return err
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return err
	}
	list = rf.filter.keep(list)
	loc, _, _ := a.repoLocation(rf)
	if a.json {
		out := make([]manifestJSON, len(list))
		for i, m := range list {
			out[i] = manifestJSON{ID: m.ID, ShortID: m.ShortID(), Manifest: m, Tags: nonNil(m.Tags), Image: newSnapImageJSON(m.Image)}
		}
		list, total := warn.summary()
		return writeJSON(a.stdout, map[string]any{"repository": loc, "snapshots": out, "warnings": list, "warnings_total": total})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tHOST\tSOURCE\tNAME\tFILES\tSIZE\tTAGS")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ShortID(), m.Time.Format("2006-01-02 15:04:05"),
			cell(m.Host), cell(m.Source), cell(m.Image.Name), m.Summary.Files, formatBytes(m.Summary.Bytes),
			cell(strings.Join(m.Tags, ",")))
	}
	fmt.Fprintln(tw, plural(len(list), "snapshot"))
	return tw.Flush()
}

// maxCell is the most characters a text column of the table shows of a
// field; --json shows it whole. A host name of megabytes in one manifest
// padded every row of the table to its width.
const maxCell = 200

// cell is s as the table shows it: printable, cut to maxCell characters
// with "..." when longer.
func cell(s string) string {
	cut := len(s) > 4*maxCell // longer than maxCell characters, of any kind
	if cut {
		s = s[:4*maxCell]
	}
	p := []rune(printable(s))
	if !cut && len(p) <= maxCell {
		return string(p)
	}
	return string(p[:min(len(p), maxCell-3)]) + "..."
}
