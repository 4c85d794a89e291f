package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wimsnap/wimsnap/wim"
)

// editInPlace rewrites the WIM file name where it is (rewriteWIM, copying
// the streams as they are stored where it can), holding
// lockWIM's lock from before it is read until the new file replaces it.
// plan, given the WIM as it is, says what the new one holds; an error of
// plan, or a plan whose noop is set (then nothing is written, and the
// file need not be writable), leaves the file untouched. Refused, as
// wimlib refuses them: a part of a split WIM, and, unless plan is a noop,
// a file this user may not write (a rename over it would pass its
// protection by) and a WIM its header marks read-only. It returns the
// file's size before.
func (a *app) editInPlace(ctx context.Context, name string, spec rewriteSpec,
	plan func(r *wim.Reader) (rewriteSpec, error)) (int64, error) {
	target, err := outputPath(name)
	if err != nil {
		return 0, err
	}
	r, done, err := openInPlace(name, spec.verb) // refuses a device or pipe before checkWritable opens it
	if err != nil {
		return 0, err
	}
	defer func() { done() }()
	st, err := os.Stat(name) // under the lock: the file r reads
	if err != nil {
		return 0, err
	}
	p, err := plan(r)
	if err != nil || p.noop {
		return st.Size(), err
	}
	if err := checkWritable(name); err != nil {
		return 0, err
	}
	if r.Header().ReadOnly() {
		return 0, fmt.Errorf("%s: %w: the WIM is marked read-only", name, wim.ErrUnsupported)
	}
	spec.images, spec.infos, spec.opts, spec.rebuild = p.images, p.infos, p.opts, true
	_, err = a.rewriteWIM(ctx, r, target, st.Mode().Perm(), spec, &done)
	return st.Size(), inPlaceDeltaHint(err, spec.verb, name)
}

// inPlaceDeltaHint adds to err, when it is a stream missing from the WIM
// name that verb rewrites in place (and so cannot take --ref), how to
// rewrite a delta WIM.
func inPlaceDeltaHint(err error, verb, name string) error {
	if !errors.Is(err, wim.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w (if it is a delta WIM, written with --delta-from, it lacks the streams of the WIMs it was "+
		"made against, and %s rewrites it whole: join it with them first, 'wimsnap optimize %s --output=NEW --ref=BASE')",
		err, verb, name)
}

// checkWritable fails when this user may not write the file name (it is
// opened for writing, and closed at once; nothing is written).
func checkWritable(name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// editOptions returns the options of a WIM that replaces r with images
// (r's indexes, in their new order): r's codec and chunk size, the boot
// index following its image, and an integrity table when r has one or
// check is set, and r's GUID and RP_FIX flag, as wimlib keeps them. A WIM
// of no images may be written, as wimlib leaves one.
func editOptions(r *wim.Reader, images []int, check bool, now func() time.Time) []wim.WriterOption {
	h := r.Header()
	return []wim.WriterOption{wim.WithCompression(h.Compression), wim.WithChunkSizeOf(h, h.Compression), wim.WithNow(now),
		wim.WithEmpty(true), wim.WithGUID(h.GUID), wim.WithBootIndex(newBootIndex(int(h.BootIndex), images)),
		wim.WithIntegrity(check || h.HasIntegrity), wim.WithRPFix(h.RPFix())}
}
