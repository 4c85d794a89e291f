package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

const optimizeHelp = `
Rewrite WIMFILE, keeping its images, in the codec --compress names (by
default the one it has): every stream is read, checked against its SHA-1
and compressed again, and streams no image uses are dropped. This turns a
DISM or wimlib WIM in any codec wimsnap reads (LZX, LZMS, solid ESD-style
resources) into one it writes (none, xpress, lzx), like 'wimlib-imagex
optimize --recompress'.

The new WIM is written beside WIMFILE and renamed over it only when it is
complete: an interrupted or failed run leaves WIMFILE as it was. Image
names, descriptions, flags, creator, version, creation times and the boot
index are kept; an integrity table is written when WIMFILE has one or
--check is given.

With --json, stdout receives one document:
  {"wim", "compression", "images", "old_bytes", "new_bytes", "stream_bytes",
   "duration_seconds"}`

type optimizeFlags struct {
	compress string
	check    bool
	threads  int
}

func (a *app) newOptimizeCommand() *cobra.Command {
	var f optimizeFlags
	cmd := &cobra.Command{
		Use:   "optimize WIMFILE [--compress=none|xpress|lzx]",
		Short: "Rewrite a WIM file, optionally in another codec",
		Long:  long(optimizeHelp),
		Args:  argsBetween(1, 1),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			return a.runOptimize(ctx, args[0], f, cmd.Flags().Changed("compress"))
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.compress, "compress", "", "codec: none, xpress (or fast), lzx (or maximum); default: the WIM's own")
	fl.BoolVar(&f.check, "check", false, "write an integrity table")
	fl.IntVar(&f.threads, "threads", 0, "compression threads (default: number of CPUs)")
	return cmd
}

// optimizeSummary is the --json document of optimize.
type optimizeSummary struct {
	WIM             string  `json:"wim"`
	Compression     string  `json:"compression"`
	Images          int     `json:"images"`
	OldBytes        int64   `json:"old_bytes"`
	NewBytes        int64   `json:"new_bytes"`
	StreamBytes     int64   `json:"stream_bytes"`
	DurationSeconds float64 `json:"duration_seconds"`
}

func (a *app) runOptimize(ctx context.Context, name string, f optimizeFlags, compressSet bool) (err error) {
	start := a.now()
	if f.threads < 0 {
		return usagef("--threads must not be negative")
	}
	src, r, err := openWIM(name)
	if err != nil {
		return err
	}
	defer closeRead(src)
	if h := r.Header(); h.Split() {
		return fmt.Errorf("%s: part %d of a %d-part split WIM: optimize rewrites a WIM file in place, and the parts are one WIM; "+
			"import the split WIM into a repository and export it, or join it with wimlib-imagex join: %w", name, h.Part, h.Parts, wim.ErrUnsupported)
	}
	st, err := src.Stat()
	if err != nil {
		return err
	}
	comp := r.Header().Compression
	if compressSet {
		c, ok := wim.ParseCompression(f.compress)
		if !ok {
			return usagef("unknown compression %q: want none, xpress or lzx", f.compress)
		}
		comp = c
	}
	tmp, err := createTemp(name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			discardTemp(tmp)
		}
	}()
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return err
	}
	opts := []wim.WriterOption{wim.WithCompression(comp), wim.WithNow(a.now),
		wim.WithBootIndex(int(r.Header().BootIndex)), wim.WithIntegrity(f.check || r.Header().HasIntegrity)}
	if f.threads > 0 {
		opts = append(opts, wim.WithThreads(f.threads))
	}
	w, err := wim.NewWriter(tmp, opts...)
	if err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	tr := &verifyTracker{verb: "recompressing", start: start, now: a.now, total: streamBytes(r)}
	status := a.newStatus()
	status.start(tr.render)
	err = copyImages(ctx, w, r, tr)
	status.finish()
	if err != nil {
		return fmt.Errorf("optimize: %w", errors.Join(err, w.Abort()))
	}
	// Windows renames nothing over a file that is open.
	images := r.ImageCount()
	closeRead(src)
	if err := commitTemp(tmp, name); err != nil {
		return err
	}
	return a.finishOptimize(name, comp, images, st.Size(), tr.bytes(), start)
}

// streamBytes returns the bytes of every stream the images of r use, as
// the XML counts them (hard links once).
func streamBytes(r *wim.Reader) int64 {
	var n int64
	for i := 1; i <= r.ImageCount(); i++ {
		info := r.Image(i)
		n += int64(info.TotalBytes - info.HardLinkBytes)
	}
	return n
}

// copyImages copies every image of r into w and closes w; a cancelled ctx
// stops it within one read.
func copyImages(ctx context.Context, w *wim.Writer, r *wim.Reader, tr *verifyTracker) error {
	var done int64
	progress := func(n int64) {
		done += n
		tr.update(done, max(tr.total, done))
	}
	for i := 1; i <= r.ImageCount(); i++ {
		if err := wim.CopyImage(ctx, w, r, i, progress); err != nil {
			return err
		}
	}
	return w.CloseContext(ctx)
}

// finishOptimize prints the result.
func (a *app) finishOptimize(name string, comp wim.Compression, images int, oldSize, streams int64, start time.Time) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	sum := optimizeSummary{WIM: name, Compression: comp.String(), Images: images, OldBytes: oldSize,
		NewBytes: st.Size(), StreamBytes: streams, DurationSeconds: seconds(a.now().Sub(start))}
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	fmt.Fprintf(a.stdout, "%s: %d images, %s -> %s (%s)\n", name, images, formatBytes(oldSize), formatBytes(sum.NewBytes), sum.Compression)
	return nil
}
