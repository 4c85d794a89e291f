package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

// Header flag bits (WIM_HDR_FLAG_* in wimlib's naming).
var headerFlagNames = []namedBit{
	{0x00000001, "reserved"},
	{0x00000002, "compression"},
	{0x00000004, "readonly"},
	{0x00000008, "spanned"},
	{0x00000010, "resource_only"},
	{0x00000020, "metadata_only"},
	{0x00000040, "write_in_progress"},
	{0x00000080, "rp_fix"},
	{0x00010000, "compress_reserved"},
	{0x00020000, "compress_xpress"},
	{0x00040000, "compress_lzx"},
	{0x00080000, "compress_lzms"},
	{0x00200000, "compress_xpress2"},
}

// flagNames lists the names of the bits set in flags; unknown bits appear
// as hexadecimal.
func flagNames(flags uint32) []string { return bitNames(flags, headerFlagNames) }

// namedBit is one bit of a flags word and its name.
type namedBit struct {
	bit  uint32
	name string
}

// bitNames lists the names of the bits of v found in table, then any
// remaining bits as one hexadecimal value.
func bitNames(v uint32, table []namedBit) []string {
	names := []string{}
	for _, b := range table {
		if v&b.bit != 0 {
			names = append(names, b.name)
			v &^= b.bit
		}
	}
	if v != 0 {
		names = append(names, fmt.Sprintf("0x%x", v))
	}
	return names
}

const infoHelp = `
Print the header of WIMFILE and the XML information of its images, or of
image IMAGE only (a 1-based index or a name), like wimlib-imagex info.

With --json, stdout receives one document:
  {"wim", "size",
   "header": {"version", "flags", "flag_names", "chunk_size", "compression",
              "guid", "part", "parts", "image_count", "boot_index",
              "integrity", "pipable"},
   "images": [{"index", "name", "description", "display_name",
               "display_description", "flags", "creator", "version",
               "dir_count", "file_count", "total_bytes", "hard_link_bytes",
               "creation_time", "modification_time",
               "windows": {"arch", "arch_name", "product_name", "edition_id",
                 "installation_type", "hal", "product_type", "product_suite",
                 "languages", "default_language", "major", "minor", "build",
                 "sp_build", "sp_level", "system_root"}}]}
"windows" appears for Windows images only (the WINDOWS element DISM
writes); numbers an image lacks are -1; "build" is text ("19045"), ""
when the image lacks it.
Times are RFC 3339 in UTC, "" when unset; "guid" is 32 hex digits.`

func (a *app) newInfoCommand() *cobra.Command {
	var e infoEdit
	cmd := &cobra.Command{
		Use:   "info WIMFILE [IMAGE] [--name=NAME] [--description=TEXT] [--image-property=NAME=VALUE]... [--boot]",
		Short: "Show a WIM file's header and image information, or change an image's",
		Long:  longWIM(infoHelp + infoEditHelp),
		Args:  argsBetween(1, 2),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			image := ""
			if len(args) == 2 {
				image = args[1]
			}
			if err := checkImageText(cmd); err != nil {
				return err
			}
			e.nameSet, e.descSet = cmd.Flags().Changed("name"), cmd.Flags().Changed("description")
			if cmd.Flags().Changed("boot") && !e.boot {
				return usagef("--boot takes no value: 'info WIMFILE 0 --boot' leaves the WIM with no boot image")
			}
			if e.editing() {
				return a.runInfoEdit(ctx, args[0], image, e)
			}
			return a.runInfo(args[0], image)
		}),
	}
	cmd.Flags().StringVar(&e.name, "name", "", "give IMAGE this name, which no other image may have")
	cmd.Flags().StringVar(&e.desc, "description", "", "give IMAGE this description")
	addImagePropertyFlag(cmd, &e.props)
	cmd.Flags().BoolVar(&e.boot, "boot", false, "make IMAGE the WIM's boot image (IMAGE 0: no boot image)")
	return cmd
}

type headerJSON struct {
	Version     uint32   `json:"version"`
	Flags       uint32   `json:"flags"`
	FlagNames   []string `json:"flag_names"`
	ChunkSize   uint32   `json:"chunk_size"`
	Compression string   `json:"compression"`
	GUID        string   `json:"guid"`
	Part        uint16   `json:"part"`
	Parts       uint16   `json:"parts"`
	ImageCount  uint32   `json:"image_count"`
	BootIndex   uint32   `json:"boot_index"`
	Integrity   bool     `json:"integrity"`
	Pipable     bool     `json:"pipable"`
}

