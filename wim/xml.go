package wim

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxXMLSize caps the XML resource a reader accepts (wimlib's own limit is
// similar); real files hold a few KiB per image. Its tags are capped too:
// each element decodes into a node of about 100 bytes, so a resource of
// empty elements ("<a/>", 8 bytes) would otherwise take 47 times its size.
// Real files hold a tag per 25 bytes or more, so beyond maxXMLTags (which
// thousands of images would pass) one per xmlBytesPerTag bytes is allowed.
const (
	maxXMLSize     = 64 << 20
	maxXMLTags     = 1 << 18
	xmlBytesPerTag = 16
)

// ImageInfo is one image's XML information. Counts and sizes are computed
// by the Writer; Extra keeps elements this package does not interpret (such
// as WINDOWS) so that rewriting the XML loses nothing.
type ImageInfo struct {
	Index              int
	Name               string
	Description        string
	DisplayName        string
	DisplayDescription string
	Flags              string
	// Creator and Version are ConfigMgr's OSDImageCreator and
	// OSDImageVersion, stored as IMAGE/CREATOR and IMAGE/IMAGEVERSION.
	Creator          string
	Version          string
	DirCount         uint64
	FileCount        uint64
	TotalBytes       uint64
	HardLinkBytes    uint64
	CreationTime     Filetime
	ModificationTime Filetime
	Extra            []XMLNode
}

// XMLNode is an XML element kept verbatim.
type XMLNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []XMLNode  `xml:",any"`
}

// child returns the first child element called name.
func (n *XMLNode) child(name string) *XMLNode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == name {
			return &n.Nodes[i]
		}
	}
	return nil
}

// parseXML decodes the UTF-16LE XML resource into per-image information.
func parseXML(b []byte, imageCount int) ([]ImageInfo, error) {
	if len(b) < 2 || len(b)%2 != 0 {
		return nil, fmt.Errorf("%w: XML data of %d bytes is not UTF-16", ErrFormat, len(b))
	}
	text := bytes.TrimRight(utf16leToUTF8(b), "\x00")
	if n, most := bytes.Count(text, []byte("<")), max(maxXMLTags, len(b)/xmlBytesPerTag); n > most {
		return nil, fmt.Errorf("%w: XML data of %d tags in %d bytes (at most %d)", ErrFormat, n, len(b), most)
	}
	var root XMLNode
	if err := xml.Unmarshal(text, &root); err != nil {
		return nil, fmt.Errorf("%w: XML data: %w", ErrFormat, err)
	}
	if root.XMLName.Local != "WIM" {
		return nil, fmt.Errorf("%w: XML data: root element %q, want WIM", ErrFormat, root.XMLName.Local)
	}
	return imagesByIndex(&root, imageCount)
}

// utf16leToUTF8 decodes UTF-16LE text (an odd last byte ignored), less
// a byte order mark at its start, into UTF-8; an unpaired surrogate
// becomes U+FFFD. It goes straight to UTF-8 so that the XML of a large
// resource is held once more, at about half its size for ASCII, rather
// than also as 16-bit units and as runes (three and five times its size).
func utf16leToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u := rune(binary.LittleEndian.Uint16(b[i:]))
		switch {
		case u < utf8.RuneSelf:
			out = append(out, byte(u))
			continue
		case i == 0 && u == 0xFEFF:
			continue
		case utf16.IsSurrogate(u) && i+3 < len(b):
			if r := utf16.DecodeRune(u, rune(binary.LittleEndian.Uint16(b[i+2:]))); r != utf8.RuneError {
				out = utf8.AppendRune(out, r)
				i += 2
				continue
			}
		}
		out = utf8.AppendRune(out, u) // a lone surrogate is not valid: AppendRune writes U+FFFD
	}
	return out
}

// imagesByIndex returns the information of the imageCount images from the
// IMAGE elements of root, image n from the element whose INDEX attribute
// is n, whatever the elements' order (as wimlib reads them). Each image
// must have exactly one element: an INDEX that is missing, not a decimal
// number, out of range or given twice is a format error.
func imagesByIndex(root *XMLNode, imageCount int) ([]ImageInfo, error) {
	n := 0
	for i := range root.Nodes {
		if root.Nodes[i].XMLName.Local == "IMAGE" {
			n++
		}
	}
	if n != imageCount {
		return nil, fmt.Errorf("%w: XML data has %d IMAGE elements, header says %d images", ErrFormat, n, imageCount)
	}
	infos := make([]ImageInfo, imageCount)
	for i := range root.Nodes {
		node := &root.Nodes[i]
		if node.XMLName.Local != "IMAGE" {
			continue
		}
		attr, ok := node.attr("INDEX")
		index, err := strconv.ParseUint(attr, 10, 31)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: XML data: an IMAGE element has no INDEX", ErrFormat)
		case err != nil || index < 1 || index > uint64(imageCount):
			return nil, fmt.Errorf("%w: XML data: IMAGE INDEX %q is not an image number from 1 to %d", ErrFormat, attr, imageCount)
		case infos[index-1].Index != 0:
			return nil, fmt.Errorf("%w: XML data: two IMAGE elements have INDEX %d", ErrFormat, index)
		}
		infos[index-1] = imageFromNode(node, int(index))
	}
	return infos, nil
}

