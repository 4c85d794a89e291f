package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// imageSet is the part of *wim.Reader that image selection needs.
type imageSet interface {
	ImageCount() int
	Image(i int) wim.ImageInfo
}

// selectImage resolves IMAGE: a 1-based index, or an image name; "" picks
// the only image of a one-image WIM. An IMAGE that names no image of the
// WIM is a usage error (exit 2) wrapping wim.ErrNoImage, as is an omitted
// one when the WIM holds none; an omitted one when the WIM holds several,
// and a name that several images have (wimlib reads such a WIM, and picks
// the first), are usage errors too, which ask for an index.
func selectImage(r imageSet, spec string) (int, error) {
	n := r.ImageCount()
	if spec == "" {
		switch n {
		case 1:
			return 1, nil
		case 0:
			return 0, usagef("the WIM holds no image: %w", wim.ErrNoImage)
		}
		return 0, usagef("the WIM holds %d images: name one with IMAGE (an index or a name)", n)
	}
	if i, err := strconv.Atoi(spec); err == nil && isDigits(spec) {
		if i < 1 || i > n {
			return 0, usagef("image %d: %w (the WIM holds %d)", i, wim.ErrNoImage, n)
		}
		return i, nil
	}
	var named []int
	for i := 1; i <= n; i++ {
		if r.Image(i).Name == spec {
			named = append(named, i)
		}
	}
	switch len(named) {
	case 0:
		return 0, usagef("image %q: %w (no image has that name)", spec, wim.ErrNoImage)
	case 1:
		return named[0], nil
	}
	return 0, usagef("image %q: images %s have that name: name one by its index", spec, joinInts(named))
}

// joinInts formats ns as "1, 2 and 3".
func joinInts(ns []int) string {
	s := strconv.Itoa(ns[0])
	for i, n := range ns[1:] {
		sep := ", "
		if i == len(ns)-2 {
			sep = " and "
		}
		s += sep + strconv.Itoa(n)
	}
	return s
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// refuseSpecial refuses a WIM path that names a FIFO, device or socket,
// before it is opened: opening a FIFO would wait for a writer, beyond the
// reach of SIGINT. (A directory is left to the open's own error.)
func refuseSpecial(name string) error {
	if st, err := os.Stat(name); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		return fmt.Errorf("%s: not a regular file", name)
	}
	return nil
}

// refuseStdin refuses "-" when no file has that name: wimlib-imagex reads
// a pipable WIM from standard input there, which wimsnap does not.
func refuseStdin(name string) error {
	if _, err := os.Lstat(name); name == "-" && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: reading a WIM from standard input (\"-\"); save it to a file and name that", wim.ErrUnsupported)
	}
	return nil
}

// openWIM opens and parses the WIM at name. The caller closes the file.
func openWIM(name string) (*os.File, *wim.Reader, error) {
	if err := refuseStdin(name); err != nil {
		return nil, nil, err
	}
	if err := refuseSpecial(name); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return readWIM(f, name)
}

