package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

const splitHelp = `
Write WIMFILE as a split WIM whose parts hold at most SIZE MiB each, for
media whose file system caps file sizes (FAT32: 4 GiB), as wimlib-imagex
split and DISM's /Split-Image /FileSize do. The parts are SWMFILE,
then its name with 2, 3, ... before the extension (install.swm,
install2.swm, ...), the names DISM and wimsnap's apply look for. A part
holding one resource larger than SIZE is larger. Resources are copied as
they are, not recompressed; part 1 holds the image metadata. As in
wimlib's parts, no part marks a boot image (a split into one part is a
whole WIM, and keeps it). A part's name that is WIMFILE's is refused
(exit 2).

Every part is written under a temporary name and named only when all are
complete: an interrupted or failed run leaves no part behind. --check
writes an integrity table into each part (default: when WIMFILE has one).
WIMs with solid resources (ESD-style) cannot be split; optimize them first.

Files named as further parts (install4.swm after a split into three),
left by an earlier split into more parts, get a warning: they are not part
of the new set, and a glob such as install*.swm would take them in.

With --json, stdout receives one document:
  {"wim", "parts": [{"file", "bytes"}], "warnings": [{"path", "error"}],
   "warnings_total", "duration_seconds"}`

func (a *app) newSplitCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "split WIMFILE SWMFILE SIZE",
		Short: "Write a WIM as a split WIM of SIZE-MiB parts",
		Long:  longWIM(splitHelp),
		Args:  argsBetween(3, 3),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			mib, err := strconv.ParseFloat(args[2], 64)
			if err != nil || !(mib >= 0.01) || mib > 1<<30 {
				return usagef("SIZE %q: want a number of MiB, at least 0.01", args[2])
			}
			return a.runSplit(ctx, args[0], args[1], int64(mib*(1<<20)), check, cmd.Flags().Changed("check"))
		}),
	}
	cmd.Flags().BoolVar(&check, "check", false, "write an integrity table into each part")
	return cmd
}

// splitPart is one part in the --json document of split.
type splitPart struct {
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
}

// splitSummary is the --json document of split.
type splitSummary struct {
	WIM             string      `json:"wim"`
	Parts           []splitPart `json:"parts"`
	Warnings        []warning   `json:"warnings"`
	WarningsTotal   int64       `json:"warnings_total"`
	DurationSeconds float64     `json:"duration_seconds"`
}

// staleParts returns the files named as parts n+1, n+2, ... of the split
// WIM whose part 1 is swm that exist: left by an earlier split into more
// parts, they would join this one's set under a glob.
func staleParts(swm string, n int) []string {
	var out []string
	for k := n + 1; ; k++ {
		p := partName(swm, k)
		if _, err := os.Lstat(p); err != nil {
			return out
		}
		out = append(out, p)
	}
}

func (a *app) runSplit(ctx context.Context, name, swm string, size int64, check, checkSet bool) (err error) {
	start := a.now()
	f, r, err := openWIM(name)
	if err != nil {
		return err
	}
	defer closeRead(f)
	if !checkSet {
		check = r.Header().HasIntegrity
	}
	var tmps []*os.File
	var names []string
	defer func() {
		if err != nil {
			for _, t := range tmps {
				discardTemp(t)
			}
		}
	}()
	src, err := f.Stat()
	if err != nil {
		return err
	}
	create := func(k, _ int) (*os.File, error) {
		part, err := outputPath(partName(swm, k))
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(part); err == nil && os.SameFile(st, src) {
			return nil, usagef("part %d, %s, would replace WIMFILE itself: give SWMFILE another name", k, part)
		}
		names = append(names, part)
		t, err := createTemp(part)
		if err == nil {
			tmps = append(tmps, t)
		}
		return t, err
	}
	tr := &verifyTracker{verb: "splitting", start: start, now: a.now, total: wimBytes(f)}
	it := newIntegrityTracker(tr, a.now)
	status := a.newStatus()
	status.start(it.render)
	_, err = wim.WriteSplit(ctx, r, size, check, create, splitProgress(it, tr), wim.WithSplitIntegrityProgress(it.updatePart))
	status.finish()
	if err != nil {
		return fmt.Errorf("split: %s: %w", name, err)
	}
	// Every part reaches the disk before the first rename, so that the
	// renames, which replace an older set's parts, follow one another at
	// once: an interrupt leaves a mix of two sets only in that moment. A
	// part stays open, and so locked against another run's sweepTemps,
	// until its rename (placeTemp).
	for _, t := range tmps {
		if err := t.Sync(); err != nil {
			return err
		}
	}
	sum := splitSummary{WIM: name, Parts: []splitPart{}}
	for i, t := range tmps {
		if err := placeTemp(t, names[i]); err != nil {
			return errors.Join(err, removeParts(names[:i]))
		}
		st, err := os.Stat(names[i])
		if err != nil {
			return err
		}
		sum.Parts = append(sum.Parts, splitPart{File: names[i], Bytes: st.Size()})
	}
	if err := remote.SyncDir(filepath.Dir(names[0])); err != nil {
		return err
	}
	warn := a.newWarnings(nil)
	for _, stale := range staleParts(swm, len(names)) {
		warn.warn(stale, errors.New("left by an earlier split into more parts, and not part of this one; a glob of the parts' names would take it in"))
	}
	sum.Warnings, sum.WarningsTotal = warn.summary()
	sum.DurationSeconds = seconds(a.now().Sub(start))
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	for _, p := range sum.Parts {
		fmt.Fprintf(a.stdout, "%s: %s\n", p.File, formatBytes(p.Bytes))
	}
	return nil
}

// wimBytes returns the size of the open file f, 0 when unknown.
func wimBytes(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// removeParts removes parts already named by a split that then failed.
func removeParts(names []string) error {
	var errs []error
	for _, n := range names {
		if err := os.Remove(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// splitProgress returns WriteSplit's progress function: it counts on tr,
// the main tracker of it, the bytes copied, which follow the integrity
// table of the part before.
func splitProgress(it *integrityTracker, tr *verifyTracker) func(done int64) {
	return func(done int64) {
		it.resume()
		tr.update(done, tr.total)
	}
}
