package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

const appendHelp = `
Capture the directory tree SOURCE as a new image at the end of the existing
WIM file WIMFILE. Streams already in the WIM are stored once. The new image's
name must differ from every other image's: a --name another image has is a
usage error (exit 2), and a default name that is taken gets a suffix " (N)".
The WIM's codec is kept; a different --compress is a usage error too. An
integrity table is kept when the WIM has one and added with --check.

` + compressHelp + ` The level applies to the new image's data.

With --update-of=IMAGE (an index or a name), files whose size and times match
the same path in that image reuse its streams without being read.

If the append fails before the WIM is finished, the file is cut back to its
old length. A WIM that another process is writing (an append, by wimsnap
or wimlib-imagex, or an optimize) is refused with exit code 1: append holds
the lock wimlib-imagex takes (flock) while it writes. Exit codes, variables,
exclusions (--config) and the --json document are those of capture.`

func (a *app) newAppendCommand() *cobra.Command {
	f := &imageFlags{}
	cmd := &cobra.Command{
		Use: "append SOURCE WIMFILE",
		Example: `  wimsnap append /srv/data backup.wim --name=tuesday
  wimsnap append /srv/data backup.wim --update-of=1   # unchanged files are not read`,
		Short: "Capture a directory tree as a new image of an existing WIM file",
		Long:  longWIM(appendHelp),
		Args:  captureArgs,
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			spec, err := a.captureSpec(cmd, f, args)
			if err != nil {
				return err
			}
			return a.runAppend(ctx, spec)
		}),
	}
	addImageFlags(cmd, f)
	// The WIM's own codec is the default and the only choice.
	comp := cmd.Flags().Lookup("compress")
	comp.DefValue, comp.Usage = "", "codec[:level]; default: the WIM's own, which is the only codec accepted (see --help)"
	cmd.Flags().StringVar(&f.updateOf, "update-of", "", "reuse the unchanged files' streams of this image (index or name)")
	return cmd
}

// runAppend adds an image to an existing WIM in place, holding lockWIM's
// lock. A failure puts the file back as it was (wim.Writer.Abort).
func (a *app) runAppend(ctx context.Context, spec *captureSpec) (err error) {
	start := a.now()
	if err := checkSource(spec.source); err != nil {
		return err
	}
	cfg, err := a.loadConfig(spec.config)
	if err != nil {
		return err
	}
	if err := refuseSpecial(spec.wimfile); err != nil {
		return err
	}
	f, err := os.OpenFile(spec.wimfile, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := lockWIM(f, spec.wimfile); err != nil {
		closeRead(f) // nothing written yet
		return err
	}
	sweepTemps(spec.wimfile) // a killed rewrite's, as createTemp would
	hdr, res, err := a.appendTo(ctx, f, spec, cfg)
	// f was written: a failed Close may have lost data.
	if cerr := f.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return err
	}
	return a.finishCapture(spec, res, int(hdr.ImageCount)+1, hdr.Compression, start)
}

// appendTo appends the new image to the WIM open in f and syncs f. It
// returns the WIM's header as it was before.
func (a *app) appendTo(ctx context.Context, f *os.File, spec *captureSpec, cfg *snapshot.Config) (wim.Header, captureResult, error) {
	r, err := readForAppend(f, spec)
	if err != nil {
		return wim.Header{}, captureResult{}, err
	}
	hdr := r.Header()
	if err := checkAppendCodec(spec, hdr.Compression); err != nil {
		return hdr, captureResult{}, err
	}
	st := newCaptureStatus(a.now)
	w, err := wim.NewAppendWriter(f, r, spec.writerOptions(a.now, true, hdr.HasIntegrity, r.ImageCount()+1, st)...)
	if err != nil {
		return hdr, captureResult{}, fmt.Errorf("%s: %w", spec.wimfile, err)
	}
	res, err := a.appendImage(ctx, w, r, spec, cfg, st)
	if err != nil {
		return hdr, res, err
	}
	return hdr, res, f.Sync()
}

// checkAppendCodec refuses a --compress other than the codec of the WIM,
// which append keeps, with a usage error (exit 2).
func checkAppendCodec(spec *captureSpec, c wim.Compression) error {
	if !spec.compressSet || spec.compress == c {
		return nil
	}
	return usagef("--compress=%v: %s uses %v compression, which append keeps (leave out --compress, or rewrite the WIM with optimize --compress first)",
		spec.compress, spec.wimfile, c)
}

// appendImage captures into w, shown on st, with the --update-of image as
// the base: it is read while the scan of the tree begins.
func (a *app) appendImage(ctx context.Context, w *wim.Writer, r *wim.Reader, spec *captureSpec, cfg *snapshot.Config,
	st *captureStatus) (captureResult, error) {
	prepare, err := updateBase(r, spec.updateOf)
	if err != nil {
		return captureResult{}, errors.Join(err, w.Abort())
	}
	return a.captureInto(ctx, w, spec, cfg, st, prepare, append(tempsOf(spec.wimfile), spec.wimfile))
}

// readForAppend reads the WIM in f as it is and checks that the new
// image's name is free. A default name that is taken gets a suffix " (N)",
// as wimlib-imagex does; a name given with --name must be free.
func readForAppend(f *os.File, spec *captureSpec) (*wim.Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	old, err := wim.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.wimfile, err)
	}
	if !spec.nameSet {
		spec.info.Name = uniqueName(old, spec.info.Name)
	}
	return old, checkNewName(old, spec.info.Name)
}

// uniqueName returns name, or name with the smallest suffix " (N)" that no
// image of r uses.
func uniqueName(r imageSet, name string) string {
	for n, cand := 1, name; ; n++ {
		if checkNewName(r, cand) == nil {
			return cand
		}
		cand = fmt.Sprintf("%s (%d)", name, n)
	}
}

// checkNewName fails when an image of r is already called name, with a
// usage error (exit 2): the name is the caller's to change, as an IMAGE
// the WIM does not hold is. An empty name is never taken: several images
// may have none, as wimlib (and wim.Writer) allow.
func checkNewName(r imageSet, name string) error {
	if name == "" {
		return nil
	}
	for i := 1; i <= r.ImageCount(); i++ {
		if r.Image(i).Name == name {
			return usagef("image name %q is already used by image %d (choose another with --name)", name, i)
		}
	}
	return nil
}

// updateBase checks the image --update-of names and returns the
// CaptureOptions.Prepare that loads its metadata as the capture's Update,
// or nil without --update-of.
func updateBase(r *wim.Reader, spec string) (func(*snapshot.CaptureOptions) error, error) {
	if spec == "" {
		return nil, nil
	}
	i, err := selectImage(r, spec)
	if err != nil {
		return nil, fmt.Errorf("--update-of: %w", err)
	}
	return func(o *snapshot.CaptureOptions) error {
		m, err := r.Metadata(i)
		if err != nil {
			return fmt.Errorf("--update-of: %w", err) // err names the image
		}
		o.Update = m
		return nil
	}, nil
}
