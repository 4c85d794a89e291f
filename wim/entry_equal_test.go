package wim

import "testing"

// equalBase is a small image with every field set somewhere.
func equalBase() *Metadata {
	file := &Entry{Name: "f", Attributes: AttrNormal, SecurityID: 0, CreationTime: 1, LastAccessTime: 2,
		LastWriteTime: 3, Data: Stream{Hash: Hash{1}, Size: 9}, Unix: &UnixData{UID: 1, GID: 2, Mode: 0o100644},
		Xattrs: []Xattr{{Name: "user.a", Value: []byte("v")}}}
	link := &Entry{Name: "l", Attributes: AttrReparsePoint, LinkID: 7, Ext: &EntryExt{ShortName: "L~1",
		Reparse: Stream{Hash: Hash{2}, Size: 4}, ReparseTag: 0xa000000c, Named: []Stream{{Name: "ads", Size: 1}},
		ObjectID: make([]byte, 16), Other: []TaggedItem{{Tag: 9, Data: []byte{1}}}}}
	sub := &Entry{Name: "d", Attributes: AttrDirectory, Children: []*Entry{{Name: "g", Attributes: AttrNormal}}}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1, Children: []*Entry{file, link, sub}}
	return &Metadata{Security: [][]byte{{1, 2, 3}}, Root: root}
}

func TestMetadataEqual(t *testing.T) {
	base := equalBase()
	if !base.Equal(equalBase()) {
		t.Fatal("two equal images differ")
	}
	shared := &Metadata{Security: base.Security, Root: &Entry{Attributes: AttrDirectory, SecurityID: -1,
		Children: base.Root.Children}}
	if !base.Equal(shared) {
		t.Fatal("an image sharing its entries differs")
	}
	changes := map[string]func(m *Metadata){
		"security":      func(m *Metadata) { m.Security[0][1] = 9 },
		"no security":   func(m *Metadata) { m.Security = nil },
		"name":          func(m *Metadata) { m.Root.Children[0].Name = "F" },
		"attributes":    func(m *Metadata) { m.Root.Children[0].Attributes |= AttrHidden },
		"security id":   func(m *Metadata) { m.Root.Children[0].SecurityID = -1 },
		"creation":      func(m *Metadata) { m.Root.Children[0].CreationTime++ },
		"access":        func(m *Metadata) { m.Root.Children[0].LastAccessTime++ },
		"write":         func(m *Metadata) { m.Root.Children[0].LastWriteTime++ },
		"data hash":     func(m *Metadata) { m.Root.Children[0].Data.Hash[3] = 1 },
		"data size":     func(m *Metadata) { m.Root.Children[0].Data.Size++ },
		"unix mode":     func(m *Metadata) { m.Root.Children[0].Unix.Mode |= 0o4000 },
		"no unix":       func(m *Metadata) { m.Root.Children[0].Unix = nil },
		"xattr value":   func(m *Metadata) { m.Root.Children[0].Xattrs[0].Value[0] = 'w' },
		"xattr flags":   func(m *Metadata) { m.Root.Children[0].Xattrs[0].Flags = 0x80 },
		"xattr added":   func(m *Metadata) { m.Root.Children[0].Xattrs = append(m.Root.Children[0].Xattrs, Xattr{Name: "b"}) },
		"link id":       func(m *Metadata) { m.Root.Children[1].LinkID = 8 },
		"short name":    func(m *Metadata) { m.Root.Children[1].Ext.ShortName = "" },
		"reparse":       func(m *Metadata) { m.Root.Children[1].Ext.Reparse.Size = 5 },
		"reparse tag":   func(m *Metadata) { m.Root.Children[1].Ext.ReparseTag = 0xa0000003 },
		"reparse flags": func(m *Metadata) { m.Root.Children[1].Ext.ReparseFlags = 1 },
		"named stream":  func(m *Metadata) { m.Root.Children[1].Ext.Named[0].Name = "ADS" },
		"object id":     func(m *Metadata) { m.Root.Children[1].Ext.ObjectID[0] = 1 },
		"no object id":  func(m *Metadata) { m.Root.Children[1].Ext.ObjectID = nil },
		"tagged item":   func(m *Metadata) { m.Root.Children[1].Ext.Other[0].Data[0] = 2 },
		"no ext":        func(m *Metadata) { m.Root.Children[1].Ext = nil },
		"grandchild":    func(m *Metadata) { m.Root.Children[2].Children[0].LastWriteTime = 5 },
		"child added": func(m *Metadata) {
			m.Root.Children[2].Children = append(m.Root.Children[2].Children, &Entry{Name: "h"})
		},
		"child removed": func(m *Metadata) { m.Root.Children = m.Root.Children[:2] },
		"order": func(m *Metadata) {
			c := m.Root.Children
			c[0], c[1] = c[1], c[0]
		},
		"root": func(m *Metadata) { m.Root.Attributes |= AttrHidden },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			m := equalBase()
			change(m)
			if base.Equal(m) || m.Equal(base) {
				t.Error("the changed image is equal")
			}
		})
	}
}
