package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// imageFlags are the flags of capture and append.
type imageFlags struct {
	compress    string
	boot        bool
	name        string
	description string
	displayName string
	flags       string
	creator     string
	version     string
	threads     int
	config      string
	check       bool
	noUnixData  bool
	crossMounts bool
	systemRoot  string
	ntfs        ntfsFlags
	shadowCopy  bool
	updateOf    string   // append only
	props       []string // --image-property, capture and append only
}

func addImageFlags(cmd *cobra.Command, f *imageFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.compress, "compress", "xpress", "codec[:level]: none, xpress (or fast), lzx (or maximum, max), lzms (or recovery;\n"+
		"128 KiB chunks), e.g. xpress:20 (see --help)")
	fl.BoolVar(&f.check, "check", false, "write an integrity table")
	fl.BoolVar(&f.boot, "boot", false, "mark the new image as the WIM's boot image (the header's boot index)")
	addImagePropertyFlag(cmd, &f.props)
	addImageInfoFlags(cmd, f)
}

// addImageInfoFlags adds the flags capture, append and snapshot share: the
// image's XML fields and how the tree is walked.
func addImageInfoFlags(cmd *cobra.Command, f *imageFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "image name (default: the base name of SOURCE); must be unique in the WIM")
	fl.StringVar(&f.description, "description", "", "image description (default: $"+envImageDescription+")")
	fl.StringVar(&f.displayName, "display-name", "", "image display name")
	fl.StringVar(&f.flags, "flags", "", "image FLAGS element, e.g. Professional")
	fl.StringVar(&f.creator, "creator", "", "image creator (default: $"+envImageCreator+")")
	fl.StringVar(&f.version, "version", "", "image version (default: $"+envImageVersion+")")
	fl.IntVar(&f.threads, "threads", 0, "compression threads (default: number of CPUs)")
	fl.Var((*nonEmpty)(&f.config), "config", "WimScript.ini of exclusions and compression exclusions (default: DISM's default exclusions\n"+
		"and ConfigMgr's working files, listed in 'wimsnap capture --help')")
	fl.BoolVar(&f.noUnixData, "no-unix-data", false, "leave out UNIX owners, modes, device numbers and xattrs")
	fl.BoolVar(&f.crossMounts, "cross-mounts", false, "descend into other file systems and bind mounts under SOURCE")
	addNTFSFlags(cmd, &f.ntfs, "read Windows metadata through ntfs-3g (security descriptors, attributes, short\n"+
		"names, named streams, reparse points); default: when SOURCE is on an ntfs-3g mount",
		"capture an ntfs-3g mount like any file system, with UNIX data")
	fl.BoolVar(&f.shadowCopy, "shadow-copy", false, "Windows: capture a volume shadow copy of SOURCE's volume, made for the run\n"+
		"(files in use are captured as of one moment)")
	fl.StringVar(&f.systemRoot, "system-root", "", "the top directory whose registry and kernel32.dll fill the image's WINDOWS\n"+
		"information when several hold a Windows system (default: the last component of\n"+
		"$"+envTargetSystemRoot+", else the one with most of them, \"Windows\" on a tie)")
}

