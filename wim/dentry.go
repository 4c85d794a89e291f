package wim

import (
	"encoding/binary"
	"fmt"
)

// Dentry layout (see doc.go).
const (
	dentryFixedSize  = 0x66
	streamEntryFixed = 38
	maxTreeDepth     = 16384
	tagObjectID      = 0x00000001
	tagXattr         = 0x00000002
	tagUnixData      = 0x337DD873
)

func align8(n int64) int64 { return (n + 7) &^ 7 }

// metaParser decodes the dentry tree of one metadata resource.
type metaParser struct {
	b       []byte
	visited map[int64]bool // sibling lists already read, against cycles
	entries int
	dropped int // entries left out (see ParseMetadata)
	// spanned sums the lengths of the dentries and stream entries read:
	// real ones never overlap, so more than the resource holds means
	// dentries nested in one another, whose copied names and items would
	// otherwise cost a quadratic number of bytes.
	spanned int64
	slab    []parsedEntry // entries are carved from it, to allocate less often
	kids    []*Entry      // scratch: the children of the directory being read
	subs    []subdirAt    // stack: subdirectories whose children are still to read
	u16     []uint16      // scratch for names
	u8      []byte        // scratch for names
}

// subdirAt is a directory and the offset of its children.
type subdirAt struct {
	e   *Entry
	off int64
}

// parsedEntry lets an entry and its UNIX data share one allocation.
type parsedEntry struct {
	e Entry
	u UnixData
}

// newEntry returns a zero entry from the slab.
func (p *metaParser) newEntry() *parsedEntry {
	if len(p.slab) == 0 {
		p.slab = make([]parsedEntry, 128)
	}
	pe := &p.slab[0]
	p.slab = p.slab[1:]
	return pe
}

// errAt formats a malformed-structure error at an offset of the resource.
func errAt(off int64, format string, args ...any) error {
	return fmt.Errorf("%w: metadata at offset %d: %s", ErrFormat, off, fmt.Sprintf(format, args...))
}

// dentryResult is a decoded dentry with the fields needed to walk the tree.
type dentryResult struct {
	e      *Entry
	subdir int64
	next   int64 // offset after the dentry and its stream entries
}

// parseDentry decodes the dentry at off. It returns a nil entry for an end
// marker (length <= 8).
func (p *metaParser) parseDentry(off int64) (dentryResult, error) {
	b := p.b
	if off < 0 || off+8 > int64(len(b)) {
		return dentryResult{}, errAt(off, "dentry beyond the end of the resource (%d bytes)", len(b))
	}
	// The whole 64-bit length counts: a length with its top bits set is
	// out of range, not an end marker.
	le := binary.LittleEndian
	raw := le.Uint64(b[off:])
	if raw <= 8 {
		return dentryResult{next: off + 8}, nil
	}
	length := int64(min(raw, uint64(len(b))+1))
	if length < dentryFixedSize || off+length > int64(len(b)) {
		return dentryResult{}, errAt(off, "dentry length %d out of range", raw)
	}
	if err := p.span(off, length); err != nil {
		return dentryResult{}, err
	}
	d := b[off : off+length]
	pe := p.newEntry()
	e := &pe.e // zero: set field by field, which needs no write barriers
	e.Attributes = le.Uint32(d[0x08:])
	e.SecurityID = int32(le.Uint32(d[0x0C:]))
	e.CreationTime = Filetime(le.Uint64(d[0x28:]))
	e.LastAccessTime = Filetime(le.Uint64(d[0x30:]))
	e.LastWriteTime = Filetime(le.Uint64(d[0x38:]))
	subdir := int64(le.Uint64(d[0x10:]) & (1<<62 - 1))
	var mainHash Hash
	copy(mainHash[:], d[0x40:0x54])
	if e.IsReparse() {
		tag, reserved, flags := le.Uint32(d[0x58:]), le.Uint16(d[0x5C:]), le.Uint16(d[0x5E:])
		if tag != 0 || reserved != 0 || flags != 0 {
			x := e.ext()
			x.ReparseTag, x.ReparseReserved, x.ReparseFlags = tag, reserved, flags
		}
	} else {
		e.LinkID = le.Uint64(d[0x58:])
	}
	nstreams := int(le.Uint16(d[0x60:]))
	shortLen := int64(le.Uint16(d[0x62:]))
	nameLen := int64(le.Uint16(d[0x64:]))
	pos := int64(dentryFixedSize)
	var err error
	if e.Name, pos, err = p.readName(d, pos, nameLen); err != nil {
		return dentryResult{}, errAt(off, "long name: %v", err)
	}
	var short string
	if short, pos, err = p.readName(d, pos, shortLen); err != nil {
		return dentryResult{}, errAt(off, "short name: %v", err)
	}
	if short != "" {
		e.ext().ShortName = short
	}
	if err := parseTaggedItems(e, &pe.u, d, align8(pos)); err != nil {
		return dentryResult{}, errAt(off, "%v", err)
	}
	next := off + align8(length)
	var few [2]Stream // most dentries have no stream entries, a few one or two
	extra := few[:0]
	for i := 0; i < nstreams; i++ {
		s, n, err := p.parseStreamEntry(next)
		if err != nil {
			return dentryResult{}, err
		}
		extra = append(extra, s)
		next = n
	}
	assignStreams(e, mainHash, extra)
	return dentryResult{e: e, subdir: subdir, next: next}, nil
}

