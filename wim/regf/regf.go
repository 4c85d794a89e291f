// Package regf reads Windows registry hive files (the "regf" format of
// Windows\System32\config\SOFTWARE, SYSTEM and the like), as much as an
// imaging tool needs: looking up keys by path, listing subkeys and reading
// values. It never writes.
//
// A hive is read through an [io.ReaderAt], cell by cell, so a hive of
// hundreds of megabytes costs only the cells a lookup touches. Every offset,
// count and size read from the file is checked against the file and against
// fixed caps before it is used: a hostile hive gives [ErrFormat], never a
// panic or an unbounded allocation or walk.
//
// Layout, as Windows writes it (and hivex, and wimlib's reader, agree):
//
//   - a 4096-byte base block: "regf", sequence numbers, major version 1,
//     the root key's cell offset at 0x24 and the size of the hive-bin data
//     at 0x28;
//   - hive bins ("hbin", 4 KiB multiples) from file offset 4096, holding
//     cells. A cell starts with a signed 32-bit size (negative: in use) that
//     includes those 4 bytes; cell offsets count from the first hive bin;
//   - key cells ("nk"), subkey lists ("lf", "lh", "li", or "ri" of lists),
//     value lists (bare arrays of cell offsets), value cells ("vk"), data
//     cells, and big data ("db") for values over 16344 bytes.
//
// Names compare case-insensitively, as Windows does (Unicode simple case
// folding stands in for the hive's upcase table).
package regf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Errors. Every error this package returns wraps one of them.
var (
	// ErrFormat means the hive is malformed or truncated.
	ErrFormat = errors.New("regf: malformed hive")
	// ErrNotFound means a key or value does not exist.
	ErrNotFound = errors.New("regf: not found")
	// ErrType means a value exists but holds another type than asked for.
	ErrType = errors.New("regf: wrong value type")
)

// Value types (REG_*).
const (
	TypeNone       = 0
	TypeString     = 1  // REG_SZ: UTF-16LE, NUL-terminated
	TypeExpand     = 2  // REG_EXPAND_SZ
	TypeBinary     = 3  // REG_BINARY
	TypeDword      = 4  // REG_DWORD, little-endian
	TypeDwordBE    = 5  // REG_DWORD_BIG_ENDIAN
	TypeLink       = 6  // REG_LINK
	TypeMultiSz    = 7  // REG_MULTI_SZ: NUL-separated strings
	TypeQword      = 11 // REG_QWORD, little-endian
	baseBlockBytes = 4096
)

// Caps on what one lookup may read; real hives stay far below them.
const (
	maxCell       = 16 << 20 // bytes of one cell
	maxValueBytes = 4 << 20  // bytes of one value's data
	maxSubkeys    = 1 << 17  // subkeys of one key
	maxValues     = 1 << 16  // values of one key
	maxListDepth  = 4        // "ri" lists nested in "ri" lists
	maxDataSegs   = 1024     // segments of one big-data value
	maxLists      = 1 << 14  // subkey lists read for one key
	bigSegment    = 16344    // payload of one big-data segment
	// Bytes read of a key cell (its fixed part and a name of up to 255
	// UTF-16 characters, Windows' limit) and of a subkey list (65535
	// entries of 8 bytes).
	nkLimit   = 0x4C + 512
	listLimit = 4 + 8*65535
)

// Hive is an open hive file. It is safe for concurrent use if its
// ReaderAt is.
type Hive struct {
	r     io.ReaderAt
	bins  uint32 // bytes of hive-bin data after the base block
	root  uint32 // cell offset of the root key
	minor uint32 // format minor version
}

// Open checks the base block of the hive of size bytes in r.
func Open(r io.ReaderAt, size int64) (*Hive, error) {
	var b [baseBlockBytes]byte
	if size < baseBlockBytes {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the base block", ErrFormat, size)
	}
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, fmt.Errorf("%w: base block: %w", ErrFormat, err)
	}
	if string(b[:4]) != "regf" {
		return nil, fmt.Errorf("%w: no regf signature", ErrFormat)
	}
	if major := le32(b[0x14:]); major != 1 {
		return nil, fmt.Errorf("%w: major version %d, want 1", ErrFormat, major)
	}
	h := &Hive{r: r, root: le32(b[0x24:]), bins: le32(b[0x28:]), minor: le32(b[0x18:])}
	if int64(h.bins) > size-baseBlockBytes {
		return nil, fmt.Errorf("%w: hive bins of %d bytes in a file of %d", ErrFormat, h.bins, size)
	}
	return h, nil
}

