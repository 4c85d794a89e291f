package wim

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Marshal encodes m as an uncompressed metadata resource in the layout
// wimlib and DISM write: security data, the root, an 8-byte zero, then one
// sibling list per directory in depth-first pre-order, each list sorted by
// name (case-insensitively, then case-sensitively) and ended by 8 zero bytes.
// It sorts each Children slice in place. Streams are written in wimlib
// 1.14.2's form (see doc.go).
func (m *Metadata) Marshal() ([]byte, error) {
	r, size, err := m.Encoder()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Encoder returns a reader of the bytes Marshal returns, and their
// length, for a caller that stores them without holding them whole: it
// encodes one sibling list at a time. It checks and lays out the tree
// (sorting each Children slice) before it returns, so its errors are
// Marshal's, and reading cannot fail. m must not change until the reader
// is done.
func (m *Metadata) Encoder() (io.Reader, int64, error) {
	encs, size, err := m.Encoders(1)
	if err != nil {
		return nil, 0, err
	}
	return encs[0], size, nil
}

// Encoders is Encoder for n readers of the same bytes, which may be read
// on different goroutines: the tree is checked and laid out once.
func (m *Metadata) Encoders(n int) ([]io.Reader, int64, error) {
	enc, err := newMetaEncoder(m)
	if err != nil {
		return nil, 0, err
	}
	encs := make([]io.Reader, n)
	for i := range encs {
		c := *enc // shares the layout (subdirs), which is only read from now on
		encs[i] = &c
	}
	return encs, enc.size, nil
}

// metaEncoder produces the bytes Marshal returns piece by piece, one dentry
// at a time, so that a large tree is never held in memory as one buffer.
// newMetaEncoder lays the tree out first: it sorts the children, checks
// every entry and learns the offset of each directory's sibling list; Read
// then cannot fail.
type metaEncoder struct {
	size    int64            // total length
	subdirs map[*Entry]int64 // offset of each directory's sibling list
	root    *Entry
	buf     []byte   // encoded bytes not yet read
	pending []byte   // security data, then the root, until read
	dir     *Entry   // directory whose sibling list is being produced
	next    int      // index of the next child of dir
	stack   []*Entry // directories whose lists come later (top last)
}

func newMetaEncoder(m *Metadata) (*metaEncoder, error) {
	if m.Root == nil || !m.Root.IsDir() {
		return nil, fmt.Errorf("wim: metadata root must be a directory")
	}
	enc := &metaEncoder{root: m.Root, subdirs: map[*Entry]int64{}}
	sec := marshalSecurity(m.Security)
	b, err := appendDentry(sec, m.Root, "")
	if err != nil {
		return nil, err
	}
	b = binary.LittleEndian.AppendUint64(b, 0)
	rootAt := len(sec)
	// Lay the sibling lists out in the order Read produces them.
	pos := int64(len(b))
	var scratch []byte
	for stack := []*Entry{m.Root}; len(stack) > 0; {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		enc.subdirs[dir] = pos
		sortChildren(dir.Children)
		for _, c := range dir.Children {
			if !validName(c.Name) {
				return nil, fmt.Errorf("wim: invalid entry name %q", c.Name)
			}
			if scratch, err = appendDentry(scratch[:0], c, c.Name); err != nil {
				return nil, err
			}
			pos += int64(len(scratch))
		}
		pos += 8
		stack = pushDirs(stack, dir.Children)
	}
	binary.LittleEndian.PutUint64(b[rootAt+0x10:], uint64(enc.subdirs[m.Root]))
	enc.size, enc.pending, enc.dir = pos, b, m.Root
	return enc, nil
}

// pushDirs pushes the directories among children in reverse, so that the
// first is popped first.
func pushDirs(stack, children []*Entry) []*Entry {
	for i := len(children) - 1; i >= 0; i-- {
		if children[i].IsDir() {
			stack = append(stack, children[i])
		}
	}
	return stack
}

// Read implements io.Reader.
func (enc *metaEncoder) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(enc.pending) == 0 && !enc.fill() {
			break
		}
		c := copy(p[n:], enc.pending)
		enc.pending = enc.pending[c:]
		n += c
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// fill encodes the next dentry or list end into pending; it reports false
// at the end.
func (enc *metaEncoder) fill() bool {
	if enc.dir == nil {
		return false
	}
	b := enc.buf[:0]
	if enc.next < len(enc.dir.Children) {
		c := enc.dir.Children[enc.next]
		enc.next++
		b, _ = appendDentry(b, c, c.Name) // checked by newMetaEncoder
		if c.IsDir() {
			binary.LittleEndian.PutUint64(b[0x10:], uint64(enc.subdirs[c]))
		}
	} else {
		b = binary.LittleEndian.AppendUint64(b, 0)
		enc.stack = pushDirs(enc.stack, enc.dir.Children)
		enc.dir, enc.next = nil, 0
		if len(enc.stack) > 0 {
			enc.dir = enc.stack[len(enc.stack)-1]
			enc.stack = enc.stack[:len(enc.stack)-1]
		}
	}
	enc.buf, enc.pending = b, b
	return true
}

// sortChildren orders siblings as wimlib does.
func sortChildren(cs []*Entry) {
	slices.SortFunc(cs, func(a, b *Entry) int { return CompareNames(a.Name, b.Name) })
}

// CompareNames orders sibling names as wimlib and DISM write them:
// case-insensitively (rune by rune after upper-casing, a byte that is not
// UTF-8 counting as its escape U+DC00+byte), then byte by byte. It
// allocates nothing.
func CompareNames(a, b string) int {
	// Equal bytes fold equally: start at the rune holding the first
	// difference. Siblings often share long prefixes.
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	for i > 0 && (i < len(a) && !utf8.RuneStart(a[i]) || i < len(b) && !utf8.RuneStart(b[i])) {
		i--
	}
	// Whether the WTF-8 form of a high surrogate encodes as itself depends
	// on the bytes after it, up to maxHighRun more of them: start before
	// those that end at the difference.
	for k := 0; k < maxHighRun+2 && i >= 3; k++ {
		if c, ok := wtf8Surrogate(a[i-3:]); !ok || c >= 0xDC00 {
			break
		}
		i -= 3
	}
	if c := compareFold(a[i:], b[i:]); c != 0 {
		return c
	}
	return strings.Compare(a[i:], b[i:])
}

// compareFold compares a and b rune by rune after upper-casing.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		ra, na := foldRune(a)
		rb, nb := foldRune(b)
		if ra != rb {
			return cmp.Compare(ra, rb)
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// foldRune decodes and upper-cases the first rune of s.
func foldRune(s string) (rune, int) {
	if c := s[0]; c < utf8.RuneSelf {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		return rune(c), 1
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		if c, ok := loneSurrogate(s); ok {
			return rune(c), 3 // as wim encodes it
		}
		return 0xDC00 + rune(s[0]), 1 // as wim escapes it
	}
	return unicode.ToUpper(r), n
}

// streamList returns the main hash and the extra stream entries for e. The
// common entry, without reparse data or named streams, costs no allocation.
func streamList(e *Entry) (Hash, []Stream) {
	if !e.IsReparse() && len(e.NamedStreams()) == 0 {
		if e.Attributes&AttrDirectory != 0 {
			return Hash{}, nil
		}
		return e.Data.Hash, nil
	}
	var all []Stream
	if e.IsReparse() {
		all = append(all, Stream{Hash: e.ReparseStream().Hash})
	}
	if e.Attributes&AttrDirectory == 0 {
		all = append(all, Stream{Hash: e.Data.Hash})
	}
	all = append(all, e.NamedStreams()...)
	if len(all) == 1 && all[0].Name == "" {
		return all[0].Hash, nil
	}
	return Hash{}, all
}

// appendDentry appends e's dentry and extra stream entries; the subdir
// offset is left 0 for the metaEncoder to fill. It writes in place, without
// allocating per entry.
func appendDentry(b []byte, e *Entry, name string) ([]byte, error) {
	le := binary.LittleEndian
	start := len(b)
	b = append(b, make([]byte, dentryFixedSize)...)
	var longLen, shortLen int
	b, longLen = appendName(b, name)
	b, shortLen = appendName(b, e.ShortName())
	if longLen > 0xFFFF || shortLen > 0xFFFF {
		return nil, fmt.Errorf("wim: name of %d bytes in UTF-16 is too long", max(longLen, shortLen))
	}
	b = pad8(b, start)
	b, err := appendTaggedItems(b, e)
	if err != nil {
		return nil, fmt.Errorf("wim: entry %q: %w", name, err)
	}
	main, extra := streamList(e)
	d := b[start:]
	le.PutUint64(d, uint64(len(d)))
	le.PutUint32(d[0x08:], e.Attributes)
	le.PutUint32(d[0x0C:], uint32(e.SecurityID))
	le.PutUint64(d[0x28:], uint64(e.CreationTime))
	le.PutUint64(d[0x30:], uint64(e.LastAccessTime))
	le.PutUint64(d[0x38:], uint64(e.LastWriteTime))
	copy(d[0x40:], main[:])
	if e.IsReparse() {
		if x := e.Ext; x != nil {
			le.PutUint32(d[0x58:], x.ReparseTag)
			le.PutUint16(d[0x5C:], x.ReparseReserved)
			le.PutUint16(d[0x5E:], x.ReparseFlags)
		}
	} else {
		le.PutUint64(d[0x58:], e.LinkID)
	}
	le.PutUint16(d[0x60:], uint16(len(extra)))
	le.PutUint16(d[0x62:], uint16(shortLen))
	le.PutUint16(d[0x64:], uint16(longLen))
	for _, s := range extra {
		b = appendStreamEntry(b, s)
	}
	return b, nil
}

// appendName appends a name in UTF-16LE and its terminator (none if the
// name is empty), and returns the name's length in bytes.
func appendName(b []byte, name string) ([]byte, int) {
	if name == "" {
		return b, 0
	}
	start := len(b)
	b = appendNameUTF16LE(b, name)
	n := len(b) - start
	return append(b, 0, 0), n
}

// pad8 appends zero bytes until len(b)-start is a multiple of 8.
func pad8(b []byte, start int) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendStreamEntry appends one extra stream entry, padded to 8 bytes.
func appendStreamEntry(b []byte, s Stream) []byte {
	start := len(b)
	b = append(b, make([]byte, streamEntryFixed)...)
	var n int
	b, n = appendName(b, s.Name)
	b = pad8(b, start)
	d := b[start:]
	binary.LittleEndian.PutUint64(d, uint64(len(d)))
	copy(d[16:], s.Hash[:])
	binary.LittleEndian.PutUint16(d[36:], uint16(n))
	return b
}

// appendTaggedItems appends e's tagged items, each padded to 8 bytes.
func appendTaggedItems(b []byte, e *Entry) ([]byte, error) {
	x := e.Ext
	if x != nil && x.ObjectID != nil {
		b = appendItem(b, tagObjectID, x.ObjectID)
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
		start := len(b)
		b = append(b, make([]byte, 8)...)
		for _, x := range e.Xattrs {
			if len(x.Name) == 0 || len(x.Name) > 255 || len(x.Value) > 0xFFFF {
				return nil, fmt.Errorf("xattr %q: name of %d bytes or value of %d bytes cannot be stored", x.Name, len(x.Name), len(x.Value))
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(len(x.Value)))
			b = append(b, byte(len(x.Name)), x.Flags)
			b = append(b, x.Name...)
			b = append(b, 0)
			b = append(b, x.Value...)
		}
		binary.LittleEndian.PutUint32(b[start:], tagXattr)
		binary.LittleEndian.PutUint32(b[start+4:], uint32(len(b)-start-8))
		b = pad8(b, start)
	}
	if x != nil {
		for _, it := range x.Other {
			b = appendItem(b, it.Tag, it.Data)
		}
	}
	return b, nil
}

func appendItem(b []byte, tag uint32, data []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return pad8(b, start)
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
