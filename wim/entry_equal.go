package wim

import (
	"bytes"
	"slices"
)

// Equal reports whether m and o hold the same image: the same security
// descriptors and the same tree, every entry equal to its counterpart in
// every field, children in the same order. Dropped is not compared (it is
// not written). A subtree the two share (the same *Entry) is equal
// without a look inside, so comparing an image with the one it was
// updated from costs little more than its changed entries; the answer is
// false, never wrong, for trees that differ only in ways the encoding
// would hide (a nil Ext against an empty one).
func (m *Metadata) Equal(o *Metadata) bool {
	return slices.EqualFunc(m.Security, o.Security, bytes.Equal) && sameTree(m.Root, o.Root)
}

// sameTree reports whether a and b are equal entries with equal children.
func sameTree(a, b *Entry) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || !a.sameFields(b) || len(a.Children) != len(b.Children) {
		return false
	}
	for i, c := range a.Children {
		if !sameTree(c, b.Children[i]) {
			return false
		}
	}
	return true
}

// sameFields reports whether e and o are equal in every field but
// Children.
func (e *Entry) sameFields(o *Entry) bool {
	return e.Name == o.Name && e.Attributes == o.Attributes && e.SecurityID == o.SecurityID &&
		e.CreationTime == o.CreationTime && e.LastAccessTime == o.LastAccessTime &&
		e.LastWriteTime == o.LastWriteTime && e.Data == o.Data && e.LinkID == o.LinkID &&
		sameUnix(e.Unix, o.Unix) && slices.EqualFunc(e.Xattrs, o.Xattrs, sameXattr) && sameExt(e.Ext, o.Ext)
}

func sameUnix(a, b *UnixData) bool {
	return a == b || a != nil && b != nil && *a == *b
}

func sameXattr(a, b Xattr) bool {
	return a.Name == b.Name && a.Flags == b.Flags && bytes.Equal(a.Value, b.Value)
}

func sameExt(a, b *EntryExt) bool {
	if a == b {
		return true
	}
	return a != nil && b != nil && a.ShortName == b.ShortName && a.Reparse == b.Reparse &&
		a.ReparseTag == b.ReparseTag && a.ReparseReserved == b.ReparseReserved &&
		a.ReparseFlags == b.ReparseFlags && slices.Equal(a.Named, b.Named) &&
		(a.ObjectID == nil) == (b.ObjectID == nil) && bytes.Equal(a.ObjectID, b.ObjectID) && slices.EqualFunc(a.Other, b.Other, sameTagged)
}

func sameTagged(a, b TaggedItem) bool {
	return a.Tag == b.Tag && bytes.Equal(a.Data, b.Data)
}
