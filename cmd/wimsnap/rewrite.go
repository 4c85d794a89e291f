package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// rewriteSpec is what rewriteWIM writes.
type rewriteSpec struct {
	verb   string // the command, for errors
	images []int  // the indexes in r of the images to keep, in their new order
	// infos, when not nil, holds the XML fields of each of images (as
	// wim.CopyOptions.Info takes them); nil keeps r's.
	infos []wim.ImageInfo
	// rebuild copies streams as they are stored where the codec stays
	// the same (wim.CopyOptions.Raw) instead of recompressing them all,
	// and keeps the images' modification times: the WIM is rebuilt to
	// delete or rename images, as wimlib rebuilds it.
	rebuild bool
	// keepModified keeps the images' modification times without rebuild:
	// an optimize, which recompresses, changes no image.
	keepModified bool
	// create says that target did not exist: a file another process
	// creates there meanwhile is kept, and the rewrite fails
	// (commitNewTemp).
	create bool
	opts   []wim.WriterOption // the new WIM's options, but for its integrity progress
	// noop, set by an editInPlace plan, says the WIM is already as asked:
	// it is left as it is.
	noop  bool
	start time.Time // when the command began, for the status line
}

// rewriteWIM writes the images spec names, read from r, into a new WIM
// beside target with permissions perm (0: those of a new file), and renames it over target once it
// is complete and synced: an interrupted or failed rewrite leaves target as
// it was, and its temporary file is removed (or, after a kill, swept by the
// next createTemp). Every stream the kept images use is read, checked
// against its SHA-1 and compressed again (with spec.rebuild, only those whose
// codec changes; the others are copied as they are stored); streams no kept
// image uses are dropped. release, called just before the rename where a file must be
// closed first (Windows), lets go of r's file and its lock; *release is
// then replaced by a function that does nothing. It returns the bytes of
// the streams copied.
func (a *app) rewriteWIM(ctx context.Context, r *wim.Reader, target string, perm fs.FileMode, spec rewriteSpec,
	release *func()) (_ int64, err error) {
	tmp, err := createTemp(target)
	if err != nil {
		return 0, err
	}
	out := &snapshot.WritebackFile{File: tmp}
	defer func() {
		if err != nil {
			discardWriteback(out)
		}
	}()
	if perm != 0 {
		if err := tmp.Chmod(perm); err != nil {
			return 0, err
		}
	}
	n, err := a.copyShown(ctx, r, spec, spec.verb, func(opts []wim.WriterOption) (*wim.Writer, error) {
		return wim.NewWriter(out, opts...)
	})
	if err != nil {
		return 0, err
	}
	if renameNeedsClose {
		(*release)()
		*release = func() {}
	}
	commit := commitTemp
	if spec.create {
		commit = commitNewTemp
	}
	if err := commitWriteback(out, target, commit); err != nil {
		return 0, err
	}
	return n, nil
}

// copyShown makes a Writer with open, given spec.opts and the progress of
// its integrity table (an error of open names what), and copies the images
// spec names from r into it (copyImages), shown on the status line; a
// failure to copy aborts the Writer. It returns the bytes of the streams
// copied.
func (a *app) copyShown(ctx context.Context, r *wim.Reader, spec rewriteSpec, what string,
	open func(opts []wim.WriterOption) (*wim.Writer, error)) (int64, error) {
	verb := "recompressing"
	if spec.rebuild {
		verb = "copying"
	}
	tr := &verifyTracker{verb: verb, start: spec.start, now: a.now, total: streamBytes(r, spec.images)}
	it := newIntegrityTracker(tr, a.now)
	w, err := open(append(slices.Clip(spec.opts), wim.WithIntegrityProgress(it.update)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	status := a.newStatus()
	status.start(it.render)
	err = copyImages(ctx, w, r, spec, tr)
	status.finish()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", spec.verb, errors.Join(err, w.Abort()))
	}
	return tr.bytes(), nil
}

// copyImages copies the images spec names from r into w, in order, and
// closes w; a cancelled ctx stops it within one read. The progress ends at
// the bytes copied, also its total.
func copyImages(ctx context.Context, w *wim.Writer, r *wim.Reader, spec rewriteSpec, tr *verifyTracker) error {
	var done int64
	progress := func(n int64) {
		done += n
		tr.update(done, max(tr.total, done))
	}
	for k, i := range spec.images {
		opts := wim.CopyOptions{Raw: spec.rebuild, KeepModified: spec.rebuild || spec.keepModified, Progress: progress}
		if spec.infos != nil {
			opts.Info = &spec.infos[k]
		}
		if err := wim.CopyImageWith(ctx, w, r, i, opts); err != nil {
			return err
		}
	}
	// The total counted every file's streams; a stream several files or
	// images share is copied once, so the copy ends short of it (94%).
	tr.update(done, done)
	return w.CloseContext(ctx)
}

// openInPlace opens WIMFILE for a command (verb) that rewrites it in
// place, holding lockWIM's lock until it is released; a part of a split
// WIM is refused, for the parts are one WIM.
func openInPlace(name, verb string) (*wim.Reader, func(), error) {
	src, r, err := openWIMLocked(name)
	if err != nil {
		return nil, nil, err
	}
	if h := r.Header(); h.Split() {
		closeRead(src)
		return nil, nil, fmt.Errorf("%s: part %d of a %d-part split WIM: %s rewrites a WIM file in place, "+
			"and the parts are one WIM; join them first with 'wimsnap optimize --output': %w", name, h.Part, h.Parts, verb, wim.ErrUnsupported)
	}
	return r, func() { closeRead(src) }, nil
}
