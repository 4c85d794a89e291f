package snapshot

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

func storeBytes(t *testing.T, m *memStore, b []byte) wim.Stream {
	t.Helper()
	h, err := m.AddStream(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return wim.Stream{Hash: h, Size: int64(len(b))}
}

func openFrom(m *memStore) func(wim.Stream) (io.ReadCloser, error) {
	return func(s wim.Stream) (io.ReadCloser, error) { return m.OpenStream(s.Hash) }
}

// TestBackupRoundTrip: what writeBackup gives BackupWrite for an entry,
// after a descriptor section (BackupRead's streams start with one), read
// back as BackupRead's stream, fills an entry with the same descriptor,
// data, named streams and reparse point.
func TestBackupRoundTrip(t *testing.T) {
	src := newMemStore()
	sd := []byte{1, 0, 4, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}
	file := &wim.Entry{Name: "f", Attributes: wim.AttrArchive, Data: storeBytes(t, src, bytes.Repeat([]byte("data"), 30000)),
		Ext: &wim.EntryExt{Named: []wim.Stream{
			{Name: "Zone.Identifier", Hash: storeBytes(t, src, []byte("[ZoneTransfer]\r\nZoneId=3\r\n")).Hash, Size: 26},
			{Name: "empty"},
		}}}
	link := &wim.Entry{Name: "l", Attributes: wim.AttrReparsePoint | wim.AttrDirectory,
		Ext: &wim.EntryExt{ReparseTag: wim.ReparseTagMountPoint, ReparseReserved: 7, Reparse: storeBytes(t, src, []byte("\x00\x00\x10\x00target"))}}
	for _, e := range []*wim.Entry{file, link} {
		// BackupRead's stream starts with the descriptor, which
		// writeBackup leaves out.
		stream := bytes.NewBuffer(append(backupSection(nil, backupSecurity, "", int64(len(sd))), sd...))
		if err := writeBackup(stream, e, openFrom(src)); err != nil {
			t.Fatal(err)
		}
		dst := newMemStore()
		var sec securityTable
		got := &wim.Entry{Name: e.Name, Attributes: e.Attributes &^ wim.AttrReparsePoint, SecurityID: -1}
		if err := readBackup(bytes.NewReader(stream.Bytes()), e.Data.Size, got, dst, &sec); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if got.SecurityID != 0 || len(sec.list) != 1 || !bytes.Equal(sec.list[0], sd) {
			t.Errorf("%s: security %d %x", e.Name, got.SecurityID, sec.list)
		}
		if got.Data != e.Data && (!e.IsReparse() || !got.Data.Hash.IsZero()) {
			t.Errorf("%s: data %+v, want %+v", e.Name, got.Data, e.Data)
		}
		if len(got.NamedStreams()) != len(e.NamedStreams()) {
			t.Fatalf("%s: named streams %+v, want %+v", e.Name, got.NamedStreams(), e.NamedStreams())
		}
		for i, s := range e.NamedStreams() {
			if g := got.NamedStreams()[i]; g.Name != s.Name || g.Size != s.Size || g.Hash != s.Hash && s.Size > 0 {
				t.Errorf("%s: named stream %d: %+v, want %+v", e.Name, i, g, s)
			}
		}
		if got.Attributes != e.Attributes || got.ReparseStream() != e.ReparseStream() ||
			e.IsReparse() && (got.Ext.ReparseTag != e.Ext.ReparseTag || got.Ext.ReparseReserved != 7) {
			t.Errorf("%s: reparse %+v attributes %#x, want %+v %#x", e.Name, got.Ext, got.Attributes, e.Ext, e.Attributes)
		}
	}
}

// sparseStream is a BackupRead stream of a sparse file of size bytes: two
// allocated ranges, then a named stream.
func sparseStream(size int64) (stream, want []byte) {
	want = make([]byte, size)
	block := func(off int64, data string) []byte {
		copy(want[off:], data)
		b := backupSection(nil, backupSparseBlock, "", int64(8+len(data)))
		b = binary.LittleEndian.AppendUint64(b, uint64(off))
		return append(b, data...)
	}
	stream = append(stream, block(0, "head")...)
	stream = append(stream, block(100000, "middle of the file")...)
	stream = append(append(stream, backupSection(nil, backupAlternate, ":ads:$DATA", 3)...), "ads"...)
	return stream, want
}

func TestBackupSparse(t *testing.T) {
	stream, want := sparseStream(200000)
	dst := newMemStore()
	e := &wim.Entry{SecurityID: -1}
	if err := readBackup(bytes.NewReader(stream), int64(len(want)), e, dst, &securityTable{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.blobs[e.Data.Hash], want) {
		t.Errorf("sparse data: %d bytes stored, differs from the file", len(dst.blobs[e.Data.Hash]))
	}
	if n := e.NamedStreams(); len(n) != 1 || n[0].Name != "ads" || string(dst.blobs[n[0].Hash]) != "ads" {
		t.Errorf("named stream after the sparse blocks: %+v", n)
	}
}

// TestBackupHostile: every truncation of a valid stream, absurd sizes and
// blocks outside the file give an error (or a shorter entry), never a
// panic or an allocation of the claimed size.
func TestBackupHostile(t *testing.T) {
	stream, want := sparseStream(200000)
	for n := range len(stream) {
		_ = readBackup(bytes.NewReader(stream[:n]), int64(len(want)), &wim.Entry{}, streamSink{}, &securityTable{})
	}
	huge := backupSection(nil, backupSecurity, "", 1<<40)
	if err := readBackup(bytes.NewReader(huge), 0, &wim.Entry{}, newMemStore(), &securityTable{}); !errors.Is(err, errBackupFormat) {
		t.Errorf("a 1 TiB descriptor: %v", err)
	}
	claim := backupSection(nil, backupData, "", 1<<45)
	if err := readBackup(bytes.NewReader(append(claim, "short"...)), 0, &wim.Entry{}, streamSink{}, &securityTable{}); err == nil {
		t.Error("a 32 TiB data section of 5 bytes was accepted")
	}
	neg := backupSection(nil, backupData, "", -5)
	if err := readBackup(bytes.NewReader(neg), 0, &wim.Entry{}, newMemStore(), &securityTable{}); !errors.Is(err, errBackupFormat) {
		t.Errorf("a negative size: %v", err)
	}
	outside := backupSection(nil, backupSparseBlock, "", 12)
	outside = append(binary.LittleEndian.AppendUint64(outside, 1<<20), "abcd"...)
	if err := readBackup(bytes.NewReader(outside), 100, &wim.Entry{}, newMemStore(), &securityTable{}); !errors.Is(err, errBackupFormat) {
		t.Errorf("a block beyond the file: %v", err)
	}
}

// streamSink hashes what it is given without holding it: the sinks of
// a real capture read streams a chunk at a time, so a section claiming
// terabytes costs only what the stream really holds.
type streamSink struct{}

func (streamSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	h := sha1.New()
	n, err := io.Copy(h, io.LimitReader(r, size))
	if err == nil && n != size {
		err = wim.ErrSizeChanged
	}
	var sum wim.Hash
	h.Sum(sum[:0])
	return sum, err
}

func (streamSink) HasStream(wim.Hash) bool { return false }

func FuzzReadBackup(f *testing.F) {
	stream, _ := sparseStream(200000)
	f.Add(stream, int64(200000))
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		if size < 0 || size > 1<<20 {
			return
		}
		_ = readBackup(bytes.NewReader(b), size, &wim.Entry{}, streamSink{}, &securityTable{})
	})
}

