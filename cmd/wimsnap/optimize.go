package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

const optimizeHelp = `
Rewrite WIMFILE, keeping its images, in the codec --compress names (by
default the one it has, but lzx for an LZMS WIM such as an install.esd,
as export-image chooses): every stream is read, checked
against its SHA-1
and compressed again, and streams no image uses are dropped. In its own
codec a WIM keeps its chunk size (a WIMBoot WIM's 4 KiB, up to 2 MiB), as
wimlib-imagex keeps it; another codec takes that codec's default. This turns a
DISM or wimlib WIM in any codec wimsnap reads (LZX, LZMS, solid ESD-style
resources) into one it writes (none, xpress, lzx, lzms), like 'wimlib-imagex
optimize --recompress'.

` + compressHelp + `

The new WIM is written beside WIMFILE and renamed over it only when it is
complete: an interrupted or failed run leaves WIMFILE as it was. While it
reads WIMFILE, optimize holds the lock append holds, so that neither loses
the other's work; a WIMFILE being appended to is refused (exit 1), as are,
in place, a WIMFILE this user may not write and one whose header marks it
read-only (exit 1, as wimlib-imagex refuses them). Image
names, descriptions, flags, creator, version, creation and modification
times and the boot index are kept, and in place the WIM's GUID; an
integrity table is written when WIMFILE has one or --check is given.

With --output, the new WIM goes to NEWFILE and WIMFILE is left alone; then
--image (an index or a name, repeatable) picks the images to keep, in the
order given, as 'wimlib-imagex export' picks one edition of an install.esd,
and WIMFILE may be a split WIM (see 'wimsnap apply --help' and --ref),
which NEWFILE joins into one file. An existing NEWFILE is refused (exit 2)
unless --force is given, and WIMFILE itself even then.

With --json, stdout receives one document:
  {"wim", "output", "compression", "images", "old_bytes", "new_bytes",
   "stream_bytes", "duration_seconds"}
"output" is the file written (WIMFILE without --output); "old_bytes" is
WIMFILE's size.`

type optimizeFlags struct {
	compress string
	check    bool
	threads  int
	output   string
	images   []string
	refs     []string
	force    bool // replace an existing --output
}

func (a *app) newOptimizeCommand() *cobra.Command {
	var f optimizeFlags
	cmd := &cobra.Command{
		Use:   "optimize WIMFILE [--compress=TYPE[:LEVEL]] [--output=NEWFILE [--image=N]...]",
		Short: "Rewrite a WIM file, optionally in another codec or with some of its images",
		Long:  longWIM(optimizeHelp),
		Args:  argsBetween(1, 1),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			return a.runOptimize(ctx, args[0], f, cmd.Flags().Changed("compress"))
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.compress, "compress", "", "codec[:level]: none, xpress (or fast), lzx (or maximum, max), lzms (or recovery),\n"+
		"e.g. xpress:20 (see --help); default: the WIM's own (lzx for lzms)")
	fl.BoolVar(&f.check, "check", false, "write an integrity table")
	fl.IntVar(&f.threads, "threads", 0, "compression threads (default: number of CPUs)")
	fl.Var((*nonEmpty)(&f.output), "output", "write the new WIM to this file and leave WIMFILE as it is")
	fl.BoolVar(&f.force, "force", false, "with --output: replace NEWFILE when it exists")
	fl.StringArrayVar(&f.images, "image", nil, "with --output: an image to keep (index or name; repeatable); default: all")
	addRefFlag(cmd, &f.refs)
	return cmd
}

// optimizeSummary is the --json document of optimize.
type optimizeSummary struct {
	WIM             string  `json:"wim"`
	Output          string  `json:"output"`
	Compression     string  `json:"compression"`
	Images          int     `json:"images"`
	OldBytes        int64   `json:"old_bytes"`
	NewBytes        int64   `json:"new_bytes"`
	StreamBytes     int64   `json:"stream_bytes"`
	DurationSeconds float64 `json:"duration_seconds"`
}

func (a *app) runOptimize(ctx context.Context, name string, f optimizeFlags, compressSet bool) error {
	start := a.now()
	if err := checkThreads(f.threads); err != nil {
		return err
	}
	if f.output == "" && (len(f.images) > 0 || len(f.refs) > 0) {
		return usagef("--image and --ref need --output: in place, the other images or the other parts would be lost")
	}
	if f.output == "" && f.force {
		return usagef("--force needs --output: it lets NEWFILE be replaced")
	}
	var comp wim.Compression
	var level int
	if compressSet {
		c, l, err := parseWriteCodec(f.compress)
		if err != nil {
			return err
		}
		comp, level = c, l
	}
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	target, err := outputPath(cmp.Or(f.output, name))
	if err != nil {
		return err
	}
	if f.output != "" {
		if err := checkOutput(st, target, f.force); err != nil {
			return err
		}
	}
	r, done, err := a.openOptimized(name, f)
	if err != nil {
		return err
	}
	defer func() { done() }()
	images, err := pickImages(r, f.images)
	if err != nil {
		return err
	}
	if !compressSet {
		comp = defaultRewriteCodec(r.Header().Compression)
	}
	// A new --output keeps a file another process makes there meanwhile.
	spec := rewriteSpec{verb: "optimize", images: images, opts: f.writerOptions(r, comp, level, images, a.now), start: start,
		create: f.output != "" && !f.force, keepModified: true}
	streams, err := a.rewriteWIM(ctx, r, target, st.Mode().Perm(), spec, &done)
	if err != nil && f.output == "" {
		return inPlaceDeltaHint(err, "optimize", name)
	}
	if err != nil {
		return deltaHint(r, err)
	}
	return a.finishOptimize(name, target, comp, len(images), st.Size(), streams, start)
}

