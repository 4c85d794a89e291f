package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

const appendHelp = `
Capture the directory tree SOURCE as a new image at the end of the existing
WIM file WIMFILE. Streams already in the WIM are stored once. The new image's
name must differ from every other image's. The WIM's codec is kept; a
different --compress is an error. An integrity table is kept when the WIM has
one and added with --check.

With --update-of=IMAGE (an index or a name), files whose size and times match
the same path in that image reuse its streams without being read.

If the append fails before the WIM is finished, the file is cut back to its
old length. Exit codes, variables and the --json document are those of
capture.`

func (a *app) newAppendCommand() *cobra.Command {
	f := &imageFlags{}
	cmd := &cobra.Command{
		Use:   "append SOURCE WIMFILE",
		Short: "Capture a directory tree as a new image of an existing WIM file",
		Long:  long(appendHelp),
		Args:  argsBetween(0, 2),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			spec, err := a.captureSpec(cmd, f, args)
			if err != nil {
				return err
			}
			return a.runAppend(ctx, spec)
		}),
	}
	addImageFlags(cmd, f)
	cmd.Flags().StringVar(&f.updateOf, "update-of", "", "reuse the unchanged files' streams of this image (index or name)")
	return cmd
}

// runAppend adds an image to an existing WIM in place. A failure before the
// WIM is closed restores the file: its old length and its old header.
func (a *app) runAppend(ctx context.Context, spec *captureSpec) (err error) {
	start := a.now()
	if err := checkSource(spec.source); err != nil {
		return err
	}
	cfg, err := loadCaptureConfig(spec.config, spec.source, spec.wimfile)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(spec.wimfile, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	old, saved, err := readForAppend(f, spec)
	if err != nil {
		return err
	}
	hdr := old.Header()
	w, r, err := wim.OpenAppend(f, spec.writerOptions(a.now, true, hdr.HasIntegrity)...)
	if err != nil {
		return saved.restore(f, fmt.Errorf("%s: %w", spec.wimfile, err))
	}
	res, err := a.appendImage(ctx, w, r, spec, cfg)
	if err != nil {
		if !res.closing {
			return saved.restore(f, err)
		}
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return a.finishCapture(spec, res, old.ImageCount()+1, hdr.Compression, start)
}

// appendImage loads the --update-of image and captures into w.
func (a *app) appendImage(ctx context.Context, w *wim.Writer, r *wim.Reader, spec *captureSpec, cfg *snapshot.Config) (captureResult, error) {
	update, err := updateBase(r, spec.updateOf)
	if err != nil {
		return captureResult{}, err
	}
	return a.captureInto(ctx, w, spec, cfg, update)
}

// readForAppend parses the WIM in f, checks that the new image's name is
// free, and saves what an append may change.
func readForAppend(f *os.File, spec *captureSpec) (*wim.Reader, savedState, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, savedState{}, err
	}
	old, err := wim.NewReader(f, st.Size())
	if err != nil {
		return nil, savedState{}, fmt.Errorf("%s: %w", spec.wimfile, err)
	}
	if err := checkNewName(old, spec.info.Name); err != nil {
		return nil, savedState{}, err
	}
	saved := savedState{size: st.Size(), header: make([]byte, min(st.Size(), wimHeaderSize))}
	if _, err := f.ReadAt(saved.header, 0); err != nil {
		return nil, savedState{}, err
	}
	return old, saved, nil
}

// wimHeaderSize is the size of the WIM header, the one part of the old
// file that an append rewrites before it is finished.
const wimHeaderSize = 208

// savedState is a WIM's length and header before an append.
type savedState struct {
	size   int64
	header []byte
}

// restore puts the file back as it was after the append failed with
// cause (an append writes only past the old end, and the header) and
// returns cause, joined with the restore's own error if that failed too.
func (s savedState) restore(f *os.File, cause error) error {
	err := f.Truncate(s.size)
	if err == nil {
		_, err = f.WriteAt(s.header, 0)
	}
	if err != nil {
		return fmt.Errorf("%w; restoring the WIM failed too, it may be damaged: %v", cause, err)
	}
	return cause
}

// checkNewName fails when an image of r is already called name.
func checkNewName(r imageSet, name string) error {
	for i := 1; i <= r.ImageCount(); i++ {
		if r.Image(i).Name == name {
			return fmt.Errorf("image name %q is already used by image %d (choose another with --name)", name, i)
		}
	}
	return nil
}

// updateBase loads the metadata of the image --update-of names, or returns
// nil without it.
func updateBase(r *wim.Reader, spec string) (*wim.Metadata, error) {
	if spec == "" {
		return nil, nil
	}
	i, err := selectImage(r, spec)
	if err != nil {
		return nil, fmt.Errorf("--update-of: %w", err)
	}
	m, err := r.Metadata(i)
	if err != nil {
		return nil, fmt.Errorf("--update-of: image %d: %w", i, err)
	}
	return m, nil
}