type imageJSON struct {
	Index              int    `json:"index"`
	Name               string `json:"name"`
	Description        string `json:"description"`
	DisplayName        string `json:"display_name"`
	DisplayDescription string `json:"display_description"`
	Flags              string `json:"flags"`
	Creator            string `json:"creator"`
	Version            string `json:"version"`
	DirCount           uint64 `json:"dir_count"`
	FileCount          uint64 `json:"file_count"`
	TotalBytes         uint64 `json:"total_bytes"`
	HardLinkBytes      uint64 `json:"hard_link_bytes"`
	CreationTime       string `json:"creation_time"`
	ModificationTime   string `json:"modification_time"`
	// Windows is the WINDOWS element of a Windows image.
	Windows *windowsJSON `json:"windows,omitempty"`
}

// windowsJSON is an image's WINDOWS element; numbers the image lacks are
// -1, strings "".
type windowsJSON struct {
	Arch             int      `json:"arch"`
	ArchName         string   `json:"arch_name"`
	ProductName      string   `json:"product_name"`
	EditionID        string   `json:"edition_id"`
	InstallationType string   `json:"installation_type"`
	HAL              string   `json:"hal"`
	ProductType      string   `json:"product_type"`
	ProductSuite     string   `json:"product_suite"`
	Languages        []string `json:"languages"`
	DefaultLanguage  string   `json:"default_language"`
	Major            int64    `json:"major"`
	Minor            int64    `json:"minor"`
	Build            string   `json:"build"`
	SPBuild          int64    `json:"sp_build"`
	SPLevel          int64    `json:"sp_level"`
	SystemRoot       string   `json:"system_root"`
}

// archNames names the processor architectures of WINDOWS/ARCH.
var archNames = map[int]string{0: "x86", 5: "ARM", 6: "ia64", 9: "x86_64", 12: "ARM64"}

func newWindowsJSON(info wim.ImageInfo) *windowsJSON {
	w, ok := info.Windows()
	if !ok {
		return nil
	}
	return &windowsJSON{
		Arch: w.Arch, ArchName: archNames[w.Arch], ProductName: w.ProductName, EditionID: w.EditionID,
		InstallationType: w.InstallationType, HAL: w.HAL, ProductType: w.ProductType, ProductSuite: w.ProductSuite,
		Languages: nonNil(w.Languages), DefaultLanguage: w.DefaultLanguage, Major: w.Major, Minor: w.Minor,
		Build: w.Build, SPBuild: w.SPBuild, SPLevel: w.SPLevel, SystemRoot: w.SystemRoot,
	}
}

type infoJSON struct {
	WIM    string      `json:"wim"`
	Size   int64       `json:"size"`
	Header headerJSON  `json:"header"`
	Images []imageJSON `json:"images"`
	// Changed, in the edit form only, says whether the WIM was rewritten.
	Changed *bool `json:"changed,omitempty"`
}

func newHeaderJSON(h wim.Header) headerJSON {
	return headerJSON{
		Version: h.Version, Flags: h.Flags, FlagNames: flagNames(h.Flags),
		ChunkSize: h.ChunkSize, Compression: h.Compression.String(),
		GUID: hex.EncodeToString(h.GUID[:]), Part: h.Part, Parts: h.Parts,
		ImageCount: h.ImageCount, BootIndex: h.BootIndex, Integrity: h.HasIntegrity,
		Pipable: h.Pipable,
	}
}

func newImageJSON(i int, info wim.ImageInfo) imageJSON {
	return imageJSON{
		Index: i, Name: info.Name, Description: info.Description,
		DisplayName: info.DisplayName, DisplayDescription: info.DisplayDescription,
		Flags: info.Flags, Creator: info.Creator, Version: info.Version,
		DirCount: info.DirCount, FileCount: info.FileCount,
		TotalBytes: info.TotalBytes, HardLinkBytes: info.HardLinkBytes,
		CreationTime: rfc3339(info.CreationTime), ModificationTime: rfc3339(info.ModificationTime),
		Windows: newWindowsJSON(info),
	}
}

// rfc3339 formats a FILETIME for output; zero gives "", and so does a
// time past the year 9999, which RFC 3339 cannot write (a FILETIME runs
// to the year 60056).
func rfc3339(t wim.Filetime) string {
	if t == 0 || t.Time().Year() > 9999 {
		return ""
	}
	return t.Time().Format(time.RFC3339)
}

func (a *app) runInfo(name, image string) error { return a.showInfo(name, image, nil) }

