// Package regftest writes small registry hive files for tests, and runs
// hivex's shell on them as an independent reader and writer. Only tests
// import it.
package regftest

import (
	"encoding/binary"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// Key is a key to write: its values and subkeys. Names are stored as
// Latin-1 ("compressed") when they fit, else as UTF-16LE, as Windows does.
type Key struct {
	Name    string
	Values  []Value
	Subkeys []*Key
}

// Value is one value: a type (REG_*) and its raw data.
type Value struct {
	Name string
	Type uint32
	Data []byte
}

// String returns a REG_SZ value holding s and its terminating NUL.
func String(name, s string) Value {
	return Value{Name: name, Type: 1, Data: utf16z(s)}
}

// MultiString returns a REG_MULTI_SZ value holding ss.
func MultiString(name string, ss ...string) Value {
	var d []byte
	for _, s := range ss {
		d = append(d, utf16z(s)...)
	}
	return Value{Name: name, Type: 7, Data: append(d, 0, 0)}
}

// Dword returns a REG_DWORD value.
func Dword(name string, v uint32) Value {
	return Value{Name: name, Type: 4, Data: binary.LittleEndian.AppendUint32(nil, v)}
}

// Qword returns a REG_QWORD value.
func Qword(name string, v uint64) Value {
	return Value{Name: name, Type: 11, Data: binary.LittleEndian.AppendUint64(nil, v)}
}

func utf16z(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0)
}