// readWIM reads the WIM file f, opened as name, and closes f on failure.
func readWIM(f *os.File, name string) (*os.File, *wim.Reader, error) {
	st, err := f.Stat()
	switch {
	case err != nil:
	case st.IsDir():
		err = fmt.Errorf("%s: is a directory", name)
	case !st.Mode().IsRegular():
		err = fmt.Errorf("%s: not a regular file", name)
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	r, err := wim.NewReader(f, st.Size())
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, r, nil
}

// closeRead closes f, a file that was only read: closing it loses no data,
// so there is no error to act on. A file written is closed and checked.
func closeRead(f *os.File) { _ = f.Close() }

// splitApplyArgs splits "WIMFILE [IMAGE] TARGET".
func splitApplyArgs(args []string) (wimfile, image, target string) {
	if len(args) == 3 {
		return args[0], args[1], args[2]
	}
	return args[0], "", args[1]
}

const applyHelp = `
Apply image IMAGE of WIMFILE to the directory TARGET, which is created if
missing. IMAGE is a 1-based index or an image name; it may be left out when
the WIM holds one image.

UNIX data (owners, modes, device numbers, xattrs) is applied when the image
carries it and the process may set it; --no-unix-data skips it. Nothing is
written outside TARGET, and symlinks inside it are not followed.

When TARGET is on an NTFS volume mounted with ntfs-3g (or with --ntfs), the
Windows metadata is written instead: security descriptors, attributes,
times, DOS names, named streams (up to 64 KiB each) and reparse points.

Into a TARGET that already holds files (an earlier apply), files that match
the image (size, times, mode, owner, xattrs) are left alone and the others
are written beside and renamed over, so that each old file stays whole until
its replacement is; entries the image lacks are kept, and so are xattrs the
image lacks on directories and unchanged files (a repository's restore
--delete removes both). On Linux, such an apply that changed the tree
flushes it to disk before it reports success, as restore does.

Files that cannot be written are reported as warnings and skipped; the run
then exits with code 3. A file whose data in the WIM is damaged or missing
is reported and skipped too, with all its names, and no empty file is left
in its place; the run then exits with code 1, as 'wimsnap verify' does. A full disk stops the apply (exit 1), as an
interrupt does: the files it had created but not yet written are removed,
so that every file left holds the image's data, and running the same apply
again, once there is space, writes the rest.

WIMFILE may be any part of a split WIM (the .swm files of DISM's
/Split-Image or wimlib-imagex split, as install media on FAT32 carry). The
other parts are found beside it by their names (install.swm, install2.swm,
install3.swm, ...), or given with --ref; every part must be there.

WIMFILE may be a delta WIM (wimlib-imagex capture or append with
--delta-from), which holds only the streams its base WIMs lack: name those
with --ref, as for wimlib-imagex apply --ref.

With --json, stdout receives one document:
  {"wim", "image", "name", "target", "dirs", "files", "symlinks",
   "special", "bytes", "skipped", "warnings": [{"path", "error"}],
   "warnings_total", "duration_seconds"}`

// ntfsFlags are --ntfs and --no-ntfs.
type ntfsFlags struct{ on, off bool }

// addNTFSFlags adds --ntfs and --no-ntfs with the given help texts.
func addNTFSFlags(cmd *cobra.Command, f *ntfsFlags, onHelp, offHelp string) {
	cmd.Flags().BoolVar(&f.on, "ntfs", false, onHelp)
	cmd.Flags().BoolVar(&f.off, "no-ntfs", false, offHelp)
	cmd.MarkFlagsMutuallyExclusive("ntfs", "no-ntfs")
}

// Help texts of apply's and extract's NTFS flags.
const (
	applyNTFSHelp   = "write Windows metadata through ntfs-3g (default: when the target is on an ntfs-3g mount and the image holds no UNIX data)"
	applyNoNTFSHelp = "apply to an ntfs-3g mount like to any file system"
)

func (f ntfsFlags) mode() snapshot.NTFSMode {
	switch {
	case f.on:
		return snapshot.NTFSOn
	case f.off:
		return snapshot.NTFSOff
	}
	return snapshot.NTFSAuto
}

func (a *app) newApplyCommand() *cobra.Command {
	var noUnix bool
	var nf ntfsFlags
	var refs []string
	cmd := &cobra.Command{
		Use: "apply WIMFILE [IMAGE] TARGET",
		Example: `  wimsnap apply install.wim 1 /mnt/target
  wimsnap apply install.wim "Windows 11 lab" /mnt/c --no-ntfs`,
		Short: "Apply an image to a directory",
		Long:  longWIM(applyHelp),
		Args:  argsBetween(2, 3),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			wimfile, image, target := splitApplyArgs(args)
			if target == "" {
				return usagef("apply: TARGET is empty")
			}
			return a.runApply(ctx, applySpec{wimfile: wimfile, image: image, target: target, noUnixData: noUnix, ntfs: nf.mode(), refs: refs})
		}),
	}
	cmd.Flags().BoolVar(&noUnix, "no-unix-data", false, "do not apply UNIX owners, modes, device numbers and xattrs")
	addNTFSFlags(cmd, &nf, applyNTFSHelp, applyNoNTFSHelp)
	addRefFlag(cmd, &refs)
	return cmd
}

const extractHelp = `
Extract the files and directories PATH... of image IMAGE of WIMFILE into
--dest-dir (default: the current directory). Each PATH is a path in the image
from its root, "/"-separated, as "wimsnap dir" prints it ("/back\slash" is a
name that holds a "\"; where the image has no such name, "\" separates too:
"\Windows\System32"); a directory is extracted with everything under it, and
each PATH lands in DIR under its base name.

Flags, warnings and the --json document are those of apply; the document
also lists the PATHs extracted, as "paths".`

func (a *app) newExtractCommand() *cobra.Command {
	var noUnix bool
	var dest string
	var nf ntfsFlags
	var refs []string
	cmd := &cobra.Command{
		Use:   "extract WIMFILE IMAGE PATH... [--dest-dir=DIR]",
		Short: "Extract files from an image",
		Long:  longWIM(extractHelp),
		Args:  argsBetween(3, -1),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			if dest == "" {
				return usagef("extract: --dest-dir is empty (leave it out for the current directory)")
			}
			return a.runApply(ctx, applySpec{
				wimfile: args[0], image: args[1], target: dest,
				paths: imagePaths(args[2:]), noUnixData: noUnix, ntfs: nf.mode(), refs: refs,
			})
		}),
	}
	cmd.Flags().BoolVar(&noUnix, "no-unix-data", false, "do not apply UNIX owners, modes, device numbers and xattrs")
	cmd.Flags().StringVar(&dest, "dest-dir", ".", "directory to extract into (created if missing)")
	addNTFSFlags(cmd, &nf, applyNTFSHelp, applyNoNTFSHelp)
	addRefFlag(cmd, &refs)
	return cmd
}

