package main

import (
	"bufio"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

const lsHelp = `
List the paths of snapshot SNAP (an id, a unique prefix of one, or
"latest": the newest, or the newest of those --host, --tag and --path
name), one a line, "/"-separated from the image root; with PATH only
that entry and what is below it (PATH as ls prints it; "\" separates too
where the snapshot has no name that holds it). --detailed adds each entry's
metadata, as 'dir --detailed' shows it for a WIM.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "snapshot", "paths": [...]} or, with --detailed,
  {"repository", "snapshot", "entries": [...]}
with entries, and "path_bytes" for paths that are not UTF-8, as 'dir --json'
has them.`

func (a *app) newLsCommand() *cobra.Command {
	var rf repoFlags
	var detailed bool
	cmd := &cobra.Command{
		Use:   "ls SNAP [PATH] [--detailed]",
		Short: "List the files of a snapshot",
		Long:  long(lsHelp),
		Args:  argsBetween(1, 2),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			p := "/"
			if len(args) == 2 {
				p = args[1]
			}
			return a.runLs(ctx, &rf, args[0], p, detailed)
		}),
	}
	addRepoFlags(cmd, &rf)
	addSnapFilterFlags(cmd, &rf.filter, latestOf)
	cmd.Flags().BoolVar(&detailed, "detailed", false, "show each entry's metadata")
	return cmd
}

// imagePath turns a path given for an image ("etc/ssh", "/etc/ssh/",
// `\Windows\System32`, "/docs/../keep") into the form listings use:
// "/"-separated from the root, and cleaned.
func imagePath(arg string) string {
	return path.Clean("/" + strings.ReplaceAll(arg, "\\", "/"))
}

// literalPath is imagePath for a path whose '\' is part of a name, as a
// Linux file name may hold one: "/back\\slash" as ls prints it.
func literalPath(arg string) string {
	return path.Clean("/" + arg)
}

// loadSnapshot resolves ref (through --host, --tag and --path for
// "latest") and reads its image.
func (a *app) loadSnapshot(ctx context.Context, r *snapshot.Repo, rf *repoFlags, ref string) (*snapshot.Manifest, *wim.Metadata, error) {
	m, err := rf.filter.find(ctx, r, ref)
	if err != nil {
		return nil, nil, err
	}
	md, err := r.Metadata(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	if md.Dropped > 0 {
		fmt.Fprintf(a.stderr, "wimsnap: warning: snapshot %s: %v\n", m.ShortID(), errDropped(md.Dropped))
	}
	return m, md, nil
}

// runLs lists arg (a PATH as given) in snapshot ref: the path with each
// '\' part of a name (literalPath), or, where the snapshot has no such
// path, with '\' a separator (imagePath).
func (a *app) runLs(ctx context.Context, rf *repoFlags, ref, arg string, detailed bool) error {
	r, err := a.openRepoWarn(ctx, rf, false, a.lockWarn(nil))
	if err != nil {
		return err
	}
	m, md, err := a.loadSnapshot(ctx, r, rf, ref)
	if err != nil {
		return err
	}
	// Text, and the entries of --json --detailed, are written as the walk
	// goes (a listing's memory does not grow with it); the paths of
	// --json are gathered first, for their "path_bytes". The JSON
	// document is begun once the path is found.
	var paths []string
	bw := bufio.NewWriter(a.stdout)
	visit := func(p string, fn func(q string, e *wim.Entry)) (found bool) {
		under := strings.TrimSuffix(p, "/") + "/"
		walkEntries(md.Root, func(q string, e *wim.Entry) {
			if q == p || strings.HasPrefix(q, under) {
				found = true
				fn(q, e)
			}
		})
		return found
	}
	list := func(p string) bool {
		return visit(p, func(q string, e *wim.Entry) {
			switch {
			case a.json && detailed:
			case a.json:
				paths = append(paths, q)
			case detailed:
				printEntry(bw, newEntryJSON(q, e))
			default:
				fmt.Fprintln(bw, printable(q))
			}
		})
	}
	// The path as given, with '\' in names; with '\' a separator; and as
	// ls prints a name it must escape ("/tab\tname").
	tries := []string{literalPath(arg)}
	if ip := imagePath(arg); ip != tries[0] {
		tries = append(tries, ip)
	}
	if q, err := strconv.Unquote(arg); err == nil && strings.HasPrefix(arg, `"`) {
		tries = append(tries, literalPath(q))
	}
	at := ""
	for _, p := range tries {
		if list(p) {
			at = p
			break
		}
	}
	if at == "" {
		return fmt.Errorf("%w: %s in snapshot %s", snapshot.ErrPathNotFound, printable(tries[len(tries)-1]), m.ShortID())
	}
	loc, _, _ := a.repoLocation(rf)
	switch {
	case a.json && detailed:
		return writeEntriesJSON(a.stdout, []jsonField{{"repository", loc}, {"snapshot", m.ID}}, func(emit func(entryJSON)) {
			visit(at, func(q string, e *wim.Entry) { emit(newEntryJSON(q, e)) })
		})
	case a.json:
		doc := map[string]any{"repository": loc, "snapshot": m.ID, "paths": paths}
		if b := pathsBytes(paths); b != nil {
			doc["path_bytes"] = b
		}
		return writeJSON(a.stdout, doc)
	}
	return bw.Flush()
}

const diffHelp = `
Show what changed from snapshot SNAP1 to SNAP2 (ids, unique prefixes, or
"latest", the newest of those --host, --tag and --path name, if given),
one path a line:
  +  only in SNAP2          -  only in SNAP1
  M  contents differ (the data, a named stream, a link's target, the
     type, a device's number), with what else differs
  U  metadata only (mode, owner, times, xattrs, attributes, security
     descriptor, DOS name, hard links: the other names of the file)
A directory on one side only is listed once, not its contents. Two
paths of the listing that are one text in two Unicode spellings (NFC "é",
U+00E9, and NFD "e" with U+0301, which a terminal shows alike) print
quoted with every character that is not ASCII escaped ("caf\u00e9"),
so that such a rename shows; --json has the paths as they are.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "from", "to", "changes": [{"path", "kind", "what": [...]}],
   "added", "removed", "modified", "metadata_only"}
A change whose path is not valid UTF-8 also has "path_bytes", its exact
bytes in base64.`

func (a *app) newDiffCommand() *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "diff SNAP1 SNAP2",
		Short: "Show the differences between two snapshots",
		Long:  long(diffHelp),
		Args:  argsBetween(2, 2),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.runDiff(ctx, &rf, args[0], args[1])
		}),
	}
	addRepoFlags(cmd, &rf)
	addSnapFilterFlags(cmd, &rf.filter, latestOf)
	return cmd
}

