package wim

import (
	"encoding/binary"
	"slices"
	"strings"
)

// ParseMetadata decodes an uncompressed metadata resource: the security data
// and the directory tree. Entries that wimlib also drops (unnamed non-root
// entries, "." and "..", names with NUL, a second entry of the same name,
// children of non-directories) are dropped; those dropped for their names
// are counted in Metadata.Dropped, for the caller to warn about as wimlib
// does. Structural damage is an error wrapping ErrFormat. Memory use is
// bounded by a small multiple of len(b).
func ParseMetadata(b []byte) (*Metadata, error) {
	m := &Metadata{}
	rootOff, err := parseSecurity(m, b)
	if err != nil {
		return nil, err
	}
	p := &metaParser{b: b, visited: map[int64]bool{}}
	root, err := p.parseDentry(rootOff)
	if err != nil {
		return nil, err
	}
	if root.e == nil || !root.e.IsDir() {
		return nil, errAt(rootOff, "root is not a directory")
	}
	root.e.Name = ""
	if x := root.e.Ext; x != nil {
		x.ShortName = ""
	}
	m.Root = root.e
	if root.subdir != 0 {
		if err := p.readChildren(root.e, root.subdir, 1); err != nil {
			return nil, err
		}
	}
	fixSecurityIDs(m.Root, len(m.Security))
	m.Dropped = p.dropped
	return m, nil
}

// parseSecurity decodes the security data and returns the root's offset.
func parseSecurity(m *Metadata, b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, errAt(0, "resource of %d bytes has no security data", len(b))
	}
	le := binary.LittleEndian
	total := int64(le.Uint32(b))
	count := int64(le.Uint32(b[4:]))
	if total == 0 {
		total = 8
	}
	if 8+8*count > int64(len(b)) {
		return 0, errAt(4, "%d security descriptors do not fit", count)
	}
	pos := 8 + 8*count
	for i := int64(0); i < count; i++ {
		n := int64(min(le.Uint64(b[8+8*i:]), 1<<40))
		if n > int64(len(b))-pos {
			return 0, errAt(8+8*i, "security descriptor %d of %d bytes overruns the resource", i, n)
		}
		m.Security = append(m.Security, append([]byte(nil), b[pos:pos+n]...))
		pos += n
	}
	if total < pos {
		total = pos
	}
	return align8(total), nil
}

// readChildren reads the sibling list at off into dir.Children.
func (p *metaParser) readChildren(dir *Entry, off int64, depth int) error {
	if depth > maxTreeDepth {
		return errAt(off, "directory tree deeper than %d", maxTreeDepth)
	}
	if p.visited[off] {
		return errAt(off, "sibling list reached twice (cycle)")
	}
	p.visited[off] = true
	// The children gather in p.kids and are copied out once, at their
	// number; the subdirectories wait on p.subs above those of the
	// directories being read.
	var names siblings
	kids := p.kids[:0]
	base := len(p.subs)
	for {
		d, err := p.parseDentry(off)
		if err != nil {
			return err
		}
		if d.e == nil {
			break
		}
		off = d.next
		if p.entries++; p.entries > len(p.b)/8 {
			return errAt(off, "more entries than the resource can hold")
		}
		if !validName(d.e.Name) || !names.add(kids, d.e.Name) {
			p.dropped++
			continue
		}
		kids = append(kids, d.e)
		if d.e.IsDir() && d.subdir != 0 {
			p.subs = append(p.subs, subdirAt{d.e, d.subdir})
		}
	}
	p.kids = kids
	if len(kids) > 0 {
		dir.Children = slices.Clone(kids)
	}
	end := len(p.subs)
	for i := base; i < end; i++ {
		s := p.subs[i]
		if err := p.readChildren(s.e, s.off, depth+1); err != nil {
			return err
		}
	}
	p.subs = p.subs[:base]
	return nil
}

// siblings finds a second child of the same name in one directory.
// Writers sort siblings (wimsnap and wimlib by CompareNames), so a name
// after the last one kept in that order is new without a lookup; the set
// of names is built only for a list out of that order.
type siblings struct {
	seen map[string]bool // nil while the names are in order
}

