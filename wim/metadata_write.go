package wim

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Marshal encodes m as an uncompressed metadata resource in the layout
// wimlib and DISM write: security data, the root, an 8-byte zero, then one
// sibling list per directory in depth-first pre-order, each list sorted by
// name (case-insensitively, then case-sensitively) and ended by 8 zero bytes.
// It sorts each Children slice in place. Streams are written in wimlib
// 1.14.2's form (see doc.go).
func (m *Metadata) Marshal() ([]byte, error) {
	if m.Root == nil || !m.Root.IsDir() {
		return nil, fmt.Errorf("wim: metadata root must be a directory")
	}
	b := marshalSecurity(m.Security)
	var err error
	rootAt := len(b)
	if b, err = appendDentry(b, m.Root, ""); err != nil {
		return nil, err
	}
	b = binary.LittleEndian.AppendUint64(b, 0)
	return appendChildren(b, rootAt, m.Root)
}

// marshalSecurity encodes the security data block, padded to 8 bytes.
func marshalSecurity(sds [][]byte) []byte {
	n := 8 + 8*len(sds)
	for _, sd := range sds {
		n += len(sd)
	}
	b := make([]byte, 0, align8(int64(n)))
	b = binary.LittleEndian.AppendUint32(b, uint32(align8(int64(n))))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sds)))
	for _, sd := range sds {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(sd)))
	}
	for _, sd := range sds {
		b = append(b, sd...)
	}
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendChildren writes dir's sibling list at the end of b, stores its
// offset in the dentry at dirAt, then writes the lists of its subdirectories.
func appendChildren(b []byte, dirAt int, dir *Entry) ([]byte, error) {
	sortChildren(dir.Children)
	binary.LittleEndian.PutUint64(b[dirAt+0x10:], uint64(len(b)))
	at := make([]int, len(dir.Children))
	var err error
	for i, c := range dir.Children {
		if !validName(c.Name) {
			return nil, fmt.Errorf("wim: invalid entry name %q", c.Name)
		}
		at[i] = len(b)
		if b, err = appendDentry(b, c, c.Name); err != nil {
			return nil, err
		}
	}
	b = binary.LittleEndian.AppendUint64(b, 0)
	for i, c := range dir.Children {
		if c.IsDir() {
			if b, err = appendChildren(b, at[i], c); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// sortChildren orders siblings as wimlib does.
func sortChildren(cs []*Entry) {
	slices.SortFunc(cs, func(a, b *Entry) int {
		if c := compareFold(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// compareFold compares names by UTF-16 code units after ASCII and simple
// Unicode upper-casing.
func compareFold(a, b string) int {
	return strings.Compare(strings.ToUpper(a), strings.ToUpper(b))
}

// streamList returns the main hash and the extra stream entries for e.
func streamList(e *Entry) (Hash, []Stream) {
	var all []Stream
	if e.IsReparse() {
		all = append(all, Stream{Hash: e.Reparse.Hash})
	}
	if e.Attributes&AttrDirectory == 0 {
		all = append(all, Stream{Hash: e.Data.Hash})
	}
	all = append(all, e.Named...)
	if len(all) == 1 && all[0].Name == "" {
		return all[0].Hash, nil
	}
	return Hash{}, all
}

// appendDentry appends e's dentry and extra stream entries; the subdir
// offset is left 0 for appendChildren to fill.
func appendDentry(b []byte, e *Entry, name string) ([]byte, error) {
	le := binary.LittleEndian
	long := nameUnits(name)
	short := nameUnits(e.ShortName)
	if len(long)*2 > 0xFFFF || len(short)*2 > 0xFFFF {
		return nil, fmt.Errorf("wim: name of %d UTF-16 units is too long", len(long))
	}
	items, err := marshalTaggedItems(e)
	if err != nil {
		return nil, fmt.Errorf("wim: entry %q: %w", name, err)
	}
	main, extra := streamList(e)
	head := int64(dentryFixedSize)
	if len(long) > 0 {
		head += int64(2*len(long) + 2)
	}
	if len(short) > 0 {
		head += int64(2*len(short) + 2)
	}
	length := align8(head) + int64(len(items))
	start := len(b)
	b = slices.Grow(b, int(length))[:start+dentryFixedSize]
	d := b[start:]
	clear(d)
	le.PutUint64(d, uint64(length))
	le.PutUint32(d[0x08:], e.Attributes)
	le.PutUint32(d[0x0C:], uint32(e.SecurityID))
	le.PutUint64(d[0x28:], uint64(e.CreationTime))
	le.PutUint64(d[0x30:], uint64(e.LastAccessTime))
	le.PutUint64(d[0x38:], uint64(e.LastWriteTime))
	copy(d[0x40:], main[:])
	if e.IsReparse() {
		le.PutUint32(d[0x58:], e.ReparseTag)
		le.PutUint16(d[0x5C:], e.ReparseReserved)
		le.PutUint16(d[0x5E:], e.ReparseFlags)
	} else {
		le.PutUint64(d[0x58:], e.LinkID)
	}
	le.PutUint16(d[0x60:], uint16(len(extra)))
	le.PutUint16(d[0x62:], uint16(2*len(short)))
	le.PutUint16(d[0x64:], uint16(2*len(long)))
	b = appendUnits(b, long)
	b = appendUnits(b, short)
	for int64(len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	b = append(b, items...)
	for _, s := range extra {
		b = appendStreamEntry(b, s)
	}
	return b, nil
}

// appendUnits appends a UTF-16LE name and its terminator (none if empty).
func appendUnits(b []byte, u []uint16) []byte {
	if len(u) == 0 {
		return b
	}
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, 0, 0)
}

// appendStreamEntry appends one extra stream entry, padded to 8 bytes.
func appendStreamEntry(b []byte, s Stream) []byte {
	u := nameUnits(s.Name)
	n := int64(streamEntryFixed)
	if len(u) > 0 {
		n += int64(2*len(u) + 2)
	}
	start := len(b)
	b = binary.LittleEndian.AppendUint64(b, uint64(align8(n)))
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = append(b, s.Hash[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(2*len(u)))
	b = appendUnits(b, u)
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// marshalTaggedItems encodes e's tagged items, each padded to 8 bytes.
func marshalTaggedItems(e *Entry) ([]byte, error) {
	var b []byte
	if e.ObjectID != nil {
		b = appendItem(b, tagObjectID, e.ObjectID)
	}
	if u := e.Unix; u != nil {
		var d [16]byte
		binary.LittleEndian.PutUint32(d[0:], u.UID)
		binary.LittleEndian.PutUint32(d[4:], u.GID)
		binary.LittleEndian.PutUint32(d[8:], u.Mode)
		binary.LittleEndian.PutUint32(d[12:], u.Rdev)
		b = appendItem(b, tagUnixData, d[:])
	}
	if len(e.Xattrs) > 0 {
		var d []byte
		for _, x := range e.Xattrs {
			if len(x.Name) == 0 || len(x.Name) > 255 || len(x.Value) > 0xFFFF {
				return nil, fmt.Errorf("xattr %q: name of %d bytes or value of %d bytes cannot be stored", x.Name, len(x.Name), len(x.Value))
			}
			d = binary.LittleEndian.AppendUint16(d, uint16(len(x.Value)))
			d = append(d, byte(len(x.Name)), x.Flags)
			d = append(d, x.Name...)
			d = append(d, 0)
			d = append(d, x.Value...)
		}
		b = appendItem(b, tagXattr, d)
	}
	for _, it := range e.Other {
		b = appendItem(b, it.Tag, it.Data)
	}
	return b, nil
}

func appendItem(b []byte, tag uint32, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}
