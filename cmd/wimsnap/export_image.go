package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

const exportImageHelp = `
Copy the images IMAGE... (1-based indexes or names, or "all" for every
image) of the WIM file SRC_WIM into DEST_WIM, like 'wimlib-imagex export'
and DISM /Export-Image: take one edition out of an install.esd into a new
install.wim, or gather the images of several WIMs into one, whose common
files are stored once. Each image keeps its name, description, display
name and description, flags, Windows information (the XML's WINDOWS
element), creator, version and times; --name and --description, given
with one IMAGE only, replace its name and description.

When DEST_WIM does not exist, it is created in the codec of SRC_WIM (lzx
for LZMS, such as an install.esd exported to be deployed: LZX is what
every WIMGAPI reads) or the one --compress names (lzms included); in the
codec of SRC_WIM, with its chunk size too (a WIMBoot WIM's 4 KiB, up to
2 MiB), as wimlib-imagex does. Streams whose codec and chunk size stay
the same are copied as they are stored (compressed ones neither
decompressed nor checked, uncompressed ones checked);
the others (another codec, solid resources, a pipable or split SRC_WIM)
are read, checked against their SHA-1 and compressed again. DEST_WIM is
written beside its name and put in place when it is complete, so an
interrupted run leaves no DEST_WIM, and a DEST_WIM another process creates
meanwhile is kept (the run fails, exit 1).

` + compressHelp + ` The level applies to the streams compressed again.

When DEST_WIM exists, the images are appended to it as 'wimsnap append'
appends one: they get the next indexes, streams DEST_WIM already holds are
not stored again, its codec is kept (another --compress is refused with
exit code 2), and an integrity table is kept when it has one. The new data
goes after the old and the header is rewritten last, so an interrupted
run leaves the old DEST_WIM readable, and a failed one puts it back as it
was; export-image holds the lock append holds. SRC_WIM may be DEST_WIM
itself: the image is then added again under another --name, as
wimlib-imagex allows.

--boot makes the exported image DEST_WIM's boot image; with several
images, the one that is SRC_WIM's boot image. Without it DEST_WIM's boot
index is left as it was (0 for a new WIM). SRC_WIM may be a split WIM
(see 'wimsnap apply --help' and --ref).

Refused with exit code 2: an IMAGE SRC_WIM does not hold, an image named
twice, a name DEST_WIM (or another image exported) already has, --name
or --description with several images, --boot when none of the images is
SRC_WIM's boot image. Refused with exit code 1: a DEST_WIM that is a part
of a split WIM, marked read-only, with solid resources, pipable, or of
chunks other than its codec's (32 KiB; 128 KiB for LZMS): rewrite it with
'wimsnap optimize' first; a file this user may not write, and a DEST_WIM
another process is writing.

With --json, stdout receives one document:
  {"source", "wim", "created", "exported": [{"source_index", "index",
   "name"}], "images", "boot_index", "compression", "old_bytes",
   "new_bytes", "stream_bytes", "duration_seconds"}
"created" says DEST_WIM was made by this run ("old_bytes" is then 0);
"index" is an image's index in DEST_WIM, "images" how many it holds and
"boot_index" its boot index now; "stream_bytes" counts the stream data
copied (what DEST_WIM already held is not).`

// exportImageFlags are the flags of export-image.
type exportImageFlags struct {
	name, description string
	nameSet, descSet  bool
	boot, check       bool
	compress          string
	compressSet       bool
	comp              wim.Compression // --compress's codec, set by runExportImage when compressSet
	level             int             // --compress's LEVEL, set by runExportImage; 0 when not given
	threads           int
	refs              []string
}

func (a *app) newExportImageCommand() *cobra.Command {
	var f exportImageFlags
	cmd := &cobra.Command{
		Use:   "export-image SRC_WIM IMAGE... DEST_WIM [--name=NAME] [--description=TEXT] [--boot] [--compress=C] [--check]",
		Short: "Copy images of a WIM file into another, new or existing",
		Long:  longWIM(exportImageHelp),
		Args:  argsBetween(3, -1),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			if err := checkImageText(cmd); err != nil {
				return err
			}
			fl := cmd.Flags()
			f.nameSet, f.descSet, f.compressSet = fl.Changed("name"), fl.Changed("description"), fl.Changed("compress")
			return a.runExportImage(ctx, args[0], args[1:len(args)-1], args[len(args)-1], f)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "the exported image's name in DEST_WIM (one IMAGE only)")
	fl.StringVar(&f.description, "description", "", "the exported image's description (one IMAGE only)")
	fl.BoolVar(&f.boot, "boot", false, "make the exported image (of several: SRC_WIM's boot image) DEST_WIM's boot image")
	fl.StringVar(&f.compress, "compress", "", "codec[:level] of a new DEST_WIM: none, xpress, lzx, lzms, e.g. xpress:20 (see --help);\n"+
		"default: SRC_WIM's (lzx for lzms)")
	fl.BoolVar(&f.check, "check", false, "write an integrity table")
	fl.IntVar(&f.threads, "threads", 0, "compression threads (default: number of CPUs)")
	addRefFlag(cmd, &f.refs)
	return cmd
}