// showInfo shows image (all, for "") of WIMFILE name; changed, when not
// nil, is the edit form's "changed".
func (a *app) showInfo(name, image string, changed *bool) error {
	f, r, err := openWIM(name)
	if err != nil {
		return err
	}
	defer closeRead(f)
	doc := infoJSON{WIM: name, Header: newHeaderJSON(r.Header()), Images: []imageJSON{}, Changed: changed}
	if st, err := f.Stat(); err == nil {
		doc.Size = st.Size()
	}
	first, last := 1, r.ImageCount()
	if image != "" {
		i, err := selectImage(r, image)
		if err != nil {
			return err
		}
		first, last = i, i
	}
	for i := first; i <= last; i++ {
		doc.Images = append(doc.Images, newImageJSON(i, r.Image(i)))
	}
	if a.json {
		return writeJSON(a.stdout, doc)
	}
	return printInfo(a.stdout, doc, image == "")
}

// printInfo writes doc in wimlib-imagex info's layout; the header block is
// left out when one image was asked for, as wimlib does.
func printInfo(w io.Writer, doc infoJSON, withHeader bool) error {
	var b strings.Builder
	if withHeader {
		h := doc.Header
		fmt.Fprintf(&b, "WIM Information:\n----------------\n")
		kv(&b, 12, "Path", doc.WIM)
		kv(&b, 12, "GUID", "0x"+h.GUID)
		kv(&b, 12, "Version", fmt.Sprintf("%d (0x%x)", h.Version, h.Version))
		kv(&b, 12, "Image Count", fmt.Sprint(h.ImageCount))
		kv(&b, 12, "Compression", strings.ToUpper(h.Compression))
		kv(&b, 12, "Chunk Size", fmt.Sprintf("%d bytes", h.ChunkSize))
		kv(&b, 12, "Part Number", fmt.Sprintf("%d/%d", h.Part, h.Parts))
		kv(&b, 12, "Boot Index", fmt.Sprint(h.BootIndex))
		kv(&b, 12, "Size", fmt.Sprintf("%d bytes", doc.Size))
		kv(&b, 12, "Integrity", yesNo(h.Integrity))
		if h.Pipable {
			kv(&b, 12, "Pipable", "yes")
		}
		kv(&b, 12, "Flags", fmt.Sprintf("0x%08x %s", h.Flags, strings.Join(h.FlagNames, ", ")))
		fmt.Fprintf(&b, "\nAvailable Images:\n-----------------\n")
	}
	for n, im := range doc.Images {
		if n > 0 {
			b.WriteString("\n")
		}
		printImage(&b, im)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func printImage(b *strings.Builder, im imageJSON) {
	kv(b, 23, "Index", fmt.Sprint(im.Index))
	kv(b, 23, "Name", im.Name)
	kv(b, 23, "Description", im.Description)
	kv(b, 23, "Display Name", im.DisplayName)
	kv(b, 23, "Display Description", im.DisplayDescription)
	kv(b, 23, "Flags", im.Flags)
	kv(b, 23, "Creator", im.Creator)
	kv(b, 23, "Version", im.Version)
	kv(b, 23, "Directory Count", fmt.Sprint(im.DirCount))
	kv(b, 23, "File Count", fmt.Sprint(im.FileCount))
	kv(b, 23, "Total Bytes", fmt.Sprint(im.TotalBytes))
	kv(b, 23, "Hard Link Bytes", fmt.Sprint(im.HardLinkBytes))
	kv(b, 23, "Creation Time", im.CreationTime)
	kv(b, 23, "Last Modification Time", im.ModificationTime)
	if w := im.Windows; w != nil {
		printWindows(b, w)
	}
}

// kv writes "Key:" padded to width+2 columns, then the value (printable).
func kv(b *strings.Builder, width int, key, val string) {
	fmt.Fprintf(b, "%-*s %s\n", width+1, key+":", printable(val))
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// printWindows prints a WINDOWS element as wimlib-imagex info does; what
// the image lacks is left out.
func printWindows(b *strings.Builder, w *windowsJSON) {
	opt := func(key, val string) {
		if val != "" {
			kv(b, 23, key, val)
		}
	}
	num := func(key string, v int64) {
		if v >= 0 {
			kv(b, 23, key, fmt.Sprint(v))
		}
	}
	if w.Arch >= 0 {
		opt("Architecture", cmp.Or(w.ArchName, fmt.Sprint(w.Arch)))
	}
	opt("Product Name", w.ProductName)
	opt("Edition ID", w.EditionID)
	opt("Installation Type", w.InstallationType)
	opt("HAL", w.HAL)
	opt("Product Type", w.ProductType)
	opt("Product Suite", w.ProductSuite)
	opt("Languages", strings.Join(w.Languages, " "))
	opt("Default Language", w.DefaultLanguage)
	opt("System Root", w.SystemRoot)
	num("Major Version", w.Major)
	num("Minor Version", w.Minor)
	opt("Build", w.Build)
	num("Service Pack Build", w.SPBuild)
	num("Service Pack Level", w.SPLevel)
}