func (a *app) runDiff(ctx context.Context, rf *repoFlags, ref1, ref2 string) error {
	r, err := a.openRepoWarn(ctx, rf, false, a.lockWarn(nil))
	if err != nil {
		return err
	}
	m1, md1, err := a.loadSnapshot(ctx, r, rf, ref1)
	if err != nil {
		return err
	}
	m2, md2, err := a.loadSnapshot(ctx, r, rf, ref2)
	if err != nil {
		return err
	}
	changes := snapshot.Diff(md1, md2)
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Kind]++
	}
	if a.json {
		loc, _, _ := a.repoLocation(rf)
		return writeJSON(a.stdout, map[string]any{"repository": loc, "from": m1.ID, "to": m2.ID, "changes": changesJSON(changes),
			"added": counts["+"], "removed": counts["-"], "modified": counts["M"], "metadata_only": counts["U"]})
	}
	bw := bufio.NewWriter(a.stdout)
	paths := make([]string, len(changes))
	for i, c := range changes {
		paths[i] = c.Path
	}
	show := printableApart(paths)
	for _, c := range changes {
		if len(c.What) > 0 {
			fmt.Fprintf(bw, "%s  %s  (%s)\n", c.Kind, show(c.Path), strings.Join(c.What, ", "))
		} else {
			fmt.Fprintf(bw, "%s  %s\n", c.Kind, show(c.Path))
		}
	}
	fmt.Fprintf(bw, "%d added, %d removed, %d modified, %d metadata only\n", counts["+"], counts["-"], counts["M"], counts["U"])
	return bw.Flush()
}

// changeJSON is one of diff's --json "changes": a snapshot.Change, with
// "path_bytes" when its path is not valid UTF-8 (see rawPath).
type changeJSON struct {
	snapshot.Change
	PathBytes []byte `json:"path_bytes,omitempty"`
}

// changesJSON returns changes as diff's --json has them (never nil).
func changesJSON(changes []snapshot.Change) []changeJSON {
	out := make([]changeJSON, 0, len(changes))
	for _, c := range changes {
		out = append(out, changeJSON{Change: c, PathBytes: rawPath(c.Path)})
	}
	return out
}
