package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

const deleteHelp = `
Delete the image IMAGE (a 1-based index or a name; several may be given,
or "all" for every image) from WIMFILE, like 'wimlib-imagex delete' and
DISM /Delete-Image. The images after a deleted one move up: their indexes
and the XML's follow. The boot index follows its image, and becomes 0 when
the boot image is deleted. Deleting every image, the only one included,
leaves a WIM that holds none, as wimlib-imagex does.

WIMFILE is rebuilt, as wimlib-imagex delete rebuilds it: the new WIM is
written beside it and renamed over it only when it is complete, so an
interrupted or failed run leaves WIMFILE as it was. Streams no remaining
image uses are dropped: the space is reclaimed at once. The streams kept
are copied as they are stored, compressed ones neither decompressed nor
checked ('wimsnap verify' checks them), uncompressed ones checked; those
of solid resources, which wimsnap reads and does not write, are read,
checked against their SHA-1 and compressed again, each on its own, in the
WIM's codec and chunk size (an LZMS WIM stays LZMS; a WIMBoot WIM, XPRESS
in 4 KiB chunks, stays one). A pipable WIM (wimlib-imagex --pipable)
has its streams compressed again too, and becomes a normal WIM, which
wimsnap writes (wimlib-imagex keeps it pipable). The other
images keep their names, descriptions, flags, creation and modification
times, and the WIM its GUID; an integrity table is written when WIMFILE
has one or --check is given.

Refused with exit code 2: an IMAGE the WIM does not hold, a name several
images have, an image named twice. Refused with exit code 1: a part of a
split WIM (as wimlib-imagex refuses it), a WIM its header marks read-only,
a file this user may not write, and a WIM another process is writing (an
append by wimsnap or wimlib-imagex, or wimsnap's optimize): delete holds
the lock append holds. wimlib-imagex's optimize, delete and other
rebuilds take no lock: one that runs beside writes its file over the
delete's.

With --json, stdout receives one document:
  {"wim", "deleted": [{"index", "name"}], "images", "boot_index",
   "old_bytes", "new_bytes", "duration_seconds"}
"deleted" gives the deleted images' old indexes; "images" is how many
are left, "boot_index" the boot index now.`

func (a *app) newDeleteCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "delete WIMFILE IMAGE... [--check]",
		Short: "Delete images from a WIM file",
		Long:  longWIM(deleteHelp),
		Args:  argsBetween(2, -1),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.runDelete(ctx, args[0], args[1:], check)
		}),
	}
	cmd.Flags().BoolVar(&check, "check", false, "write an integrity table")
	return cmd
}

// deleteSummary is the --json document of delete.
type deleteSummary struct {
	WIM             string         `json:"wim"`
	Deleted         []deletedImage `json:"deleted"`
	Images          int            `json:"images"`
	BootIndex       int            `json:"boot_index"`
	OldBytes        int64          `json:"old_bytes"`
	NewBytes        int64          `json:"new_bytes"`
	DurationSeconds float64        `json:"duration_seconds"`
}

// deletedImage is an image delete removed, by its old index.
type deletedImage struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
}

func (a *app) runDelete(ctx context.Context, name string, specs []string, check bool) error {
	start := a.now()
	sum := deleteSummary{WIM: name, Deleted: []deletedImage{}} // [] in --json when none is
	plan := func(r *wim.Reader) (rewriteSpec, error) {
		gone, err := imagesToDelete(r, specs)
		if err != nil {
			return rewriteSpec{}, err
		}
		var keep []int
		for i := 1; i <= r.ImageCount(); i++ {
			if slices.Contains(gone, i) {
				sum.Deleted = append(sum.Deleted, deletedImage{Index: i, Name: r.Image(i).Name})
			} else {
				keep = append(keep, i)
			}
		}
		sum.Images = len(keep)
		sum.BootIndex = newBootIndex(int(r.Header().BootIndex), keep)
		return rewriteSpec{images: keep, opts: editOptions(r, keep, check, a.now)}, nil
	}
	old, err := a.editInPlace(ctx, name, rewriteSpec{verb: "delete", start: start}, plan)
	if err != nil {
		return err
	}
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	sum.OldBytes, sum.NewBytes, sum.DurationSeconds = old, st.Size(), seconds(a.now().Sub(start))
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	for _, d := range sum.Deleted {
		fmt.Fprintf(a.stdout, "%s: deleted image %d (%q)\n", name, d.Index, d.Name)
	}
	fmt.Fprintf(a.stdout, "%s: %s left, boot index %d, %s -> %s\n", name, plural(sum.Images, "image"), sum.BootIndex,
		formatBytes(old), formatBytes(sum.NewBytes))
	return nil
}

// imagesToDelete returns the indexes of the images specs name
// (selectImages) in ascending order.
func imagesToDelete(r *wim.Reader, specs []string) ([]int, error) {
	out, err := selectImages(r, specs, "IMAGE")
	slices.Sort(out)
	return out, err
}
