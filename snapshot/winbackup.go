package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/wimsnap/wimsnap/wim"
)

// This file maps the stream format of Windows' backup API (BackupRead and
// BackupWrite) to and from an image entry. It is plain byte handling, so it
// builds and is tested on every platform; capture_windows.go and
// apply_windows.go feed it from and to the API.
//
// BackupRead returns a file as a sequence of sections, each a 20-byte
// WIN32_STREAM_ID header (u32 id, u32 attributes, i64 size, u32 name
// bytes), the name (UTF-16LE) and size bytes of body:
//
//	BACKUP_DATA           the unnamed data stream
//	BACKUP_SECURITY_DATA  the self-relative security descriptor
//	BACKUP_ALTERNATE_DATA a named stream, named ":NAME:$DATA"
//	BACKUP_REPARSE_DATA   the reparse buffer, 8-byte header included
//	BACKUP_SPARSE_BLOCK   for a sparse file, instead of BACKUP_DATA: one
//	                      section per allocated range, an i64 offset and
//	                      the range's bytes
//
// Other sections (extended attributes, object ids, TxF data) are skipped.

// Backup stream ids (WIN32_STREAM_ID.dwStreamId).
const (
	backupData        = 1
	backupSecurity    = 3
	backupAlternate   = 4
	backupReparse     = 8
	backupSparseBlock = 9
)

// Caps on the sections read whole.
const (
	maxBackupSecurity = 1 << 20
	maxBackupReparse  = 16*1024 + 8 // MAXIMUM_REPARSE_DATA_BUFFER_SIZE
	maxBackupName     = 2 * 32767   // a stream name of the longest path
)

// errBackupFormat means a backup stream is malformed.
var errBackupFormat = errors.New("malformed backup stream")

// backupHeader is one section's WIN32_STREAM_ID.
type backupHeader struct {
	ID    uint32
	Attrs uint32
	Size  int64
	Name  string
}

// backupReader splits a backup stream into sections. Read reads the body
// of the section Next returned last.
type backupReader struct {
	r      io.Reader
	left   int64         // unread bytes of the current body
	unread *backupHeader // a header Next returns again (see sparseReader)
}