// Path returns the key at a backslash-separated path under root, creating
// the keys on the way.
func (k *Key) Path(path string) *Key {
	for _, name := range strings.Split(path, `\`) {
		i := slices.IndexFunc(k.Subkeys, func(s *Key) bool { return strings.EqualFold(s.Name, name) })
		if i < 0 {
			k.Subkeys = append(k.Subkeys, &Key{Name: name})
			i = len(k.Subkeys) - 1
		}
		k = k.Subkeys[i]
	}
	return k
}

// Build returns a hive file with root as its root key: a base block and one
// hive bin, subkey lists of type "lh" sorted by upper-case name as Windows
// keeps them, values over 16344 bytes in big-data segments, and one
// security cell shared by every key.
func Build(root *Key) []byte {
	b := &builder{}
	b.alloc(0) // the hive bin header stands in the first 32 bytes
	b.sk = b.security()
	rootOff := b.key(root, 0xFFFFFFFF, true)
	b.refs(b.sk)
	binSize := (len(b.bin) + 4095) &^ 4095
	if binSize-len(b.bin) > 0 && binSize-len(b.bin) < 8 {
		binSize += 4096
	}
	if free := binSize - len(b.bin); free > 0 {
		b.bin = binary.LittleEndian.AppendUint32(b.bin, uint32(free)) // a free cell: positive size
		b.bin = append(b.bin, make([]byte, free-4)...)
	}
	copy(b.bin, "hbin")
	binary.LittleEndian.PutUint32(b.bin[8:], uint32(binSize))

	base := make([]byte, 4096)
	copy(base, "regf")
	put32 := func(off int, v uint32) { binary.LittleEndian.PutUint32(base[off:], v) }
	put32(0x04, 1)
	put32(0x08, 1)
	put32(0x14, 1) // major
	put32(0x18, 5) // minor
	put32(0x20, 1) // direct memory load
	put32(0x24, rootOff)
	put32(0x28, uint32(binSize))
	put32(0x2C, 1)
	var sum uint32
	for i := 0; i < 0x1FC; i += 4 {
		sum ^= binary.LittleEndian.Uint32(base[i:])
	}
	put32(0x1FC, sum)
	return append(base, b.bin...)
}

type builder struct {
	bin  []byte // the hive bin, header included
	sk   uint32
	keys int
}

// alloc appends an in-use cell for n bytes of payload and returns its
// offset and payload.
func (b *builder) alloc(n int) (uint32, []byte) {
	if len(b.bin) == 0 {
		b.bin = make([]byte, 32)
		return 0, nil
	}
	off := len(b.bin)
	size := (4 + n + 7) &^ 7
	b.bin = append(b.bin, make([]byte, size)...)
	binary.LittleEndian.PutUint32(b.bin[off:], uint32(-int32(size)))
	return uint32(off), b.bin[off+4 : off+4+n]
}

// security writes the one sk cell: a self-relative descriptor with an owner
// (BUILTIN\Administrators) and no DACL.
func (b *builder) security() uint32 {
	sid := []byte{1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0}
	sd := []byte{1, 0, 0x04, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	sd = append(sd, sid...)
	off, c := b.alloc(20 + len(sd))
	copy(c, "sk")
	binary.LittleEndian.PutUint32(c[4:], off)
	binary.LittleEndian.PutUint32(c[8:], off)
	binary.LittleEndian.PutUint32(c[16:], uint32(len(sd)))
	copy(c[20:], sd)
	return off
}

// refs sets the security cell's reference count once all keys exist.
func (b *builder) refs(off uint32) {
	binary.LittleEndian.PutUint32(b.bin[off+4+12:], uint32(b.keys))
}

// key writes k and everything under it and returns k's cell offset.
func (b *builder) key(k *Key, parent uint32, root bool) uint32 {
	b.keys++
	name, compressed := encodeName(k.Name)
	off, _ := b.alloc(0x4C + len(name))
	c := func() []byte { return b.bin[off+4:] } // b.bin moves as cells are added
	copy(c(), "nk")
	flags := uint16(0)
	if root {
		flags |= 0x0C // hive entry, no delete
	}
	if compressed {
		flags |= 0x20
	}
	binary.LittleEndian.PutUint16(c()[2:], flags)
	binary.LittleEndian.PutUint32(c()[0x10:], parent)
	binary.LittleEndian.PutUint32(c()[0x1C:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(c()[0x20:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(c()[0x28:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(c()[0x2C:], b.sk)
	binary.LittleEndian.PutUint32(c()[0x30:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint16(c()[0x48:], uint16(len(name)))
	copy(c()[0x4C:], name)

	subs := slices.Clone(k.Subkeys)
	slices.SortFunc(subs, func(x, y *Key) int { return strings.Compare(strings.ToUpper(x.Name), strings.ToUpper(y.Name)) })
	var offs []uint32
	maxName := 0
	for _, s := range subs {
		offs = append(offs, b.key(s, off, false))
		maxName = max(maxName, 2*len(utf16.Encode([]rune(s.Name))))
	}
	if len(subs) > 0 {
		lh, l := b.alloc(4 + 8*len(subs))
		copy(l, "lh")
		binary.LittleEndian.PutUint16(l[2:], uint16(len(subs)))
		for i, s := range subs {
			binary.LittleEndian.PutUint32(l[4+8*i:], offs[i])
			binary.LittleEndian.PutUint32(l[8+8*i:], nameHash(s.Name))
		}
		binary.LittleEndian.PutUint32(c()[0x14:], uint32(len(subs)))
		binary.LittleEndian.PutUint32(c()[0x1C:], lh)
		binary.LittleEndian.PutUint32(c()[0x34:], uint32(maxName))
	}
	if len(k.Values) > 0 {
		var vks []uint32
		maxVName, maxData := 0, 0
		for _, v := range k.Values {
			vks = append(vks, b.value(v))
			maxVName = max(maxVName, 2*len(utf16.Encode([]rune(v.Name))))
			maxData = max(maxData, len(v.Data))
		}
		lo, l := b.alloc(4 * len(vks))
		for i, v := range vks {
			binary.LittleEndian.PutUint32(l[4*i:], v)
		}
		binary.LittleEndian.PutUint32(c()[0x24:], uint32(len(vks)))
		binary.LittleEndian.PutUint32(c()[0x28:], lo)
		binary.LittleEndian.PutUint32(c()[0x3C:], uint32(maxVName))
		binary.LittleEndian.PutUint32(c()[0x40:], uint32(maxData))
	}
	return off
}

// value writes a vk cell and its data and returns the vk's offset.
func (b *builder) value(v Value) uint32 {
	name, compressed := encodeName(v.Name)
	size := uint32(len(v.Data))
	var dataOff uint32
	switch {
	case len(v.Data) <= 4:
		size |= 0x80000000
	case len(v.Data) > 16344:
		dataOff = b.bigData(v.Data)
	default:
		var d []byte
		dataOff, d = b.alloc(len(v.Data))
		copy(d, v.Data)
	}
	off, c := b.alloc(0x14 + len(name))
	copy(c, "vk")
	binary.LittleEndian.PutUint16(c[2:], uint16(len(name)))
	binary.LittleEndian.PutUint32(c[4:], size)
	if size&0x80000000 != 0 {
		copy(c[8:12], v.Data)
	} else {
		binary.LittleEndian.PutUint32(c[8:], dataOff)
	}
	binary.LittleEndian.PutUint32(c[0x0C:], v.Type)
	if compressed {
		binary.LittleEndian.PutUint16(c[0x10:], 1)
	}
	copy(c[0x14:], name)
	return off
}

// bigData writes data as a "db" cell, its segment list and its segments.
func (b *builder) bigData(data []byte) uint32 {
	var segs []uint32
	for p := 0; p < len(data); p += 16344 {
		o, s := b.alloc(16344)
		copy(s, data[p:min(p+16344, len(data))])
		segs = append(segs, o)
	}
	lo, l := b.alloc(4 * len(segs))
	for i, s := range segs {
		binary.LittleEndian.PutUint32(l[4*i:], s)
	}
	off, c := b.alloc(8)
	copy(c, "db")
	binary.LittleEndian.PutUint16(c[2:], uint16(len(segs)))
	binary.LittleEndian.PutUint32(c[4:], lo)
	return off
}

// encodeName returns a name as Latin-1 if every character fits, else as
// UTF-16LE.
func encodeName(s string) ([]byte, bool) {
	var l []byte
	for _, r := range s {
		if r > 0xFF {
			var u []byte
			for _, c := range utf16.Encode([]rune(s)) {
				u = binary.LittleEndian.AppendUint16(u, c)
			}
			return u, false
		}
		l = append(l, byte(r))
	}
	return l, true
}

// nameHash is the "lh" list hash of a name: over its upper-case characters,
// h = h*37 + c.
func nameHash(s string) uint32 {
	var h uint32
	for _, c := range utf16.Encode([]rune(strings.ToUpper(s))) {
		h = h*37 + uint32(c)
	}
	return h
}

// Hivexsh runs hivex's shell on the hive at path with the given commands
// (writable when write is set; a write script should end with "commit")
// and returns its output. The test is skipped when hivexsh is missing
// unless the wimlib oracle is required (see wimtest.Require).
func Hivexsh(t testing.TB, path string, write bool, script string) string {
	t.Helper()
	bin := requireHivex(t)
	args := []string{}
	if write {
		args = append(args, "-w")
	}
	cmd := exec.Command(bin, append(args, path)...)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hivexsh %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// requireHivex finds hivexsh; it is part of the wimlib oracle set, so a
// required wimlib makes its absence a failure.
func requireHivex(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("hivexsh")
	if err == nil {
		return p
	}
	if slices.Contains(strings.Split(os.Getenv("WIMSNAP_TEST_REQUIRE"), ","), "wimlib") {
		t.Fatalf("hivexsh (Debian libhivex-bin) is required with the wimlib oracle but not found: %v", err)
	}
	t.Skipf("hivexsh not found: %v", err)
	return ""
}