// writerOptions returns the options of the new WIM holding images of r
// (none when r holds none), compressed with comp at level (0: the
// default), with an integrity table with --check or when r has one; in
// place, with r's GUID, as wimlib-imagex optimize keeps it.
func (f *optimizeFlags) writerOptions(r *wim.Reader, comp wim.Compression, level int, images []int, now func() time.Time) []wim.WriterOption {
	opts := []wim.WriterOption{wim.WithCompression(comp), wim.WithChunkSizeOf(r.Header(), comp), wim.WithCompressionLevel(level), wim.WithNow(now),
		wim.WithBootIndex(newBootIndex(int(r.Header().BootIndex), images)), wim.WithIntegrity(f.check || r.Header().HasIntegrity),
		wim.WithEmpty(len(images) == 0), // a WIM of no images, as delete leaves one, stays one
		wim.WithRPFix(r.Header().RPFix())}
	if f.threads > 0 {
		opts = append(opts, wim.WithThreads(f.threads))
	}
	if f.output == "" {
		opts = append(opts, wim.WithGUID(r.Header().GUID))
	}
	return opts
}

// checkOutput refuses an existing NEWFILE (target, which outputPath
// resolved) unless force is set, with a usage error (exit 2), so that a
// mistyped --output loses no WIM; WIMFILE itself (wimfile) is refused even
// then: in place, optimize rewrites it under its lock, and keeps its images.
func checkOutput(wimfile fs.FileInfo, target string, force bool) error {
	st, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case os.SameFile(st, wimfile):
		return usagef("--output=%s is WIMFILE itself: leave out --output to rewrite it in place", target)
	case !force:
		return usagef("--output=%s exists: give --force to replace it", target)
	}
	return nil
}

// openOptimized opens WIMFILE for optimize: with --output, with the other
// parts of a split WIM; in place, holding lockWIM's lock until the new
// file is renamed over it (on Windows, until just before), and refused, as
// editInPlace refuses them, for a part, a file this user may not write
// and a WIM its header marks read-only.
func (a *app) openOptimized(name string, f optimizeFlags) (*wim.Reader, func(), error) {
	if f.output != "" {
		return openWIMSet(name, f.refs, true)
	}
	r, done, err := openInPlace(name, "optimize")
	if err != nil {
		return nil, nil, err
	}
	if err := checkWritable(name); err != nil {
		done()
		return nil, nil, err
	}
	if r.Header().ReadOnly() {
		done()
		return nil, nil, fmt.Errorf("%s: %w: the WIM is marked read-only", name, wim.ErrUnsupported)
	}
	return r, done, nil
}

// pickImages returns the indexes of the images specs name (namedImages:
// "all" is the name of an image, as --image takes names), in their order,
// or of every image when there are none.
func pickImages(r *wim.Reader, specs []string) ([]int, error) {
	if len(specs) == 0 {
		return allImages(r), nil
	}
	return namedImages(r, specs, "--image")
}

// newBootIndex returns the index the boot image gets among images (the
// old indexes in their new order), 0 when it is not kept.
func newBootIndex(boot int, images []int) int {
	return slices.Index(images, boot) + 1
}

// streamBytes returns the bytes of the streams the images of r use, each
// once, as a copy writes them: a stream several files or images share is
// copied once (the XML's counts, which count it for each, gave a total
// the copy ended far short of). Where an image's metadata does not read,
// the XML's count stands in for it.
func streamBytes(r *wim.Reader, images []int) int64 {
	var n int64
	seen := map[wim.Hash]bool{}
	for _, i := range images {
		m, err := r.Metadata(i)
		if err != nil {
			info := r.Image(i)
			n += int64(info.TotalBytes - info.HardLinkBytes)
			continue
		}
		m.Streams(func(s *wim.Stream) {
			if !s.Hash.IsZero() && !seen[s.Hash] {
				seen[s.Hash] = true
				n += r.StreamSize(s.Hash)
			}
		})
	}
	return n
}

// finishOptimize prints the result.
func (a *app) finishOptimize(name, output string, comp wim.Compression, images int, oldSize, streams int64, start time.Time) error {
	st, err := os.Stat(output)
	if err != nil {
		return err
	}
	sum := optimizeSummary{WIM: name, Output: output, Compression: comp.String(), Images: images, OldBytes: oldSize,
		NewBytes: st.Size(), StreamBytes: streams, DurationSeconds: seconds(a.now().Sub(start))}
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	if output != name {
		fmt.Fprintf(a.stdout, "%s (%s) -> %s: %s, %s (%s)\n", name, formatBytes(oldSize), output, plural(images, "image"),
			formatBytes(sum.NewBytes), sum.Compression)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: %s, %s -> %s (%s)\n", output, plural(images, "image"), formatBytes(oldSize), formatBytes(sum.NewBytes), sum.Compression)
	return nil
}