// Next skips what is left of the current body and returns the next
// header, or io.EOF at the end of the stream.
func (b *backupReader) Next() (*backupHeader, error) {
	if h := b.unread; h != nil {
		b.unread = nil
		return h, nil
	}
	if b.left > 0 {
		if _, err := io.CopyN(io.Discard, b.r, b.left); err != nil {
			return nil, readError("", err)
		}
		b.left = 0
	}
	var raw [20]byte
	if _, err := io.ReadFull(b.r, raw[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, readError("header: ", err)
	}
	h := &backupHeader{
		ID:    binary.LittleEndian.Uint32(raw[0:]),
		Attrs: binary.LittleEndian.Uint32(raw[4:]),
		Size:  int64(binary.LittleEndian.Uint64(raw[8:])),
	}
	nameLen := binary.LittleEndian.Uint32(raw[16:])
	if h.Size < 0 || nameLen > maxBackupName || nameLen%2 != 0 {
		return nil, fmt.Errorf("%w: section of %d bytes named by %d", errBackupFormat, h.Size, nameLen)
	}
	name := make([]byte, nameLen)
	if _, err := io.ReadFull(b.r, name); err != nil {
		return nil, readError("name: ", err)
	}
	u := make([]uint16, nameLen/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(name[2*i:])
	}
	h.Name = string(utf16.Decode(u))
	b.left = h.Size
	return h, nil
}

// Read reads the current section's body.
func (b *backupReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	n, err := b.r.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	if errors.Is(err, io.EOF) && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// body reads the current section whole, failing beyond limit bytes.
func (b *backupReader) body(h *backupHeader, limit int64) ([]byte, error) {
	if h.Size > limit {
		return nil, fmt.Errorf("%w: section %d of %d bytes (at most %d)", errBackupFormat, h.ID, h.Size, limit)
	}
	v := make([]byte, h.Size)
	if _, err := io.ReadFull(b, v); err != nil {
		return nil, readError("", err)
	}
	return v, nil
}

// readError describes a failed read of a backup stream: one that ended
// early is malformed; any other failure is the file's or the system's, and
// keeps its own error.
func readError(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s%w", errBackupFormat, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("reading backup stream: %s%w", what, err)
}

// streamName returns NAME of a named stream's section name ":NAME:$DATA".
func streamName(s string) (string, bool) {
	s, ok := strings.CutPrefix(s, ":")
	if !ok {
		return "", false
	}
	s, ok = strings.CutSuffix(s, ":$DATA")
	if !ok || s == "" {
		return "", false
	}
	return s, true
}

// securityTable keeps an image's security descriptors, each once.
type securityTable struct {
	index map[string]int32
	list  [][]byte
}

// id returns the index of sd, adding it when new.
func (t *securityTable) id(sd []byte) int32 {
	if id, ok := t.index[string(sd)]; ok {
		return id
	}
	if t.index == nil {
		t.index = map[string]int32{}
	}
	id := int32(len(t.list))
	t.index[string(sd)] = id
	t.list = append(t.list, sd)
	return id
}

// readBackup fills e from the backup stream of one file of size bytes:
// its data and named streams go to sink, its descriptor into sec, its
// reparse point into e.Ext. A file without data sections gets an empty
// data stream.
func readBackup(r io.Reader, size int64, e *wim.Entry, sink StreamSink, sec *securityTable) error {
	b := &backupReader{r: r}
	for {
		h, err := b.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch h.ID {
		case backupData:
			if h.Name != "" {
				continue
			}
			hash, err := sink.AddStream(b, h.Size)
			if err != nil {
				return err
			}
			e.Data = wim.Stream{Hash: hash, Size: h.Size}
		case backupSparseBlock:
			if h.Name != "" {
				continue
			}
			b.unread = h
			sr := &sparseReader{b: b, size: size}
			hash, err := sink.AddStream(sr, size)
			if err != nil {
				return err
			}
			e.Data = wim.Stream{Hash: hash, Size: size}
		case backupAlternate:
			name, ok := streamName(h.Name)
			if !ok {
				continue
			}
			hash, err := sink.AddStream(b, h.Size)
			if err != nil {
				return err
			}
			entryExt(e).Named = append(entryExt(e).Named, wim.Stream{Name: name, Hash: hash, Size: h.Size})
		case backupSecurity:
			sd, err := b.body(h, maxBackupSecurity)
			if err != nil {
				return err
			}
			if len(sd) > 0 {
				e.SecurityID = sec.id(sd)
			}
		case backupReparse:
			buf, err := b.body(h, maxBackupReparse)
			if err != nil {
				return err
			}
			if err := setReparse(e, buf, sink); err != nil {
				return err
			}
		}
	}
}

// entryExt returns e.Ext, allocating it.
func entryExt(e *wim.Entry) *wim.EntryExt {
	if e.Ext == nil {
		e.Ext = new(wim.EntryExt)
	}
	return e.Ext
}

// setReparse stores the reparse buffer buf (header included) as e's
// reparse point.
func setReparse(e *wim.Entry, buf []byte, sink StreamSink) error {
	tag, reserved, data, err := wim.SplitReparseBuffer(buf)
	if err != nil {
		return fmt.Errorf("%w: %w", errBackupFormat, err)
	}
	hash, err := sink.AddStream(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	x := entryExt(e)
	x.ReparseTag, x.ReparseReserved = tag, reserved
	x.Reparse = wim.Stream{Hash: hash, Size: int64(len(data))}
	e.Attributes |= wim.AttrReparsePoint
	return nil
}

// sparseReader yields a sparse file's size bytes from its sparse-block
// sections: zeros where no block lies. It stops at the first section that
// is not an unnamed sparse block, leaving it for backupReader.Next.
type sparseReader struct {
	b         *backupReader
	size, pos int64
	blockOff  int64 // file offset of the current block's next byte
	blockLeft int64 // its bytes not read yet
	done      bool  // no more blocks
}

func (s *sparseReader) Read(p []byte) (int, error) {
	if s.pos >= s.size {
		return 0, io.EOF
	}
	if s.blockLeft == 0 && !s.done {
		if err := s.nextBlock(); err != nil {
			return 0, err
		}
	}
	p = p[:min(int64(len(p)), s.size-s.pos)]
	if s.done || s.pos < s.blockOff {
		gap := s.size - s.pos
		if !s.done {
			gap = s.blockOff - s.pos
		}
		n := int(min(int64(len(p)), gap))
		clear(p[:n])
		s.pos += int64(n)
		return n, nil
	}
	n, err := s.b.Read(p[:min(int64(len(p)), s.blockLeft)])
	s.pos += int64(n)
	s.blockOff += int64(n)
	s.blockLeft -= int64(n)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// nextBlock moves to the next sparse block, or marks the end of blocks.
func (s *sparseReader) nextBlock() error {
	h, err := s.b.Next()
	if errors.Is(err, io.EOF) {
		s.done = true
		return nil
	}
	if err != nil {
		return err
	}
	if h.ID != backupSparseBlock || h.Name != "" {
		s.b.unread = h
		s.done = true
		return nil
	}
	var off [8]byte
	if h.Size < 8 {
		return fmt.Errorf("%w: sparse block of %d bytes", errBackupFormat, h.Size)
	}
	if _, err := io.ReadFull(s.b, off[:]); err != nil {
		return readError("", err)
	}
	s.blockOff = int64(binary.LittleEndian.Uint64(off[:]))
	s.blockLeft = h.Size - 8
	if s.blockOff < s.pos || s.blockOff+s.blockLeft > s.size {
		return fmt.Errorf("%w: sparse block at %d of %d bytes in a file of %d (at %d)",
			errBackupFormat, s.blockOff, s.blockLeft, s.size, s.pos)
	}
	return nil
}

// backupSection appends a section header for a body of size bytes.
func backupSection(dst []byte, id uint32, name string, size int64) []byte {
	u := utf16.Encode([]rune(name))
	dst = binary.LittleEndian.AppendUint32(dst, id)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(size))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(2*len(u)))
	for _, c := range u {
		dst = binary.LittleEndian.AppendUint16(dst, c)
	}
	return dst
}

// writeBackup writes the backup stream BackupWrite takes to restore e:
// reparse buffer, data and named streams, whose contents open returns. The
// security descriptor is not in it: the applier sets it afterwards, as far
// as the process may (winApplier.setSecurity).
func writeBackup(w io.Writer, e *wim.Entry, open func(wim.Stream) (io.ReadCloser, error)) error {
	var hdr []byte
	if e.IsReparse() {
		x := e.Ext
		data, err := readBackupReparse(x.Reparse, open)
		if err != nil {
			return err
		}
		if len(data) > maxBackupReparse-8 {
			return fmt.Errorf("reparse data of %d bytes", len(data))
		}
		buf, err := wim.ReparseBuffer(x.ReparseTag, x.ReparseReserved, data)
		if err != nil {
			return err
		}
		hdr = append(backupSection(hdr, backupReparse, "", int64(len(buf))), buf...)
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	var streams []dataSection
	if !e.IsDir() && !e.IsReparse() {
		streams = append(streams, dataSection{backupData, "", e.Data})
	}
	for _, s := range e.NamedStreams() {
		streams = append(streams, dataSection{backupAlternate, ":" + s.Name + ":$DATA", s})
	}
	for _, st := range streams {
		if err := st.write(w, open); err != nil {
			return err
		}
	}
	return nil
}

// dataSection is a data or named stream section to write.
type dataSection struct {
	id   uint32
	name string
	s    wim.Stream
}

// readBackupReparse reads the reparse data s (at most maxBackupReparse
// bytes) through open.
func readBackupReparse(s wim.Stream, open func(wim.Stream) (io.ReadCloser, error)) ([]byte, error) {
	rc, err := open(s)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	return io.ReadAll(io.LimitReader(rc, maxBackupReparse))
}

// write writes the section with the contents of its stream.
func (d dataSection) write(w io.Writer, open func(wim.Stream) (io.ReadCloser, error)) error {
	s := d.s
	if _, err := w.Write(backupSection(nil, d.id, d.name, s.Size)); err != nil {
		return err
	}
	if s.Size == 0 || s.Hash.IsZero() {
		return nil
	}
	rc, err := open(s)
	if err != nil {
		return err
	}
	defer closeRead(rc)
	n, err := io.Copy(w, io.LimitReader(rc, s.Size))
	if err == nil && n != s.Size {
		err = fmt.Errorf("stream of %d bytes ended at %d", s.Size, n)
	}
	return err
}

// settableWinAttributes returns the attributes SetFileInformationByHandle
// takes for an entry with attrs: those that follow from what the file is
// (directory, reparse point, sparse, compressed, encrypted) are left out,
// and no attribute at all is FILE_ATTRIBUTE_NORMAL.
func settableWinAttributes(attrs uint32) uint32 {
	a := attrs &^ (wim.AttrDirectory | wim.AttrReparsePoint | wim.AttrSparseFile | wim.AttrCompressed | wim.AttrEncrypted)
	if a == 0 {
		a = wim.AttrNormal
	}
	return a
}

// validWindowsName reports whether an image name can be created as one
// component on Windows without escaping its directory: not empty, not "."
// or "..", none of the characters Windows reserves (control characters
// included).
func validWindowsName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "\\/:*?\"<>|") &&
		!strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 })
}