// Key is one key of a hive.
type Key struct {
	h    *Hive
	off  uint32
	cell []byte // the nk cell without its size field
}

// Root returns the hive's root key.
func (h *Hive) Root() (*Key, error) { return h.key(h.root) }

// Key returns the key at path: names separated by backslashes, relative to
// the root ("" is the root itself).
func (h *Hive) Key(path string) (*Key, error) {
	k, err := h.Root()
	if err != nil {
		return nil, err
	}
	for name := range strings.SplitSeq(path, `\`) {
		if name == "" {
			continue
		}
		if k, err = k.Subkey(name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return k, nil
}

// key reads the nk cell at off.
func (h *Hive) key(off uint32) (*Key, error) {
	c, err := h.cell(off, nkLimit)
	if err != nil {
		return nil, err
	}
	if len(c) < 0x4C || string(c[:2]) != "nk" {
		return nil, fmt.Errorf("%w: cell %#x is not a key", ErrFormat, off)
	}
	if 0x4C+int(le16(c[0x48:])) > len(c) {
		return nil, fmt.Errorf("%w: key %#x: name longer than 255 characters or past its cell", ErrFormat, off)
	}
	return &Key{h: h, off: off, cell: c}, nil
}

// cell returns the contents of the in-use cell at off (hive-bin relative),
// without its size field, cut to at most limit bytes.
func (h *Hive) cell(off uint32, limit int) ([]byte, error) {
	if off%8 != 0 || off > h.bins || h.bins-off < 8 {
		return nil, fmt.Errorf("%w: cell offset %#x outside the hive bins", ErrFormat, off)
	}
	var sz [4]byte
	if _, err := h.r.ReadAt(sz[:], baseBlockBytes+int64(off)); err != nil {
		return nil, fmt.Errorf("%w: cell %#x: %w", ErrFormat, off, err)
	}
	size := int32(le32(sz[:]))
	if size >= 0 {
		return nil, fmt.Errorf("%w: cell %#x is free", ErrFormat, off)
	}
	n := -int64(size)
	if n < 8 || n > maxCell || n > int64(h.bins-off) {
		return nil, fmt.Errorf("%w: cell %#x of %d bytes", ErrFormat, off, n)
	}
	c := make([]byte, min(n-4, int64(limit)))
	if _, err := h.r.ReadAt(c, baseBlockBytes+int64(off)+4); err != nil {
		return nil, fmt.Errorf("%w: cell %#x: %w", ErrFormat, off, err)
	}
	return c, nil
}

// Name returns the key's name.
func (k *Key) Name() string {
	n := int(le16(k.cell[0x48:]))
	return decodeName(k.cell[0x4C:0x4C+n], le16(k.cell[2:])&0x20 != 0)
}

// Subkeys returns the names of k's subkeys in the hive's order.
func (k *Key) Subkeys() ([]string, error) {
	var names []string
	err := k.eachSubkey(func(sub *Key) bool {
		names = append(names, sub.Name())
		return true
	})
	return names, err
}

// Subkey returns k's subkey called name.
func (k *Key) Subkey(name string) (*Key, error) {
	var found *Key
	err := k.eachSubkey(func(sub *Key) bool {
		if strings.EqualFold(sub.Name(), name) {
			found = sub
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("key %q: %w", name, ErrNotFound)
	}
	return found, nil
}

// eachSubkey calls f for each subkey until f returns false. The subkey
// count in k must match the lists, or the hive is malformed.
func (k *Key) eachSubkey(f func(*Key) bool) error {
	n := le32(k.cell[0x14:])
	if n == 0 {
		return nil
	}
	if n > maxSubkeys {
		return fmt.Errorf("%w: key %#x claims %d subkeys", ErrFormat, k.off, n)
	}
	w := subkeyWalk{h: k.h, left: n, lists: maxLists, f: f}
	if err := w.list(le32(k.cell[0x1C:]), maxListDepth); err != nil {
		return err
	}
	if !w.stopped && w.left != 0 {
		return fmt.Errorf("%w: key %#x: %d subkeys missing from its lists", ErrFormat, k.off, w.left)
	}
	return nil
}

// subkeyWalk visits the subkey lists of one key.
type subkeyWalk struct {
	h       *Hive
	left    uint32 // subkeys the key claims that are not visited yet
	lists   int    // subkey lists that may still be read
	f       func(*Key) bool
	stopped bool
}

// list visits the subkey list at off; depth bounds the "ri" nesting.
func (w *subkeyWalk) list(off uint32, depth int) error {
	if w.lists--; w.lists < 0 {
		return fmt.Errorf("%w: more than %d subkey lists under one key", ErrFormat, maxLists)
	}
	c, err := w.h.cell(off, listLimit)
	if err != nil {
		return err
	}
	if len(c) < 4 {
		return fmt.Errorf("%w: subkey list %#x too short", ErrFormat, off)
	}
	sig, n := string(c[:2]), int(le16(c[2:]))
	stride := 4
	switch sig {
	case "lf", "lh":
		stride = 8
	case "li", "ri":
	default:
		return fmt.Errorf("%w: cell %#x is not a subkey list (%q)", ErrFormat, off, sig)
	}
	if 4+n*stride > len(c) {
		return fmt.Errorf("%w: subkey list %#x: %d entries overrun the cell", ErrFormat, off, n)
	}
	for i := range n {
		elem := le32(c[4+i*stride:])
		if sig == "ri" {
			if depth == 0 {
				return fmt.Errorf("%w: subkey lists nested too deep at %#x", ErrFormat, off)
			}
			err = w.list(elem, depth-1)
		} else {
			err = w.visit(elem)
		}
		if err != nil || w.stopped {
			return err
		}
	}
	return nil
}

// visit reads one subkey and hands it to f.
func (w *subkeyWalk) visit(off uint32) error {
	if w.left == 0 {
		return fmt.Errorf("%w: subkey lists hold more keys than their parent claims", ErrFormat)
	}
	w.left--
	sub, err := w.h.key(off)
	if err != nil {
		return err
	}
	w.stopped = !w.f(sub)
	return nil
}

// Value is a value's type and raw data.
type Value struct {
	Type uint32
	Data []byte
}

// Value returns k's value called name ("" for the default value).
func (k *Key) Value(name string) (Value, error) {
	n := le32(k.cell[0x24:])
	if n > maxValues {
		return Value{}, fmt.Errorf("%w: key %#x claims %d values", ErrFormat, k.off, n)
	}
	if n == 0 {
		return Value{}, fmt.Errorf("value %q: %w", name, ErrNotFound)
	}
	list, err := k.h.cell(le32(k.cell[0x28:]), 4*int(n))
	if err != nil {
		return Value{}, err
	}
	if uint64(len(list)) < 4*uint64(n) {
		return Value{}, fmt.Errorf("%w: key %#x: value list shorter than %d entries", ErrFormat, k.off, n)
	}
	// A stored name longer than twice the UTF-16 length of name cannot
	// match it, so no more of a value cell than that is read.
	limit := 0x14 + 2*len(utf16.Encode([]rune(name)))
	for i := range n {
		vk, err := k.h.cell(le32(list[4*i:]), limit)
		if err != nil {
			return Value{}, err
		}
		if len(vk) < 0x14 || string(vk[:2]) != "vk" {
			return Value{}, fmt.Errorf("%w: key %#x: value %d is not a value cell", ErrFormat, k.off, i)
		}
		nameLen := 0x14 + int(le16(vk[2:]))
		if nameLen > len(vk) {
			continue
		}
		if strings.EqualFold(decodeName(vk[0x14:nameLen], le16(vk[0x10:])&1 != 0), name) {
			return k.h.valueData(vk)
		}
	}
	return Value{}, fmt.Errorf("value %q: %w", name, ErrNotFound)
}

// valueData reads the data a vk cell describes: inline (up to 4 bytes in
// the offset field), in one data cell, or in big-data segments.
func (h *Hive) valueData(vk []byte) (Value, error) {
	v := Value{Type: le32(vk[0x0C:])}
	size := le32(vk[4:])
	if size&0x80000000 != 0 {
		size &^= 0x80000000
		if size > 4 {
			return v, fmt.Errorf("%w: inline value of %d bytes", ErrFormat, size)
		}
		v.Data = append([]byte(nil), vk[8:8+size]...)
		return v, nil
	}
	if size > maxValueBytes {
		return v, fmt.Errorf("%w: value of %d bytes exceeds the %d-byte cap", ErrFormat, size, maxValueBytes)
	}
	c, err := h.cell(le32(vk[8:]), int(size))
	if err != nil {
		return v, err
	}
	if size > bigSegment && h.minor >= 4 && len(c) >= 8 && string(c[:2]) == "db" {
		v.Data, err = h.bigData(c, size)
		return v, err
	}
	if uint32(len(c)) < size {
		return v, fmt.Errorf("%w: value of %d bytes in a cell of %d", ErrFormat, size, len(c))
	}
	v.Data = c[:size]
	return v, nil
}

// bigData gathers a value of size bytes from the segments a "db" cell lists.
func (h *Hive) bigData(db []byte, size uint32) ([]byte, error) {
	n := int(le16(db[2:]))
	if n > maxDataSegs || uint64(n)*bigSegment < uint64(size) {
		return nil, fmt.Errorf("%w: big value of %d bytes in %d segments", ErrFormat, size, n)
	}
	list, err := h.cell(le32(db[4:]), 4*n)
	if err != nil {
		return nil, err
	}
	if len(list) < 4*n {
		return nil, fmt.Errorf("%w: big value segment list too short", ErrFormat)
	}
	out := make([]byte, 0, size)
	for i := 0; i < n && uint32(len(out)) < size; i++ {
		seg, err := h.cell(le32(list[4*i:]), bigSegment)
		if err != nil {
			return nil, err
		}
		take := min(uint32(len(seg)), bigSegment, size-uint32(len(out)))
		out = append(out, seg[:take]...)
	}
	if uint32(len(out)) != size {
		return nil, fmt.Errorf("%w: big value segments hold %d of %d bytes", ErrFormat, len(out), size)
	}
	return out, nil
}

// String returns a string value: REG_SZ or REG_EXPAND_SZ up to its first
// NUL, or the first string of a REG_MULTI_SZ.
func (v Value) String() (string, error) {
	switch v.Type {
	case TypeString, TypeExpand, TypeMultiSz:
	default:
		return "", fmt.Errorf("%w: type %d is not a string", ErrType, v.Type)
	}
	u := make([]uint16, 0, len(v.Data)/2)
	for i := 0; i+1 < len(v.Data); i += 2 {
		c := binary.LittleEndian.Uint16(v.Data[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u)), nil
}

// Uint returns a number value: REG_DWORD, REG_DWORD_BIG_ENDIAN or REG_QWORD.
func (v Value) Uint() (uint64, error) {
	switch {
	case v.Type == TypeDword && len(v.Data) == 4:
		return uint64(le32(v.Data)), nil
	case v.Type == TypeDwordBE && len(v.Data) == 4:
		return uint64(binary.BigEndian.Uint32(v.Data)), nil
	case v.Type == TypeQword && len(v.Data) == 8:
		return binary.LittleEndian.Uint64(v.Data), nil
	case v.Type == TypeDword || v.Type == TypeDwordBE || v.Type == TypeQword:
		return 0, fmt.Errorf("%w: number of type %d with %d bytes", ErrFormat, v.Type, len(v.Data))
	}
	return 0, fmt.Errorf("%w: type %d is not a number", ErrType, v.Type)
}

// decodeName decodes a key or value name: Latin-1 when compressed, else
// UTF-16LE.
func decodeName(b []byte, compressed bool) string {
	if compressed {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
