package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wimsnap/wimsnap/wim"
)

// exportToNew writes the images specs name, of the WIM (or split WIM) src,
// into the new WIM target through rewriteWIM: a temporary file beside it,
// renamed into place once complete.
func (a *app) exportToNew(ctx context.Context, src, target string, specs []string, f exportImageFlags,
	sum *exportImageSummary, start time.Time) error {
	r, done, err := openWIMSet(src, f.refs, true)
	if err != nil {
		return err
	}
	defer func() { done() }()
	p, err := f.plan(r, nil, specs)
	if err != nil {
		return err
	}
	comp := f.codec(r.Header().Compression)
	opts := append(f.writerOptions(a.now), wim.WithCompression(comp), wim.WithChunkSizeOf(r.Header(), comp), wim.WithBootIndex(p.boot), wim.WithIntegrity(f.check),
		wim.WithRPFix(r.Header().RPFix())) // as wimlib-imagex export keeps it
	spec := rewriteSpec{verb: "export-image", images: p.images, infos: p.infos, rebuild: true, create: true, opts: opts, start: start}
	n, err := a.rewriteWIM(ctx, r, target, 0, spec, &done)
	if err != nil {
		return deltaHint(r, err)
	}
	sum.fill(p, 0, p.boot, comp, n)
	return nil
}

// writerOptions returns the options of the destination's Writer that the
// destination being new or not leaves alone: the clock, --threads and
// --compress's level, for the streams compressed again.
func (f *exportImageFlags) writerOptions(now func() time.Time) []wim.WriterOption {
	opts := []wim.WriterOption{wim.WithNow(now), wim.WithCompressionLevel(f.level)}
	if f.threads > 0 {
		opts = append(opts, wim.WithThreads(f.threads))
	}
	return opts
}

// codec returns the codec of a new destination: --compress (as
// runExportImage parsed it), else defaultRewriteCodec(src).
func (f *exportImageFlags) codec(src wim.Compression) wim.Compression {
	if f.compressSet {
		return f.comp
	}
	return defaultRewriteCodec(src)
}

// exportToExisting appends the images specs name, of src, to the existing
// WIM target in place (wim.NewAppendWriter), holding lockWIM's lock on it
// from before it is read until it is closed. same says that src is target:
// its images are then read from the file being appended to.
func (a *app) exportToExisting(ctx context.Context, src, target string, specs []string, f exportImageFlags, same bool,
	sum *exportImageSummary, start time.Time) error {
	fd, err := os.OpenFile(target, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := lockWIM(fd, target); err != nil {
		closeRead(fd) // nothing written yet
		return err
	}
	sweepTemps(target) // a killed rewrite's, as createTemp would
	err = a.exportAppend(ctx, fd, src, target, specs, f, same, sum, start)
	// fd may have been written: a failed Close may have lost data.
	if cerr := fd.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// exportAppend reads the destination in fd, opens the source (unless it
// is the destination), checks the plan and appends the images.
func (a *app) exportAppend(ctx context.Context, fd *os.File, src, target string, specs []string, f exportImageFlags,
	same bool, sum *exportImageSummary, start time.Time) error {
	dr, size, err := readDestination(fd, target)
	if err != nil {
		return err
	}
	h := dr.Header()
	if err := checkExportCodec(f, target, h.Compression); err != nil {
		return err
	}
	r, done := dr, func() {}
	if !same {
		if r, done, err = openWIMSet(src, f.refs, true); err != nil {
			return err
		}
	}
	defer done()
	p, err := f.plan(r, dr, specs)
	if err != nil {
		return err
	}
	opts := append(f.writerOptions(a.now), wim.WithIntegrity(f.check || h.HasIntegrity))
	boot := int(h.BootIndex)
	if p.boot != 0 {
		boot = p.boot
		opts = append(opts, wim.WithBootIndex(boot))
	}
	spec := rewriteSpec{verb: "export-image", images: p.images, infos: p.infos, rebuild: true, opts: opts, start: start}
	n, err := a.appendImages(ctx, fd, dr, r, spec)
	if err != nil {
		return err
	}
	sum.OldBytes = size
	sum.fill(p, dr.ImageCount(), boot, h.Compression, n)
	return nil
}

// readDestination reads the WIM in fd, an existing destination, and
// refuses a part of a split WIM: the images would go into one part. It
// returns the file's size too.
func readDestination(fd *os.File, name string) (*wim.Reader, int64, error) {
	st, err := fd.Stat()
	if err != nil {
		return nil, 0, err
	}
	r, err := wim.NewReader(fd, st.Size())
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	if h := r.Header(); h.Split() {
		return nil, 0, fmt.Errorf("%s: part %d of a %d-part split WIM: export-image adds images to one WIM file, "+
			"and the parts are one WIM; join them first with 'wimsnap optimize --output': %w", name, h.Part, h.Parts, wim.ErrUnsupported)
	}
	return r, st.Size(), nil
}

// checkExportCodec refuses a --compress other than the codec of the
// existing destination, which the append keeps, with a usage error.
func checkExportCodec(f exportImageFlags, name string, c wim.Compression) error {
	if !f.compressSet {
		return nil
	}
	want := f.codec(c)
	if want == c {
		return nil
	}
	return usagef("--compress=%v: %s uses %v compression, which export-image keeps when it adds to a WIM "+
		"(leave out --compress, or rewrite it with optimize --compress first)", want, name, c)
}

// appendImages appends the images spec names, read from r, to the WIM dr
// reads from fd, and syncs fd. A failure puts the file back as it was
// (wim.Writer.Abort). It returns the bytes of the streams copied.
func (a *app) appendImages(ctx context.Context, fd *os.File, dr, r *wim.Reader, spec rewriteSpec) (int64, error) {
	n, err := a.copyShown(ctx, r, spec, fd.Name(), func(opts []wim.WriterOption) (*wim.Writer, error) {
		return wim.NewAppendWriter(fd, dr, opts...)
	})
	if err != nil {
		return 0, err
	}
	return n, fd.Sync()
}

// fill records in sum the images of p, exported after base images of the
// destination, its boot index, codec and the stream bytes copied.
func (sum *exportImageSummary) fill(p exportPlan, base, boot int, comp wim.Compression, streams int64) {
	for k, i := range p.images {
		sum.Exported = append(sum.Exported, exportedImage{SourceIndex: i, Index: base + k + 1, Name: p.infos[k].Name})
	}
	sum.Images, sum.BootIndex, sum.Compression, sum.StreamBytes = base+len(p.images), boot, comp.String(), streams
}