// winNames holds the names of one directory applied so far, as Windows
// compares them: without regard to case (upper-cased, as the name of the
// first one seen).
type winNames map[string]string

// refuse returns why the entry named name cannot be made in the directory
// on Windows, or nil, recording name: a name Windows refuses (see
// validWindowsName), or one that differs only in case from a name before
// it, which Windows takes for the same file. Of such names the first is
// applied, as wimlib-imagex does on Windows.
func (s winNames) refuse(name string) error {
	if !validWindowsName(name) {
		return fmt.Errorf("name %q cannot be created on Windows; skipped", name)
	}
	key := strings.ToUpper(name)
	first, ok := s[key]
	switch {
	case !ok:
		s[key] = name
		return nil
	case first == name:
		return fmt.Errorf("name %q is there twice; the second is skipped", name)
	default:
		return fmt.Errorf("name %q differs only in case from %q, the same name on Windows; skipped", name, first)
	}
}

// winJoin joins a directory path and a name. A volume's root keeps its
// backslash (\\?\C:\), which must not be doubled.
func winJoin(dir, name string) string {
	return strings.TrimSuffix(dir, `\`) + `\` + name
}

// Parts of a security descriptor, as SECURITY_INFORMATION bits.
const (
	sdOwner = 1 << iota
	sdGroup
	sdDACL
	sdSACL
)

// checkDescriptor checks that sd is a self-relative security descriptor
// whose parts lie inside it: each SID and ACL header, and each ACE within
// its ACL. It returns the parts sd sets, as SECURITY_INFORMATION bits (a
// DACL or SACL flagged present counts even when null).
func checkDescriptor(sd []byte) (uint32, error) {
	const selfRelative, daclPresent, saclPresent = 0x8000, 0x0004, 0x0010
	if len(sd) < 20 || sd[0] != 1 {
		return 0, fmt.Errorf("security descriptor of %d bytes: no revision 1 header", len(sd))
	}
	control := binary.LittleEndian.Uint16(sd[2:])
	if control&selfRelative == 0 {
		return 0, errors.New("security descriptor is not self-relative")
	}
	parts := []struct {
		bit     uint32
		off     uint32
		present bool
		acl     bool
	}{
		{sdOwner, binary.LittleEndian.Uint32(sd[4:]), true, false},
		{sdGroup, binary.LittleEndian.Uint32(sd[8:]), true, false},
		{sdSACL, binary.LittleEndian.Uint32(sd[12:]), control&saclPresent != 0, true},
		{sdDACL, binary.LittleEndian.Uint32(sd[16:]), control&daclPresent != 0, true},
	}
	var what uint32
	for _, p := range parts {
		if !p.present || p.off == 0 && !p.acl {
			continue
		}
		what |= p.bit
		if p.off == 0 {
			continue // a null ACL
		}
		if uint64(p.off) >= uint64(len(sd)) {
			return 0, fmt.Errorf("security descriptor of %d bytes: part at %d", len(sd), p.off)
		}
		check := checkSID
		if p.acl {
			check = checkACL
		}
		if err := check(sd[p.off:]); err != nil {
			return 0, fmt.Errorf("security descriptor part at %d: %w", p.off, err)
		}
	}
	return what, nil
}

// checkSID checks that b starts with a whole SID.
func checkSID(b []byte) error {
	if len(b) < 8 || b[0] != 1 || b[1] > 15 || len(b) < 8+4*int(b[1]) {
		return fmt.Errorf("malformed SID")
	}
	return nil
}

// checkACL checks that b starts with a whole ACL whose ACEs lie inside it.
func checkACL(b []byte) error {
	if len(b) < 8 || b[0] != 2 && b[0] != 4 {
		return errors.New("malformed ACL header")
	}
	size := int(binary.LittleEndian.Uint16(b[2:]))
	if size < 8 || size > len(b) {
		return fmt.Errorf("ACL of %d bytes in %d", size, len(b))
	}
	count := int(binary.LittleEndian.Uint16(b[4:]))
	for i, pos := 0, 8; i < count; i++ {
		if pos+4 > size {
			return fmt.Errorf("ACE %d of %d past the ACL's end", i, count)
		}
		n := int(binary.LittleEndian.Uint16(b[pos+2:]))
		if n < 4 || pos+n > size {
			return fmt.Errorf("ACE %d of %d bytes past the ACL's end", i, n)
		}
		pos += n
	}
	return nil
}

// securityFallbacks are the parts of a security descriptor tried in turn
// when setting the whole of it is refused, as for a process without the
// restore and security privileges: without the audit ACL (SeSecurity),
// then without owner and group (an owner other than the caller needs
// SeRestore), then the DACL alone.
var securityFallbacks = []uint32{^uint32(sdSACL), ^uint32(sdSACL | sdOwner | sdGroup), sdDACL}

// setDescriptorParts calls set with the parts what of a descriptor, then,
// while it fails, with fewer parts (securityFallbacks). It returns the
// parts that were left out (0: none) and, if even the last try failed,
// the first error.
func setDescriptorParts(what uint32, set func(parts uint32) error) (uint32, error) {
	first := set(what)
	if first == nil {
		return 0, nil
	}
	tried := what
	for _, keep := range securityFallbacks {
		parts := what & keep
		if parts == tried || parts == 0 {
			continue
		}
		tried = parts
		if set(parts) == nil {
			return what &^ parts, nil
		}
	}
	return what, first
}

// partNames names the parts of a descriptor, for messages.
func partNames(parts uint32) string {
	var names []string
	for _, p := range []struct {
		bit  uint32
		name string
	}{{sdOwner, "owner"}, {sdGroup, "group"}, {sdDACL, "DACL"}, {sdSACL, "SACL"}} {
		if parts&p.bit != 0 {
			names = append(names, p.name)
		}
	}
	return strings.Join(names, ", ")
}
