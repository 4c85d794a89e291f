package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
)

const importHelp = `
Store images of the WIM file WIMFILE (any codec DISM or wimlib writes,
solid ESD-style resources included) as snapshots, one per image: IMAGE...
(indexes or names, each once) or all of them (no IMAGE, or "all"). Streams the repository already has are
not stored again; the others are checked against their SHA-1 and stored
in the repository's codec. The image's name, description, display name
and description, flags, creator, version and Windows information go into
the snapshot, so 'export' gives a deployable image back. WIMFILE may be a part of a split WIM, or a delta
WIM with its bases named by --ref (see 'wimsnap apply --help'); the
snapshots and an export of them are whole. A delta WIM needs no --ref for
the streams the repository holds already (its base imported before).

Each image is committed on its own. An image imported before with the
same contents (its metadata: every file's names, times and data), XML
fields, host and tags is passed over, named with its snapshot ("existing":
true), from whichever file it was imported: so that an import that was
interrupted can be run again to complete, and a nightly import of a WIM
that moved, or of a copy of it, adds no snapshot for an unchanged image
(the snapshot named is the latest of this file's path if there is one, and
keeps the source it was imported from). --again imports it anew.

An image's snapshot records the WIM's absolute path, "#" and the image
number as its source (/srv/x.wim#1); snapshots of a directory of that name
are apart from it (see 'wimsnap forget --help').
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "wim", "snapshots": [{"snapshot", "source", "image", "name",
   "files", "bytes", "bytes_read", "new_bytes", "new_bytes_stored", "existing"}],
   "warnings": [{"path", "error"}], "warnings_total", "duration_seconds", "error"}
"error" is there when the import failed; "snapshots" then lists the images
committed before the failure.

An image that holds entries wimlib-imagex leaves out too (named "." or
"..", or as a sibling) is stored as it is, with a warning naming the image
("WIMFILE#N"); every restore of it leaves them out, and the import exits 3.`

type importFlags struct {
	repoFlags
	host    string
	tags    []string
	threads int
	refs    []string // --ref: the other parts of a split WIM
	again   bool
}

func (a *app) newImportCommand() *cobra.Command {
	f := &importFlags{}
	cmd := &cobra.Command{
		Use: "import WIMFILE [IMAGE...] [--repo=LOCATION]",
		Example: `  wimsnap import install.wim                            # every image becomes a snapshot
  wimsnap import install.wim 1 --host=golden`,
		Short: "Store the images of a WIM file as snapshots",
		Long:  long(importHelp),
		Args:  argsBetween(1, -1),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.runImport(ctx, f, args[0], args[1:])
		}),
	}
	addRepoFlags(cmd, &f.repoFlags)
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "host name recorded in the snapshots (default: this machine's)")
	fl.StringArrayVar(&f.tags, "tag", nil, "tag the snapshots (repeatable)")
	fl.IntVar(&f.threads, "threads", 0, "compression threads (default: number of CPUs)")
	fl.BoolVar(&f.again, "again", false, "import images anew that were imported from this file before")
	addRefFlag(cmd, &f.refs)
	return cmd
}

type importedJSON struct {
	Snapshot  string `json:"snapshot"`
	Source    string `json:"source"` // the snapshot's: another WIM's path for one imported from there before
	Image     int    `json:"image"`
	Name      string `json:"name"`
	Files     int64  `json:"files"`
	Bytes     int64  `json:"bytes"`
	BytesRead int64  `json:"bytes_read"`
	NewRaw    int64  `json:"new_bytes"`
	NewStored int64  `json:"new_bytes_stored"`
	Existing  bool   `json:"existing"` // imported before: nothing read or stored now
}