// imagePaths normalises PATH arguments to "/"-rooted, cleaned image paths,
// keeping a '\', which snapshot.ApplyOptions.Paths reads as part of a name
// where the image has one, else as a separator. A path as dir prints one
// it must escape ("/tab\tname" in quotes) is unquoted.
func imagePaths(args []string) []string {
	out := make([]string, len(args))
	for i, p := range args {
		if q, err := strconv.Unquote(p); err == nil && strings.HasPrefix(p, `"`) && strings.HasPrefix(q, "/") {
			p = q
		}
		out[i] = literalPath(p)
	}
	return out
}

// applySpec is a resolved apply or extract.
type applySpec struct {
	wimfile, image, target string
	paths                  []string // nil: the whole image
	noUnixData             bool
	ntfs                   snapshot.NTFSMode
	refs                   []string // --ref: the other parts of a split WIM
}

// applySummary is the --json document of apply and extract.
type applySummary struct {
	WIM             string    `json:"wim"`
	Image           int       `json:"image"`
	Name            string    `json:"name"`
	Target          string    `json:"target"`
	Paths           []string  `json:"paths,omitempty"`
	Dirs            int64     `json:"dirs"`
	Files           int64     `json:"files"`
	Symlinks        int64     `json:"symlinks"`
	Special         int64     `json:"special"`
	Bytes           int64     `json:"bytes"`
	Skipped         int64     `json:"skipped"`
	Warnings        []warning `json:"warnings"`
	WarningsTotal   int64     `json:"warnings_total"`
	DurationSeconds float64   `json:"duration_seconds"`
}

func (a *app) runApply(ctx context.Context, spec applySpec) error {
	start := a.now()
	streamingGC()
	r, done, err := openWIMSet(spec.wimfile, spec.refs, true)
	if err != nil {
		return err
	}
	defer done()
	idx, err := selectImage(r, spec.image)
	if err != nil {
		return err
	}
	m, err := r.Metadata(idx)
	if err != nil {
		return fmt.Errorf("%s: %w", spec.wimfile, err) // err names the image
	}
	stats, warns, total, dmg, err := a.applyTree(ctx, m, r, spec)
	if err != nil {
		return err
	}
	sum := applySummary{
		WIM: spec.wimfile, Image: idx, Name: r.Image(idx).Name, Target: spec.target, Paths: spec.paths,
		Dirs: stats.Dirs, Files: stats.Files, Symlinks: stats.Symlinks, Special: stats.Special,
		Bytes: stats.Bytes, Skipped: stats.Skipped, Warnings: warns, WarningsTotal: total,
		DurationSeconds: seconds(a.now().Sub(start)),
	}
	if err := a.printApply(sum); err != nil {
		return err
	}
	if dmg.files > 0 {
		// A damaged WIM is a failure (exit 1), as verify reports it, not
		// a partial apply.
		return dmg.err(spec.wimfile, r.Header().Split())
	}
	return partial(stats.Skipped)
}

// errDropped is the warning about entries the image's metadata names but
// ParseMetadata left out.
func errDropped(n int) error { return snapshot.DroppedError(n) }

// applyTree runs snapshot.Apply with the status line and warnings, and
// counts the files the WIM's damage left out.
func (a *app) applyTree(ctx context.Context, m *wim.Metadata, r *wim.Reader, spec applySpec) (stats snapshot.ApplyStats, list []warning, total int64, dmg applyDamage, err error) {
	status := a.newStatus()
	warn := a.newWarnings(status)
	tr := newTracker("applying", a.now)
	status.start(tr.render)
	if m.Dropped > 0 {
		warn.warn(spec.wimfile, errDropped(m.Dropped))
	}
	stats, err = snapshot.Apply(ctx, m, r, spec.target, snapshot.ApplyOptions{
		// Over an earlier tree, replace files whole, never remove one
		// before its new data is written; into an empty or new TARGET
		// Apply skips the in-place checks itself (emptyDir of its root).
		InPlace:    spec.paths == nil,
		KeepXattrs: true,
		NoUnixData: spec.noUnixData,
		NTFS:       spec.ntfs,
		Paths:      spec.paths,
		Progress:   tr.update,
		Warn: func(path string, err error) {
			dmg.add(err) // Apply serialises Warn calls
			warn.warn(path, err)
		},
	})
	status.finish()
	if spec.paths == nil {
		stats.Skipped += int64(m.Dropped) // left out, as a restore counts them
	}
	list, total = warn.summary()
	return stats, list, total, dmg, err
}

func (a *app) printApply(s applySummary) error {
	if a.json {
		return writeJSON(a.stdout, s)
	}
	verb := "Applied"
	if s.Paths != nil {
		verb = "Extracted from" // extract: only the paths it names
	}
	_, err := fmt.Fprintf(a.stdout,
		"%s image %d (%q) of %s to %s: %d dirs, %d files, %d symlinks, %d special, %s, %.1fs\n",
		verb, s.Image, s.Name, printable(s.WIM), printable(s.Target), s.Dirs, s.Files, s.Symlinks, s.Special,
		formatBytes(s.Bytes), s.DurationSeconds)
	return err
}