// add reports whether name is new among kept, the names kept so far, to
// which the caller then appends it.
func (s *siblings) add(kept []*Entry, name string) bool {
	if s.seen == nil {
		if len(kept) == 0 || CompareNames(kept[len(kept)-1].Name, name) < 0 {
			return true
		}
		s.seen = make(map[string]bool, 2*len(kept))
		for _, e := range kept {
			s.seen[e.Name] = true
		}
	}
	if s.seen[name] {
		return false
	}
	s.seen[name] = true
	return true
}

// validName reports whether a child name is one wimlib keeps.
func validName(n string) bool {
	if n == "" || n == "." || n == ".." {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] == 0 {
			return false
		}
	}
	return true
}

// fixSecurityIDs maps out-of-range security ids to -1, as wimlib does.
func fixSecurityIDs(e *Entry, n int) {
	if e.SecurityID < -1 || int(e.SecurityID) >= n {
		e.SecurityID = -1
	}
	for _, c := range e.Children {
		fixSecurityIDs(c, n)
	}
}

// Walk calls fn for every entry of the tree in depth-first pre-order, with
// its path from the root ("/" for the root, "/a/b" below it). It stops at the
// first error fn returns. Each path is built for its call and not kept, so
// memory stays in proportion to the deepest path; a walk that needs paths
// only for messages should use Visit, which builds none unless asked.
func (m *Metadata) Walk(fn func(path string, e *Entry) error) error {
	return m.Visit(func(e *Entry, path func() string) error { return fn(path(), e) })
}

// Visit calls fn for every entry of the tree in depth-first pre-order, as
// Walk does; path returns the entry's path, built when called and valid
// during the call only. A tree thousands of levels deep with long names has
// paths of megabytes, which a walk that builds none (or builds one for an
// error) does not pay for.
func (m *Metadata) Visit(fn func(e *Entry, path func() string) error) error {
	if m.Root == nil {
		return nil
	}
	var stack []*Entry // the entry being visited and its ancestors, root first
	path := func() string { return joinPath(stack) }
	var visit func(e *Entry) error
	visit = func(e *Entry) error {
		stack = append(stack, e)
		defer func() { stack = stack[:len(stack)-1] }()
		if err := fn(e, path); err != nil {
			return err
		}
		for _, c := range e.Children {
			if err := visit(c); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(m.Root)
}

// joinPath returns the path of the last entry of stack, whose first is the
// root: "/" for the root alone, else "/a/b" (a root's name, which images
// leave empty, is its first component).
func joinPath(stack []*Entry) string {
	if len(stack) > 0 && stack[0].Name == "" {
		stack = stack[1:]
	}
	if len(stack) == 0 {
		return "/"
	}
	n := 0
	for _, e := range stack {
		n += 1 + len(e.Name)
	}
	var b strings.Builder
	b.Grow(n)
	for _, e := range stack {
		b.WriteByte('/')
		b.WriteString(e.Name)
	}
	return b.String()
}

// SetStreamSizes sets the Size of every stream in the tree (data, reparse
// and named streams) to size(hash); an empty stream (zero hash) gets 0
// without a call. The first error of size stops the walk and is returned.
func (m *Metadata) SetStreamSizes(size func(Hash) (int64, error)) error {
	var err error
	m.Streams(func(s *Stream) {
		switch {
		case s.Hash.IsZero():
			s.Size = 0
		case err == nil:
			s.Size, err = size(s.Hash)
		}
	})
	return err
}

// Streams calls fn with every stream in the tree (data, reparse and named
// streams, empty ones included), in tree order; fn may change the stream.
func (m *Metadata) Streams(fn func(*Stream)) {
	if m.Root != nil {
		eachStream(m.Root, fn)
	}
}

func eachStream(e *Entry, fn func(*Stream)) {
	fn(&e.Data)
	if x := e.Ext; x != nil {
		fn(&x.Reparse)
		for i := range x.Named {
			fn(&x.Named[i])
		}
	}
	for _, c := range e.Children {
		eachStream(c, fn)
	}
}