// span counts length more bytes read as a dentry or stream entry at off.
func (p *metaParser) span(off, length int64) error {
	if p.spanned += length; p.spanned > int64(len(p.b)) {
		return errAt(off, "dentries overlap: they span more than the resource's %d bytes", len(p.b))
	}
	return nil
}

// readName reads a UTF-16LE name of n bytes at pos plus its terminator.
func (p *metaParser) readName(d []byte, pos, n int64) (string, int64, error) {
	if n == 0 {
		return "", pos, nil
	}
	if n%2 != 0 || pos+n+2 > int64(len(d)) {
		return "", 0, fmt.Errorf("length %d does not fit the dentry", n)
	}
	u := p.u16[:0]
	for i := int64(0); i < n; i += 2 {
		u = append(u, binary.LittleEndian.Uint16(d[pos+i:]))
	}
	p.u16 = u
	p.u8 = appendDecodedName(p.u8[:0], u)
	return string(p.u8), pos + n + 2, nil
}

// parseStreamEntry decodes the extra stream entry at off.
func (p *metaParser) parseStreamEntry(off int64) (Stream, int64, error) {
	b := p.b
	if off+streamEntryFixed > int64(len(b)) {
		return Stream{}, 0, errAt(off, "stream entry beyond the end of the resource")
	}
	le := binary.LittleEndian
	raw := le.Uint64(b[off:])
	length := int64(min(raw, uint64(len(b))+1))
	if length < streamEntryFixed || off+length > int64(len(b)) {
		return Stream{}, 0, errAt(off, "stream entry length %d out of range", raw)
	}
	if err := p.span(off, length); err != nil {
		return Stream{}, 0, err
	}
	var s Stream
	copy(s.Hash[:], b[off+16:off+36])
	nameLen := int64(le.Uint16(b[off+36:]))
	name, _, err := p.readName(b[off:off+length], streamEntryFixed, nameLen)
	if err != nil {
		return Stream{}, 0, errAt(off, "stream name: %v", err)
	}
	s.Name = name
	return s, off + align8(length), nil
}

// assignStreams distributes the main hash and extra entries over the data,
// reparse and named streams, as wimlib interprets every writer's output.
func assignStreams(e *Entry, main Hash, extra []Stream) {
	if len(extra) == 0 && !e.IsReparse() {
		e.Data.Hash = main // most entries
		return
	}
	var few [3]Hash
	unnamed := few[:0]
	hasUnnamedExtra := false
	for _, s := range extra {
		if s.Name == "" {
			hasUnnamedExtra = true
		}
	}
	if !main.IsZero() || !hasUnnamedExtra {
		unnamed = append(unnamed, main)
	}
	for _, s := range extra {
		if s.Name != "" {
			x := e.ext()
			x.Named = append(x.Named, Stream{Name: s.Name, Hash: s.Hash})
			continue
		}
		unnamed = append(unnamed, s.Hash)
	}
	if e.IsReparse() && len(unnamed) > 0 {
		if !unnamed[0].IsZero() {
			e.ext().Reparse.Hash = unnamed[0]
		}
		unnamed = unnamed[1:]
	}
	if len(unnamed) > 0 {
		e.Data.Hash = unnamed[0]
	}
}

// parseTaggedItems decodes the tagged items in d[pos:].
// UNIX data goes to u, which e then points to.
func parseTaggedItems(e *Entry, u *UnixData, d []byte, pos int64) error {
	le := binary.LittleEndian
	for pos+8 <= int64(len(d)) {
		tag := le.Uint32(d[pos:])
		n := int64(le.Uint32(d[pos+4:]))
		start := pos + 8
		if start+n > int64(len(d)) {
			return fmt.Errorf("tagged item 0x%x of %d bytes overruns the dentry", tag, n)
		}
		data := d[start : start+n]
		switch {
		case tag == tagUnixData && n >= 16:
			*u = UnixData{UID: le.Uint32(data), GID: le.Uint32(data[4:]), Mode: le.Uint32(data[8:]), Rdev: le.Uint32(data[12:])}
			e.Unix = u
		case tag == tagXattr:
			xs, err := parseXattrs(data)
			if err != nil {
				return err
			}
			e.Xattrs = append(e.Xattrs, xs...)
		case tag == tagObjectID && n >= 16:
			e.ext().ObjectID = append([]byte(nil), data...)
		default:
			x := e.ext()
			x.Other = append(x.Other, TaggedItem{Tag: tag, Data: append([]byte(nil), data...)})
		}
		pos = align8(start + n)
	}
	return nil
}

// parseXattrs decodes the entries of an extended-attribute item.
func parseXattrs(d []byte) ([]Xattr, error) {
	var xs []Xattr
	for len(d) > 0 {
		if len(d) < 4 {
			return nil, fmt.Errorf("xattr item: %d trailing bytes", len(d))
		}
		vlen := int(binary.LittleEndian.Uint16(d))
		nlen := int(d[2])
		need := 4 + nlen + 1 + vlen
		if nlen == 0 || len(d) < need || d[4+nlen] != 0 {
			return nil, fmt.Errorf("xattr item: malformed entry (name %d bytes, value %d bytes, %d left)", nlen, vlen, len(d))
		}
		x := Xattr{Name: string(d[4 : 4+nlen]), Flags: d[3]}
		if vlen > 0 {
			x.Value = append([]byte(nil), d[5+nlen:need]...)
		}
		xs = append(xs, x)
		d = d[need:]
	}
	return xs, nil
}