// attr returns the value of n's attribute called name.
func (n *XMLNode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// imageFromNode extracts an ImageInfo from an IMAGE element.
func imageFromNode(n *XMLNode, index int) ImageInfo {
	info := ImageInfo{Index: index}
	for _, c := range n.Nodes {
		// Text as it is, spaces included, as wimlib keeps it (an image
		// may be named " a" beside "a"); numbers without spaces.
		t := strings.TrimSpace(c.Text)
		switch c.XMLName.Local {
		case "NAME":
			info.Name = c.Text
		case "DESCRIPTION":
			info.Description = c.Text
		case "DISPLAYNAME":
			info.DisplayName = c.Text
		case "DISPLAYDESCRIPTION":
			info.DisplayDescription = c.Text
		case "FLAGS":
			info.Flags = c.Text
		case "CREATOR":
			info.Creator = c.Text
		case "IMAGEVERSION":
			info.Version = c.Text
		case "DIRCOUNT":
			info.DirCount, _ = strconv.ParseUint(t, 10, 64)
		case "FILECOUNT":
			info.FileCount, _ = strconv.ParseUint(t, 10, 64)
		case "TOTALBYTES":
			info.TotalBytes, _ = strconv.ParseUint(t, 10, 64)
		case "HARDLINKBYTES":
			info.HardLinkBytes, _ = strconv.ParseUint(t, 10, 64)
		case "CREATIONTIME":
			info.CreationTime = parseXMLTime(&c)
		case "LASTMODIFICATIONTIME":
			info.ModificationTime = parseXMLTime(&c)
		default:
			info.Extra = append(info.Extra, c)
		}
	}
	return info
}

// parseXMLTime decodes <HIGHPART>0x..</HIGHPART><LOWPART>0x..</LOWPART>.
func parseXMLTime(n *XMLNode) Filetime {
	part := func(name string) uint64 {
		c := n.child(name)
		if c == nil {
			return 0
		}
		v, _ := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(c.Text), "0x"), "0X"), 16, 32)
		return v
	}
	return Filetime(part("HIGHPART")<<32 | part("LOWPART"))
}

// marshalXML encodes the XML resource: BOM, WIM element, a trailing newline
// as wimlib 1.13 writes. An image's WIMBOOT element is kept only in a
// wimboot WIM (XPRESS in 4 KiB chunks, which WIMBoot needs).
func marshalXML(infos []ImageInfo, totalBytes int64, wimboot bool) []byte {
	var s strings.Builder
	s.WriteString("<WIM>")
	for i := range infos {
		writeImage(&s, &infos[i], i+1, wimboot)
	}
	fmt.Fprintf(&s, "<TOTALBYTES>%d</TOTALBYTES></WIM>\n", totalBytes)
	u := utf16.Encode([]rune(s.String()))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xFF, 0xFE
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// writeImage writes one IMAGE element in wimlib's element order.
func writeImage(s *strings.Builder, in *ImageInfo, index int, wimboot bool) {
	fmt.Fprintf(s, `<IMAGE INDEX="%d">`, index)
	elem(s, "NAME", in.Name)
	fmt.Fprintf(s, "<DIRCOUNT>%d</DIRCOUNT><FILECOUNT>%d</FILECOUNT><TOTALBYTES>%d</TOTALBYTES><HARDLINKBYTES>%d</HARDLINKBYTES>",
		in.DirCount, in.FileCount, in.TotalBytes, in.HardLinkBytes)
	writeTime(s, "CREATIONTIME", in.CreationTime)
	writeTime(s, "LASTMODIFICATIONTIME", in.ModificationTime)
	elem(s, "DESCRIPTION", in.Description)
	elem(s, "DISPLAYNAME", in.DisplayName)
	elem(s, "DISPLAYDESCRIPTION", in.DisplayDescription)
	elem(s, "FLAGS", in.Flags)
	elem(s, "CREATOR", in.Creator)
	elem(s, "IMAGEVERSION", in.Version)
	for i := range in.Extra {
		if in.Extra[i].XMLName.Local == "WIMBOOT" && !wimboot {
			continue // the WIM is no longer XPRESS in 4 KiB chunks
		}
		writeNode(s, &in.Extra[i])
	}
	s.WriteString("</IMAGE>")
}

// elem writes <name>text</name>, or nothing for empty text.
func elem(s *strings.Builder, name, text string) {
	if text == "" {
		return
	}
	fmt.Fprintf(s, "<%s>%s</%s>", name, escapeXML(text), name)
}

func writeTime(s *strings.Builder, name string, t Filetime) {
	fmt.Fprintf(s, "<%s><HIGHPART>0x%08X</HIGHPART><LOWPART>0x%08X</LOWPART></%s>", name, uint64(t)>>32, uint64(t)&0xFFFFFFFF, name)
}

// writeNode re-serialises a kept element.
func writeNode(s *strings.Builder, n *XMLNode) {
	s.WriteString("<" + n.XMLName.Local)
	for _, a := range n.Attrs {
		fmt.Fprintf(s, ` %s="%s"`, a.Name.Local, escapeXML(a.Value))
	}
	s.WriteString(">")
	if len(n.Nodes) == 0 {
		s.WriteString(escapeXML(n.Text))
	}
	for i := range n.Nodes {
		writeNode(s, &n.Nodes[i])
	}
	s.WriteString("</" + n.XMLName.Local + ">")
}

func escapeXML(t string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(t))
	return b.String()
}