func (a *app) runImport(ctx context.Context, f *importFlags, name string, imageArgs []string) error {
	start := a.now()
	if err := checkThreads(f.threads); err != nil {
		return err
	}
	if err := checkLabels(f.host, f.tags); err != nil {
		return err
	}
	wr, done, err := openWIMSet(name, f.refs, true)
	if err != nil {
		return err
	}
	defer done()
	images := allImages(wr)
	if len(imageArgs) > 0 {
		if images, err = selectImages(wr, imageArgs, "IMAGE"); err != nil {
			return err
		}
	}
	status := a.newStatus()
	warn := a.newWarnings(status)
	r, err := a.openRepoWarn(ctx, &f.repoFlags, false, a.syncWarn(warn))
	if err != nil {
		return err
	}
	tr := newImportTracker(len(images), a.now)
	status.start(tr.render)
	list, err := r.Import(ctx, wr, name, snapshot.ImportOptions{Images: images, Host: f.host, Tags: f.tags,
		Threads: f.threads, Progress: tr.update, Again: f.again, Lock: snapshot.LockOptions{Warn: a.syncWarn(warn)}})
	status.finish()
	err = deltaHint(wr, err)
	out := []importedJSON{}
	var dropped int64
	for _, im := range list {
		if im.Dropped > 0 {
			warn.warn(fmt.Sprintf("%s#%d", name, im.Image), errDropped(im.Dropped))
			dropped += int64(im.Dropped)
		}
		m, s := im.Manifest, im.Manifest.Summary
		j := importedJSON{Snapshot: m.ID, Source: m.Source, Image: im.Image, Name: m.Image.Name, Files: s.Files, Bytes: s.Bytes,
			Existing: im.Existing}
		if !im.Existing {
			j.BytesRead, j.NewRaw, j.NewStored = s.BytesRead, s.NewRaw, s.NewStored
		}
		out = append(out, j)
	}
	loc, _, _ := a.repoLocation(&f.repoFlags)
	warned, total := warn.summary()
	doc := map[string]any{"repository": loc, "wim": name, "snapshots": out, "warnings": warned, "warnings_total": total,
		"duration_seconds": seconds(a.now().Sub(start))}
	if err != nil {
		// Name what was committed before the failure: running the same
		// import again passes over it. The error decides the exit code.
		if a.json {
			doc["error"] = shown(err)
			_ = writeJSON(a.stdout, doc)
		} else if len(out) > 0 {
			a.printImported(name, out) // its "holds no images" would be false
		}
		return err
	}
	if a.json {
		if err := writeJSON(a.stdout, doc); err != nil {
			return err
		}
	} else {
		a.printImported(name, out)
	}
	if dropped > 0 {
		return &partialError{what: countEntries(dropped) + " of the images left out by every restore (see the warnings)"}
	}
	return nil
}

func (a *app) printImported(name string, out []importedJSON) {
	if len(out) == 0 {
		fmt.Fprintf(a.stdout, "%s holds no images: nothing imported\n", printable(name))
	}
	for _, j := range out {
		if j.Existing {
			fmt.Fprintf(a.stdout, "Image %d (%s) of %s is snapshot %s already (imported before%s; --again imports it anew)\n",
				j.Image, printable(j.Name), printable(name), j.Snapshot[:8], importedFrom(j.Source, name, j.Image))
			continue
		}
		fmt.Fprintf(a.stdout, "Imported image %d (%s) of %s as snapshot %s: %d files, %s; added %s (%s stored)\n",
			j.Image, printable(j.Name), printable(name), j.Snapshot[:8], j.Files, formatBytes(j.Bytes), formatBytes(j.NewRaw), formatBytes(j.NewStored))
	}
}

// importedFrom names, for the line of an image passed over, the source of
// its snapshot when another WIM's (" from /old/x.wim#1"); empty for this
// WIM's image.
func importedFrom(source, wimfile string, image int) string {
	abs, err := filepath.Abs(wimfile)
	if err == nil && source == fmt.Sprintf("%s#%d", abs, image) {
		return ""
	}
	return " from " + printable(source)
}
