package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

const dirHelp = `
List the paths of image IMAGE of WIMFILE (a 1-based index or a name; may be
left out when the WIM holds one image), one a line, "/"-separated from the
image root, like wimlib-imagex dir. --detailed adds each entry's attributes,
size, times, hashes, hard link group, security id and UNIX data. Of a
split WIM, any part will do when part 1, which holds the images, is found
(see 'wimsnap apply --help').

With --json, stdout receives one document:
  {"wim", "image", "name", "paths": ["/", "/a", ...]}
or with --detailed
  {"wim", "image", "name", "entries": [{"path", "short_name", "attributes",
   "attribute_names", "size", "creation_time", "last_write_time",
   "last_access_time", "hash", "named_streams": [{"name", "hash", "size"}],
   "reparse_tag", "reparse_hash", "link_id", "security_id",
   "unix": {"uid", "gid", "mode", "rdev"}, "xattrs": [names]}]}
Hashes are 40 hex digits, "" for an empty stream; times RFC 3339 in UTC.
A path that is not valid UTF-8 shows with U+FFFD; an entry then also has
"path_bytes", its exact bytes in base64. Without --detailed, "path_bytes"
is then a list beside "paths": for each path in the same place, its bytes
in base64, or null for a path that is valid UTF-8.`

func (a *app) newDirCommand() *cobra.Command {
	var detailed bool
	var refs []string
	cmd := &cobra.Command{
		Use:   "dir WIMFILE [IMAGE]",
		Short: "List the files of an image",
		Long:  longWIM(dirHelp),
		Args:  argsBetween(1, 2),
		RunE: a.body(func(_ context.Context, _ *cobra.Command, args []string) error {
			image := ""
			if len(args) == 2 {
				image = args[1]
			}
			return a.runDir(args[0], image, detailed, refs)
		}),
	}
	cmd.Flags().BoolVar(&detailed, "detailed", false, "show each entry's metadata")
	addRefFlag(cmd, &refs)
	return cmd
}

func (a *app) runDir(name, image string, detailed bool, refs []string) error {
	r, done, err := openWIMSet(name, refs, false)
	if err != nil {
		return err
	}
	defer done()
	idx, err := selectImage(r, image)
	if err != nil {
		return err
	}
	m, err := r.Metadata(idx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err) // err names the image
	}
	if m.Dropped > 0 {
		fmt.Fprintf(a.stderr, "wimsnap: warning: %s: %v\n", printable(name), errDropped(m.Dropped))
	}
	if a.json && detailed {
		head := []jsonField{{"wim", name}, {"image", idx}, {"name", r.Image(idx).Name}}
		return writeEntriesJSON(a.stdout, head, func(emit func(entryJSON)) {
			walkEntries(m.Root, func(p string, e *wim.Entry) { emit(newEntryJSON(p, e)) })
		})
	}
	if a.json {
		return writeJSON(a.stdout, dirDoc(name, idx, r.Image(idx).Name, m))
	}
	bw := bufio.NewWriter(a.stdout)
	walkEntries(m.Root, func(p string, e *wim.Entry) {
		if detailed {
			printEntry(bw, newEntryJSON(p, e))
		} else {
			fmt.Fprintln(bw, printable(p))
		}
	})
	return bw.Flush()
}

// walkEntries calls fn for root and everything under it, depth first in
// stored order, with each entry's "/"-separated path (wim.Metadata.Walk:
// memory in proportion to the deepest path, not to depth times it).
func walkEntries(root *wim.Entry, fn func(path string, e *wim.Entry)) {
	_ = (&wim.Metadata{Root: root}).Walk(func(p string, e *wim.Entry) error {
		fn(p, e)
		return nil
	})
}

type dirJSON struct {
	WIM   string   `json:"wim"`
	Image int      `json:"image"`
	Name  string   `json:"name"`
	Paths []string `json:"paths,omitempty"`
	// PathBytes is pathsBytes(Paths).
	PathBytes [][]byte `json:"path_bytes,omitempty"`
	// Entries are those of a detailed listing, which writeEntriesJSON
	// writes as they come; the field is the document's shape, for reading.
	Entries []entryJSON `json:"entries,omitempty"`
}

type streamJSON struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

type unixJSON struct {
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Mode uint32 `json:"mode"`
	Rdev uint32 `json:"rdev"`
}

type entryJSON struct {
	Path           string       `json:"path"`
	PathBytes      []byte       `json:"path_bytes,omitempty"` // see rawPath
	ShortName      string       `json:"short_name"`
	Attributes     uint32       `json:"attributes"`
	AttributeNames []string     `json:"attribute_names"`
	Size           int64        `json:"size"`
	CreationTime   string       `json:"creation_time"`
	LastWriteTime  string       `json:"last_write_time"`
	LastAccessTime string       `json:"last_access_time"`
	Hash           string       `json:"hash"`
	NamedStreams   []streamJSON `json:"named_streams"`
	ReparseTag     uint32       `json:"reparse_tag"`
	ReparseHash    string       `json:"reparse_hash"`
	LinkID         uint64       `json:"link_id"`
	SecurityID     int32        `json:"security_id"`
	Unix           *unixJSON    `json:"unix"`
	Xattrs         []string     `json:"xattrs"`
}