// systemRootName is the Windows directory to prefer: --system-root, else
// the last component of OSDTargetSystemRoot (such as C:\Windows).
func systemRootName(f *imageFlags, env osdVars) string {
	if f.systemRoot != "" {
		return f.systemRoot
	}
	p := strings.TrimRight(env.SystemRoot, `/\`)
	return p[strings.LastIndexAny(p, `/\`)+1:]
}

const captureHelp = `
Capture the directory tree SOURCE as image 1 of a new WIM file WIMFILE.
An existing WIMFILE is replaced, but only once the new one is complete: on
failure or interrupt nothing is left behind.

Files that cannot be read are reported as warnings and skipped; the run
then exits with code 3. Running out of file descriptors ends the run
instead (exit 1; raise ulimit -n). Times are kept to the 100 ns a WIM
holds; one it cannot hold (before 1601, as tmpfs may keep) is stored as
the nearest it can, with a warning.

` + compressHelp + `

SOURCE on an NTFS volume mounted with ntfs-3g is captured with its Windows
metadata (security descriptors, attributes, times, short names, named
streams, reparse points) instead of UNIX data. A tree that holds a Windows
system root gets the image's WINDOWS information (product, edition,
version, languages...) from its own registry hives, as DISM writes it.

Without --config, DISM's default exclusions are left out, each relative to
SOURCE: \$ntfs.log, \hiberfil.sys, \pagefile.sys, \swapfile.sys,
\System Volume Information, \RECYCLER, \$Recycle.Bin and \Windows\CSC, and
so are a ConfigMgr task sequence's working files, \_SMSTaskSequence and
\_SMSTSVolumeID.*. An empty file (--config=/dev/null) leaves out nothing.
` + configHelp + `

--image-property NAME=VALUE, which may be repeated, sets any element of the
new image's XML information, over what the flags above and the WINDOWS
information found put there:
` + imagePropertyHelp + `

ConfigMgr task sequence variables stand in for what the line omits:
  OSDCaptureDestination      WIMFILE (then "capture SOURCE" is enough)
  OSDTargetSystemRoot        SOURCE (when no SOURCE is given): the volume
                             that holds this Windows directory (C:\Windows
                             captures C:\), or the directory itself when it
                             holds no System32
  OSDImageDescription        --description
  OSDImageCreator            --creator
  OSDImageVersion            --version
  OSDCaptureAccount,
  OSDCaptureAccountPassword  credentials for a remote destination (unused
                             for local paths; never printed)

With --json, stdout receives one document:
  {"wim", "image", "name", "source", "compression", "dirs", "files",
   "symlinks", "special", "bytes", "bytes_read", "reused", "skipped",
   "warnings": [{"path", "error"}], "warnings_total", "duration_seconds",
   "compressed_bytes"}
"warnings" holds at most 1000 entries; "warnings_total" counts them all.`

// configHelp explains --config for capture, append and snapshot.
const configHelp = `--config reads a WimScript.ini as DISM and wimlib-imagex do, in UTF-8 or
UTF-16LE (as Notepad saves it); ';' and '#' start comments:
  [ExclusionList]             paths left out (a directory with its contents)
  [ExclusionException]        paths kept although an exclusion matches them
  [CompressionExclusionList]  files stored uncompressed in a WIM, as DISM
                              stores them (wimlib-imagex compresses them; a
                              snapshot's chunks keep the repository's codec)
A path starting with \ or / is relative to SOURCE ("C:" before it is
ignored); one without matches a name (or the last names) at any depth. '*'
and '?' match within a name; names compare case-insensitively, as on
Windows.`

func (a *app) newCaptureCommand() *cobra.Command {
	f := &imageFlags{}
	cmd := &cobra.Command{
		Use: "capture SOURCE WIMFILE",
		Example: `  wimsnap capture /mnt/c install.wim --compress=xpress --name="Windows 11 lab"
  wimsnap capture / root.wim --config=WimScript.ini --check`,
		Short: "Capture a directory tree into a new WIM file",
		Long:  longWIM(captureHelp),
		Args:  captureArgs,
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			spec, err := a.captureSpec(cmd, f, args)
			if err != nil {
				return err
			}
			return a.runCapture(ctx, spec)
		}),
	}
	addImageFlags(cmd, f)
	return cmd
}

// captureArgs takes capture's and append's SOURCE and WIMFILE. A third and
// fourth argument, as wimlib-imagex takes IMAGE_NAME and IMAGE_DESC, are
// refused with a pointer to the flags that set them.
func captureArgs(cmd *cobra.Command, args []string) error {
	err := argsBetween(0, 2)(cmd, args)
	if err != nil && len(args) <= 4 {
		return usagef("%w; the image name and description (wimlib-imagex's IMAGE_NAME and IMAGE_DESC) are --name and --description", err)
	}
	return err
}

// captureSpec is a resolved capture or append: everything taken from the
// line and the environment.
type captureSpec struct {
	source, wimfile string
	info            wim.ImageInfo
	compress        wim.Compression
	level           int  // --compress's LEVEL, 0 when not given
	compressSet     bool // --compress was given
	threads         int
	check           bool
	boot            bool
	config          string
	noUnixData      bool
	crossMounts     bool
	updateOf        string
	systemRoot      string // the Windows directory to prefer
	ntfs            snapshot.NTFSMode
	shadowCopy      bool
	nameSet         bool            // --name (or --image-property NAME=) was given: a taken name is an error
	props           []imageProperty // set on the image last, over the WINDOWS information found
	account         credentials     // for remote destinations; unused for now
}

// captureSpec resolves args, flags and the ConfigMgr variables.
func (a *app) captureSpec(cmd *cobra.Command, f *imageFlags, args []string) (*captureSpec, error) {
	env := readOSD(a.lookup)
	source, wimfile, err := resolveCaptureArgs(args, env, isDir)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(wimfile, "s3:") {
		return nil, fmt.Errorf("destination %s: remote destinations are not supported yet: %w", wimfile, wim.ErrUnsupported)
	}
	if err := checkImageText(cmd); err != nil {
		return nil, err
	}
	if err := env.checkText(cmd.Flags().Changed); err != nil {
		return nil, err
	}
	c, level, err := parseWriteCodec(f.compress)
	if err != nil {
		return nil, err
	}
	if err := checkThreads(f.threads); err != nil {
		return nil, err
	}
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	info := imageInfo(f, changed, env, source)
	props, err := parseImageProperties(f.props)
	if err != nil {
		return nil, err
	}
	if err := applyProperties(&info, props); err != nil {
		return nil, err
	}
	return &captureSpec{
		source: source, wimfile: wimfile,
		info: info, props: props,
		compress: c, level: level, compressSet: changed("compress"),
		threads: f.threads, check: f.check, boot: f.boot, config: f.config,
		noUnixData: f.noUnixData, crossMounts: f.crossMounts,
		updateOf: f.updateOf, systemRoot: systemRootName(f, env), ntfs: f.ntfs.mode(), shadowCopy: f.shadowCopy,
		nameSet: changed("name") || setsName(props), account: env.Account,
	}, nil
}

// imageInfo builds the image's XML fields: flags first, then the ConfigMgr
// variables, then defaults (the name defaults to SOURCE's base name).
func imageInfo(f *imageFlags, changed func(string) bool, env osdVars, source string) wim.ImageInfo {
	pick := func(flag, val, envVal string) string {
		if changed(flag) {
			return val
		}
		return envVal
	}
	info := wim.ImageInfo{
		Name:        f.name,
		Description: pick("description", f.description, env.Description),
		DisplayName: f.displayName,
		Flags:       f.flags,
		Creator:     pick("creator", f.creator, env.Creator),
		Version:     pick("version", f.version, env.Version),
	}
	if !changed("name") {
		info.Name = defaultImageName(source)
	}
	return info
}

// defaultImageName is SOURCE's base name, as wimlib-imagex chooses it; the
// UNIX root gives "root", a Windows volume's root its drive ("C:") or, for
// a share, the share's name. A byte of it that is not UTF-8, or a control
// character, is written as its escape, "\xe9", as the one-line output
// writes it (textEscaped), so that capture and snapshot name the image
// alike: a snapshot's manifest is JSON, which would keep U+FFFD for the
// byte, and the XML would hold U+FFFD for either; wimlib-imagex refuses
// such a name, which other tools show with U+FFFD.
func defaultImageName(source string) string {
	if abs, err := filepath.Abs(source); err == nil {
		source = abs
	}
	name := filepath.Base(source)
	if name == string(filepath.Separator) {
		// The root of a Windows volume, C:\ or \\server\share\: named as
		// wimlib-imagex names it, "C:" or "share" (UNIX's / has no volume).
		vol := filepath.VolumeName(source)
		name = vol[strings.LastIndexAny(vol, `\/`)+1:]
	}
	if name == "/" || name == "." || name == "" {
		return "root"
	}
	return textEscaped(name)
}

// writerOptions turns the spec into wim.Writer options for writing image
// index, the hashing of whose integrity table st shows. For an append the
// codec is passed only when given, and an existing integrity table is kept;
// the level applies to the new image's data in either case.
func (s *captureSpec) writerOptions(now func() time.Time, appending, hadIntegrity bool, index int, st *captureStatus) []wim.WriterOption {
	opts := []wim.WriterOption{wim.WithNow(now), wim.WithIntegrityProgress(st.update)}
	if s.boot {
		opts = append(opts, wim.WithBootIndex(index))
	}
	if !appending || s.compressSet {
		opts = append(opts, wim.WithCompression(s.compress))
	}
	if s.level > 0 {
		opts = append(opts, wim.WithCompressionLevel(s.level))
	}
	if s.threads > 0 {
		opts = append(opts, wim.WithThreads(s.threads))
	}
	if s.check || hadIntegrity {
		opts = append(opts, wim.WithIntegrity(true))
	}
	return opts
}

// checkSource fails early, before any file is created, when SOURCE is not a
// directory.
func checkSource(source string) error {
	st, err := os.Stat(source)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: not a directory", source)
	}
	return nil
}

// runCapture writes a new WIM to a temporary file beside WIMFILE and renames
// it into place only when it is complete.
func (a *app) runCapture(ctx context.Context, spec *captureSpec) (err error) {
	start := a.now()
	streamingGC()
	if err := checkSource(spec.source); err != nil {
		return err
	}
	target, err := outputPath(spec.wimfile)
	if err != nil {
		return err
	}
	tmp, err := createTemp(target)
	if err != nil {
		return err
	}
	out := &snapshot.WritebackFile{File: tmp}
	defer func() {
		if err != nil {
			discardWriteback(out)
		}
	}()
	cfg, err := a.loadConfig(spec.config)
	if err != nil {
		return err
	}
	st := newCaptureStatus(a.now)
	w, err := wim.NewWriter(out, spec.writerOptions(a.now, false, false, 1, st)...)
	if err != nil {
		return err
	}
	res, err := a.captureInto(ctx, w, spec, cfg, st, nil, tempsOf(target)) // tmp is one of them
	if err != nil {
		return err
	}
	if err := commitWriteback(out, target, commitTemp); err != nil {
		return err
	}
	return a.finishCapture(spec, res, 1, spec.compress, start)
}

// outputPath returns the file that writing a new file named name should
// replace: name itself, or for a symbolic link the file it leads to (which
// need not exist), as writing through the link would. It fails for a
// directory, and for a device, pipe or socket, which a file renamed over it
// would destroy (writing a WIM over /dev/null as root must not remove it).
func outputPath(name string) (string, error) {
	if name == "" {
		return "", usagef("the output file name is empty")
	}
	// The links of /proc/self/fd (/dev/stdout) read as "pipe:[N]": what
	// they lead to is known by following them, not by their text.
	if st, err := os.Stat(name); err == nil && !st.IsDir() && !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file (a %s): refusing to replace it", name, fileKind(st.Mode()))
	}
	for range 40 {
		st, err := os.Lstat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return name, nil
		case err != nil:
			return "", err
		case st.Mode()&fs.ModeSymlink != 0:
			to, err := os.Readlink(name)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(to) {
				to = filepath.Join(filepath.Dir(name), to)
			}
			name = to
		case st.IsDir():
			return "", fmt.Errorf("%s: is a directory", name)
		case !st.Mode().IsRegular():
			return "", fmt.Errorf("%s: not a regular file (a %s): refusing to replace it", name, fileKind(st.Mode()))
		default:
			return name, nil
		}
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", name)
}

// fileKind names the type of a file that is neither regular, a directory
// nor a symbolic link.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// captureResult is what captureInto learned.
type captureResult struct {
	stats         snapshot.CaptureStats
	warnings      []warning
	warningsTotal int64
}

// captureInto captures spec.source into w as a new image and closes w,
// showing the walk and then the hashing of w's integrity table on st (w's
// options were writerOptions with st); on failure it aborts w (an append
// is undone). prepare, when not nil, is the capture's
// CaptureOptions.Prepare (it sets the base of an update). The files skip,
// the one w writes and the temporary files of the WIM (tempsOf), are left
// out of the image when they lie inside the source.
func (a *app) captureInto(ctx context.Context, w *wim.Writer, spec *captureSpec, cfg *snapshot.Config, st *captureStatus,
	prepare func(*snapshot.CaptureOptions) error, skip []string) (res captureResult, err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, w.Abort())
		}
	}()
	status := a.newStatus()
	defer status.finish()
	warn := a.newWarnings(status)
	configWarnings(warn, spec.config, cfg)
	status.start(st.render)
	m, stats, err := snapshot.Capture(ctx, spec.source, w, snapshot.CaptureOptions{
		Config:      cfg,
		CrossMounts: spec.crossMounts,
		NoUnixData:  spec.noUnixData,
		NTFS:        spec.ntfs,
		ShadowCopy:  spec.shadowCopy,
		Prepare:     prepare,
		Progress:    st.walk.update,
		Warn:        warn.warn,
		Skip:        skip,
	})
	info := spec.info
	if err == nil {
		if win := snapshot.WindowsInfo(spec.source, m, spec.systemRoot, warn.warn); win != nil {
			info.SetWindows(win)
		}
		err = applyProperties(&info, spec.props) // checked by captureSpec
	}
	res.stats = stats
	res.warnings, res.warningsTotal = warn.summary()
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := w.AddImage(m, info); err != nil {
		return res, err
	}
	return res, w.CloseContext(ctx)
}

// captureSummary is the --json document of capture and append.
type captureSummary struct {
	WIM             string    `json:"wim"`
	Image           int       `json:"image"`
	Name            string    `json:"name"`
	Source          string    `json:"source"`
	Compression     string    `json:"compression"`
	Dirs            int64     `json:"dirs"`
	Files           int64     `json:"files"`
	Symlinks        int64     `json:"symlinks"`
	Special         int64     `json:"special"`
	Bytes           int64     `json:"bytes"`
	BytesRead       int64     `json:"bytes_read"`
	Reused          int64     `json:"reused"`
	Skipped         int64     `json:"skipped"`
	Warnings        []warning `json:"warnings"`
	WarningsTotal   int64     `json:"warnings_total"`
	DurationSeconds float64   `json:"duration_seconds"`
	CompressedBytes int64     `json:"compressed_bytes"`
}

// finishCapture prints the summary and returns the partial error when files
// were skipped.
func (a *app) finishCapture(spec *captureSpec, res captureResult, index int, c wim.Compression, start time.Time) error {
	s := res.stats
	sum := captureSummary{
		WIM: spec.wimfile, Image: index, Name: spec.info.Name, Source: spec.source,
		Compression: c.String(),
		Dirs:        s.Dirs, Files: s.Files, Symlinks: s.Symlinks, Special: s.Special,
		Bytes: s.Bytes, BytesRead: s.BytesRead, Reused: s.Reused, Skipped: s.Skipped,
		Warnings: res.warnings, WarningsTotal: res.warningsTotal,
		DurationSeconds: seconds(a.now().Sub(start)),
	}
	if st, err := os.Stat(spec.wimfile); err == nil {
		sum.CompressedBytes = st.Size()
	}
	if err := a.printCapture(sum); err != nil {
		return err
	}
	return partial(s.Skipped)
}

func (a *app) printCapture(s captureSummary) error {
	if a.json {
		return writeJSON(a.stdout, s)
	}
	_, err := fmt.Fprintf(a.stdout,
		"Captured %s as image %d (%q) of %s: %d dirs, %d files, %d symlinks, %d special, %s; WIM is %s (%s), %.1fs\n",
		printable(s.Source), s.Image, s.Name, printable(s.WIM), s.Dirs, s.Files, s.Symlinks, s.Special,
		formatBytes(s.Bytes), formatBytes(s.CompressedBytes), s.Compression, s.DurationSeconds)
	return err
}

// maxThreads bounds --threads: each thread holds buffers of its own, so an
// absurd count exhausts memory before the work starts (the agent, whose
// snapshots run in its own process, died of 1<<40).
const maxThreads = 1024

// checkThreads refuses a --threads value below 0 or above maxThreads.
func checkThreads(n int) error {
	if n < 0 || n > maxThreads {
		return usagef("--threads=%d: want 0 (one per CPU) to %d", n, maxThreads)
	}
	return nil
}
