package wim

import (
	"fmt"
	"strconv"
	"strings"
)

// A split WIM (DISM's /Split-Image, wimlib-imagex split) is a set of WIM
// files, its parts, sharing a GUID and numbered 1 to n in their headers.
// Each part's blob table lists the blobs whose resources lie in its file;
// part 1 also holds the image metadata, and every part the XML data. A
// Reader of one part reads the streams of that part; AddPart gives it the
// streams of the others, after which it reads the whole image. The parts'
// files are read in place, each through its own Reader.

// AddPart adds the streams of p, another part of the split WIM r is a part
// of. It fails unless both are parts of one split WIM (the same GUID and
// number of parts) and p's part is not there already.
func (r *Reader) AddPart(p *Reader) error {
	h, ph := r.hdr, p.hdr
	switch {
	case !h.Split():
		return fmt.Errorf("%w: adding a part to a WIM that is not split", ErrUnsupported)
	case !ph.Split() || ph.GUID != h.GUID || ph.Parts != h.Parts:
		return fmt.Errorf("%w: part %d of %d (GUID %x) is not a part of this split WIM (%d parts, GUID %x)",
			ErrFormat, ph.Part, ph.Parts, ph.GUID, h.Parts, h.GUID)
	case r.parts[ph.Part-1] != nil:
		return fmt.Errorf("%w: part %d of the split WIM given twice", ErrFormat, ph.Part)
	}
	r.parts[ph.Part-1] = p
	for _, b := range p.blobs {
		r.addBlob(b)
	}
	if len(r.metas) == 0 && ph.Part == 1 {
		r.metas = p.metas // the images are part 1's
	}
	return nil
}

// fileName names r's file for an error about a blob in it read through
// another Reader: by the name of the io.ReaderAt given to NewReader where
// it has a Name method (an *os.File's), with the part number of a part of
// a split WIM.
func (r *Reader) fileName() string {
	var name string
	if f, ok := r.ra.(interface{ Name() string }); ok {
		name = f.Name()
	}
	switch {
	case !r.hdr.Split() && name == "":
		return "referenced WIM"
	case !r.hdr.Split():
		return name
	case name == "":
		return fmt.Sprintf("part %d of %d", r.hdr.Part, r.hdr.Parts)
	}
	return fmt.Sprintf("%s (part %d of %d)", name, r.hdr.Part, r.hdr.Parts)
}

// MissingParts returns the part numbers of the split WIM that r lacks (its
// own part and those added are there), in increasing order; none for a WIM
// that is not split.
func (r *Reader) MissingParts() []int {
	var m []int
	for i, p := range r.parts {
		if p == nil {
			m = append(m, i+1)
		}
	}
	return m
}

// checkParts fails when parts of a split WIM are missing, naming them.
func (r *Reader) checkParts() error {
	if m := r.MissingParts(); len(m) > 0 {
		return fmt.Errorf("%w: parts %s of the %d-part split WIM are missing", ErrNotFound, PartList(m), r.hdr.Parts)
	}
	return nil
}

// PartList formats part numbers as "2, 3 and 5", giving at most 10 (a
// hostile header may claim 65535 parts) and then how many more.
func PartList(m []int) string {
	s := make([]string, 0, min(len(m), 10))
	for _, n := range m[:min(len(m), 10)] {
		s = append(s, strconv.Itoa(n))
	}
	switch {
	case len(m) > 10:
		return strings.Join(s, ", ") + fmt.Sprintf(" and %d more", len(m)-10)
	case len(s) == 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