func TestWindowsMapping(t *testing.T) {
	for _, c := range []struct {
		section string
		name    string
		ok      bool
	}{
		{":Zone.Identifier:$DATA", "Zone.Identifier", true},
		{":名前:$DATA", "名前", true},
		{"::$DATA", "", false},
		{"Zone.Identifier:$DATA", "", false},
		{":x:$INDEX_ALLOCATION", "", false},
	} {
		if name, ok := streamName(c.section); name != c.name || ok != c.ok {
			t.Errorf("streamName(%q) = %q, %v; want %q, %v", c.section, name, ok, c.name, c.ok)
		}
	}
	for _, c := range []struct{ in, want uint32 }{
		{wim.AttrDirectory, wim.AttrNormal},
		{wim.AttrDirectory | wim.AttrHidden | wim.AttrSystem, wim.AttrHidden | wim.AttrSystem},
		{wim.AttrReparsePoint | wim.AttrArchive, wim.AttrArchive},
		{wim.AttrSparseFile | wim.AttrCompressed | wim.AttrReadonly, wim.AttrReadonly},
		{wim.AttrEncrypted, wim.AttrNormal},
		{wim.AttrNotContentIndexed | wim.AttrTemporary, wim.AttrNotContentIndexed | wim.AttrTemporary},
	} {
		if got := settableWinAttributes(c.in); got != c.want {
			t.Errorf("settableWinAttributes(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
	for _, c := range [][3]string{{`\\?\C:\`, "Users", `\\?\C:\Users`}, {`\\?\C:\Users`, "*", `\\?\C:\Users\*`},
		{`\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\`, "Windows", `\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\Windows`}} {
		if got := winJoin(c[0], c[1]); got != c[2] {
			t.Errorf("winJoin(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
	for name, ok := range map[string]bool{"file.txt": true, "名前 with space": true, "": false, ".": false, "..": false,
		"a\\b": false, "a/b": false, "C:": false, "a\x00b": false, "what?": false, "<x>": false, "a|b": false, "...": true, "tab\tname": false, "\x1f": false} {
		if validWindowsName(name) != ok {
			t.Errorf("validWindowsName(%q) = %v", name, !ok)
		}
	}
	names := winNames{}
	for _, c := range []struct {
		name, says string // says: in the refusal, "" for none
	}{{"File", ""}, {"file", `differs only in case from "File"`}, {"FILE", `from "File"`}, {"File", "is there twice"},
		{"x", ""}, {"X", `from "x"`}, {"ǅ", ""}, {"a:b", "cannot be created"}, {"Ab", ""}} {
		err := names.refuse(c.name)
		if (err == nil) != (c.says == "") || err != nil && !strings.Contains(err.Error(), c.says) {
			t.Errorf("refuse(%q) = %v, want %q", c.name, err, c.says)
		}
	}
}

// wineSD is a self-relative descriptor as Wine reports it for a file:
// owner, group and a DACL of three ACEs, the DACL last.
const wineSD = "010004801400000030000000000000004c000000010500000000000515000000000000000000000000000000e803000001050000000000051500000000000000000000000000000001020000020054000300000000001400ff011f0001010000000000051200000000002400ff011f00010500000000000515000000000000000000000000000000e803000000001400a9001200010100000000000100000000"

// TestCheckDescriptor: the check a descriptor passes before it is handed
// to SetKernelObjectSecurity, which reads it without a length.
func TestCheckDescriptor(t *testing.T) {
	sd, err := hex.DecodeString(wineSD)
	if err != nil {
		t.Fatal(err)
	}
	what, err := checkDescriptor(sd)
	if err != nil || what != sdOwner|sdGroup|sdDACL {
		t.Fatalf("Wine's descriptor: parts %#x, %v", what, err)
	}
	for n := range len(sd) {
		if _, err := checkDescriptor(sd[:n]); err == nil {
			t.Errorf("cut to %d of %d bytes: accepted", n, len(sd))
		}
	}
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(sd)
		f(b)
		return b
	}
	const dacl = 0x4c // the DACL's offset in wineSD
	for _, c := range []struct {
		name string
		sd   []byte
	}{
		{"revision 2", edit(func(b []byte) { b[0] = 2 })},
		{"absolute form", edit(func(b []byte) { b[3] &^= 0x80 })},
		{"owner past the end", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], uint32(len(b))) })},
		{"owner at the last byte", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-1)) })},
		{"group of 16 subauthorities", edit(func(b []byte) { b[0x31] = 16 })},
		{"ACL revision 3", edit(func(b []byte) { b[dacl] = 3 })},
		{"ACL longer than the descriptor", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[dacl+2:], 0x60) })},
		{"ACL shorter than its header", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[dacl+2:], 4) })},
		{"one ACE more than the ACL holds", edit(func(b []byte) { b[dacl+4] = 4 })},
		{"an ACE of size 0", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[dacl+8+2:], 0) })},
		{"an ACE past the ACL", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[dacl+8+2:], 0x50) })},
	} {
		if _, err := checkDescriptor(c.sd); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// A DACL flagged present at offset 0 is a null DACL, which is set.
	null := edit(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0) })
	if what, err := checkDescriptor(null[:dacl]); err != nil || what != sdOwner|sdGroup|sdDACL {
		t.Errorf("null DACL: parts %#x, %v", what, err)
	}
	// No owner, no DACL flag: only the group is set.
	part := edit(func(b []byte) { clear(b[4:8]); b[2] &^= 0x04 })
	if what, err := checkDescriptor(part); err != nil || what != sdGroup {
		t.Errorf("group alone: parts %#x, %v", what, err)
	}
}

// FuzzCheckDescriptor: no input panics the check, and every part of an
// accepted descriptor lies inside it.
func FuzzCheckDescriptor(f *testing.F) {
	sd, _ := hex.DecodeString(wineSD)
	f.Add(sd)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := checkDescriptor(b); err != nil {
			return
		}
		for i, at := range []int{4, 8, 12, 16} {
			off := int(binary.LittleEndian.Uint32(b[at:]))
			if off != 0 && off >= len(b) && (i < 2 || b[2]&[]byte{0x10, 0x04}[i-2] != 0) {
				t.Fatalf("accepted with part %d at %d of %d", i, off, len(b))
			}
		}
	})
}

// TestSetDescriptorParts: a descriptor refused whole is set with fewer
// parts, in the order a process without privileges can set them.
func TestSetDescriptorParts(t *testing.T) {
	all := uint32(sdOwner | sdGroup | sdDACL | sdSACL)
	refused := errors.New("refused")
	for _, c := range []struct {
		name     string
		what     uint32
		allowed  func(parts uint32) bool
		dropped  uint32
		failed   bool
		attempts []uint32
	}{
		{"all allowed", all, func(uint32) bool { return true }, 0, false, []uint32{all}},
		{"no SeSecurity", all, func(p uint32) bool { return p&sdSACL == 0 }, sdSACL, false,
			[]uint32{all, sdOwner | sdGroup | sdDACL}},
		{"no SeRestore", all, func(p uint32) bool { return p&(sdSACL|sdOwner) == 0 }, sdSACL | sdOwner | sdGroup, false,
			[]uint32{all, sdOwner | sdGroup | sdDACL, sdDACL}},
		{"no SACL to drop", sdOwner | sdGroup | sdDACL, func(p uint32) bool { return p&sdOwner == 0 }, sdOwner | sdGroup, false,
			[]uint32{sdOwner | sdGroup | sdDACL, sdDACL}},
		{"nothing allowed", all, func(uint32) bool { return false }, all, true,
			[]uint32{all, sdOwner | sdGroup | sdDACL, sdDACL}},
		{"owner alone refused", sdOwner, func(uint32) bool { return false }, sdOwner, true, []uint32{sdOwner}},
	} {
		var attempts []uint32
		dropped, err := setDescriptorParts(c.what, func(p uint32) error {
			attempts = append(attempts, p)
			if c.allowed(p) {
				return nil
			}
			return refused
		})
		if dropped != c.dropped || (err != nil) != c.failed || !slices.Equal(attempts, c.attempts) {
			t.Errorf("%s: dropped %s, err %v, attempts %v; want dropped %s, failed %v, attempts %v",
				c.name, partNames(dropped), err, attempts, partNames(c.dropped), c.failed, c.attempts)
		}
		if c.failed && !errors.Is(err, refused) {
			t.Errorf("%s: error %v, want the first refusal", c.name, err)
		}
	}
}

// TestBackupEmptyReparse: an empty reparse stream (the zero hash) goes into
// the backup stream as a reparse buffer of no data, read from a
// repository as from a WIM; the repository's source looked for it (a
// Windows restore of an imported image reported it damaged).
func TestBackupEmptyReparse(t *testing.T) {
	e := &wim.Entry{Name: "r", Attributes: wim.AttrReparsePoint, Ext: &wim.EntryExt{ReparseTag: 0x80000023}}
	var stream bytes.Buffer
	src := &repoSource{} // the zero hash is read before any field is used
	open := func(s wim.Stream) (io.ReadCloser, error) { return src.OpenStream(s.Hash) }
	if err := writeBackup(&stream, e, open); err != nil {
		t.Fatalf("writeBackup of an empty reparse point: %v", err)
	}
	if stream.Len() == 0 {
		t.Error("no reparse section written")
	}
}