func dirDoc(name string, idx int, imageName string, m *wim.Metadata) dirJSON {
	doc := dirJSON{WIM: name, Image: idx, Name: imageName, Paths: []string{}}
	walkEntries(m.Root, func(p string, _ *wim.Entry) { doc.Paths = append(doc.Paths, p) })
	doc.PathBytes = pathsBytes(doc.Paths)
	return doc
}

func hashString(h wim.Hash) string {
	if h.IsZero() {
		return ""
	}
	return hex.EncodeToString(h[:])
}

func newEntryJSON(p string, e *wim.Entry) entryJSON {
	j := entryJSON{
		Path: p, PathBytes: rawPath(p), ShortName: e.ShortName(),
		Attributes: e.Attributes, AttributeNames: attributeNames(e.Attributes),
		Size:         e.Data.Size,
		CreationTime: rfc3339Nano(e.CreationTime), LastWriteTime: rfc3339Nano(e.LastWriteTime),
		LastAccessTime: rfc3339Nano(e.LastAccessTime),
		Hash:           hashString(e.Data.Hash), NamedStreams: []streamJSON{},
		LinkID: e.LinkID, SecurityID: e.SecurityID, Xattrs: []string{},
	}
	if x := e.Ext; x != nil && e.IsReparse() {
		j.ReparseTag, j.ReparseHash = x.ReparseTag, hashString(x.Reparse.Hash)
	}
	for _, s := range e.NamedStreams() {
		j.NamedStreams = append(j.NamedStreams, streamJSON{Name: s.Name, Hash: hashString(s.Hash), Size: s.Size})
	}
	if u := e.Unix; u != nil {
		j.Unix = &unixJSON{UID: u.UID, GID: u.GID, Mode: u.Mode, Rdev: u.Rdev}
	}
	for _, x := range e.Xattrs {
		j.Xattrs = append(j.Xattrs, x.Name)
	}
	return j
}

// rfc3339Nano formats a FILETIME with its full precision; zero gives "".
func rfc3339Nano(t wim.Filetime) string {
	if t == 0 {
		return ""
	}
	return t.Time().Format("2006-01-02T15:04:05.0000000Z07:00")
}

// attributeBits names the FILE_ATTRIBUTE_* bits.
var attributeBits = []namedBit{
	{wim.AttrReadonly, "READONLY"}, {wim.AttrHidden, "HIDDEN"}, {wim.AttrSystem, "SYSTEM"},
	{wim.AttrDirectory, "DIRECTORY"}, {wim.AttrArchive, "ARCHIVE"}, {wim.AttrNormal, "NORMAL"},
	{wim.AttrTemporary, "TEMPORARY"}, {wim.AttrSparseFile, "SPARSE_FILE"},
	{wim.AttrReparsePoint, "REPARSE_POINT"}, {wim.AttrCompressed, "COMPRESSED"},
	{wim.AttrNotContentIndexed, "NOT_CONTENT_INDEXED"}, {wim.AttrEncrypted, "ENCRYPTED"},
}

// attributeNames lists FILE_ATTRIBUTE_* names of the bits set in attr;
// unknown bits appear as hexadecimal.
func attributeNames(attr uint32) []string { return bitNames(attr, attributeBits) }

// printEntry writes one entry in the block layout of wimlib-imagex dir
// --detailed.
func printEntry(w io.Writer, j entryJSON) {
	fmt.Fprintln(w, "----------------------------------------------------------------------------")
	fmt.Fprintf(w, "Full Path:          %q\n", j.Path)
	fmt.Fprintf(w, "Short Name:         %q\n", j.ShortName)
	fmt.Fprintf(w, "Attributes:         0x%08x %v\n", j.Attributes, j.AttributeNames)
	fmt.Fprintf(w, "Security ID:        %d\n", j.SecurityID)
	fmt.Fprintf(w, "Creation Time:      %s\n", j.CreationTime)
	fmt.Fprintf(w, "Last Write Time:    %s\n", j.LastWriteTime)
	fmt.Fprintf(w, "Last Access Time:   %s\n", j.LastAccessTime)
	if j.LinkID != 0 {
		fmt.Fprintf(w, "Link Group ID:      0x%016x\n", j.LinkID)
	}
	if j.ReparseTag != 0 {
		fmt.Fprintf(w, "Reparse Tag:        0x%08x (data %s)\n", j.ReparseTag, j.ReparseHash)
	}
	if u := j.Unix; u != nil {
		fmt.Fprintf(w, "UNIX Data:          uid=%d gid=%d mode=0%o rdev=0x%x\n", u.UID, u.GID, u.Mode, u.Rdev)
	}
	if len(j.Xattrs) > 0 {
		fmt.Fprintf(w, "Xattrs:             %q\n", j.Xattrs)
	}
	fmt.Fprintf(w, "Size:               %d bytes\n", j.Size)
	fmt.Fprintf(w, "Hash:               %s\n", j.Hash)
	for _, s := range j.NamedStreams {
		fmt.Fprintf(w, "Stream %q:  %d bytes, hash %s\n", s.Name, s.Size, s.Hash)
	}
	fmt.Fprintln(w)
}