// exportImageSummary is the --json document of export-image.
type exportImageSummary struct {
	Source          string          `json:"source"`
	WIM             string          `json:"wim"`
	Created         bool            `json:"created"`
	Exported        []exportedImage `json:"exported"`
	Images          int             `json:"images"`
	BootIndex       int             `json:"boot_index"`
	Compression     string          `json:"compression"`
	OldBytes        int64           `json:"old_bytes"`
	NewBytes        int64           `json:"new_bytes"`
	StreamBytes     int64           `json:"stream_bytes"`
	DurationSeconds float64         `json:"duration_seconds"`
}

// exportedImage is an image export-image copied: its index in the source
// and in the destination, and its name there.
type exportedImage struct {
	SourceIndex int    `json:"source_index"`
	Index       int    `json:"index"`
	Name        string `json:"name"`
}

// runExportImage copies the images specs name, of the WIM src, into dest:
// a new WIM when dest does not exist (exportToNew), appended to it when it
// does (exportToExisting).
func (a *app) runExportImage(ctx context.Context, src string, specs []string, dest string, f exportImageFlags) error {
	start := a.now()
	if err := checkThreads(f.threads); err != nil {
		return err
	}
	if f.compressSet {
		c, level, err := parseWriteCodec(f.compress)
		if err != nil {
			return err
		}
		f.comp, f.level = c, level
	}
	target, err := outputPath(dest)
	if err != nil {
		return err
	}
	if err := refuseSpecial(target); err != nil {
		return err
	}
	srcSt, err := os.Stat(src)
	if err != nil {
		return err
	}
	sum := &exportImageSummary{Source: src, WIM: dest}
	destSt, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		sum.Created = true
		err = a.exportToNew(ctx, src, target, specs, f, sum, start)
	case err == nil:
		err = a.exportToExisting(ctx, src, target, specs, f, os.SameFile(srcSt, destSt), sum, start)
	}
	if err != nil {
		return err
	}
	return a.finishExportImage(target, sum, start)
}

// exportPlan is what export-image copies: the images of the source, their
// XML fields in the destination, and the destination's boot index (0:
// leave it as it is).
type exportPlan struct {
	images []int
	infos  []wim.ImageInfo
	boot   int
}

// plan resolves specs in src and checks the names the images get against
// those of dest (nil for a new WIM) and each other, as wimlib-imagex does:
// a name taken is a usage error (an empty name is never taken).
func (f *exportImageFlags) plan(src *wim.Reader, dest imageSet, specs []string) (exportPlan, error) {
	images, err := imagesToExport(src, specs)
	if err != nil {
		return exportPlan{}, err
	}
	if len(images) > 1 && (f.nameSet || f.descSet) {
		return exportPlan{}, usagef("--name and --description need one IMAGE: %d images are exported", len(images))
	}
	taken := map[string]string{}
	base := 0
	if dest != nil {
		base = dest.ImageCount()
		for i := 1; i <= base; i++ {
			taken[dest.Image(i).Name] = fmt.Sprintf("image %d of the destination", i)
		}
	}
	p := exportPlan{images: images}
	for _, i := range images {
		info := src.Image(i)
		if f.nameSet {
			info.Name = f.name
		}
		if f.descSet {
			info.Description = f.description
		}
		if by, ok := taken[info.Name]; ok && info.Name != "" {
			return exportPlan{}, usagef("image name %q is already used by %s (choose another with --name)", info.Name, by)
		}
		taken[info.Name] = fmt.Sprintf("source image %d, exported too", i)
		p.infos = append(p.infos, info)
	}
	if f.boot {
		if p.boot, err = exportBootIndex(src, images, base); err != nil {
			return exportPlan{}, err
		}
	}
	return p, nil
}

// exportBootIndex returns the destination's boot index for --boot: the image
// exported, or of several the source's boot image, among images, which
// follow the destination's base images.
func exportBootIndex(src *wim.Reader, images []int, base int) (int, error) {
	if len(images) == 1 {
		return base + 1, nil
	}
	boot := int(src.Header().BootIndex)
	for k, i := range images {
		if i == boot {
			return base + k + 1, nil
		}
	}
	if boot == 0 {
		return 0, usagef("--boot: the source WIM has no boot image, and %d images are exported: export the one to boot alone", len(images))
	}
	return 0, usagef("--boot: the source's boot image, %d, is not among the images exported", boot)
}

// imagesToExport returns the indexes of the images specs name
// (selectImages), in their order; a source without images is a usage
// error.
func imagesToExport(r *wim.Reader, specs []string) ([]int, error) {
	if r.ImageCount() == 0 {
		return nil, usagef("the source WIM holds no image: %w", wim.ErrNoImage)
	}
	return selectImages(r, specs, "IMAGE")
}

// finishExportImage prints the result.
func (a *app) finishExportImage(target string, sum *exportImageSummary, start time.Time) error {
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	sum.NewBytes, sum.DurationSeconds = st.Size(), seconds(a.now().Sub(start))
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	for _, e := range sum.Exported {
		fmt.Fprintf(a.stdout, "%s image %d -> %s image %d (%q)\n", sum.Source, e.SourceIndex, sum.WIM, e.Index, e.Name)
	}
	fmt.Fprintf(a.stdout, "%s: %s, boot index %d, %s -> %s (%s)\n", sum.WIM, plural(sum.Images, "image"), sum.BootIndex,
		formatBytes(sum.OldBytes), formatBytes(sum.NewBytes), sum.Compression)
	return nil
}
