package wim

import (
	"math"
	"time"
)

// Hash is the SHA-1 of a stream's uncompressed bytes. The zero Hash stands
// for an empty stream, which has no blob in the WIM.
type Hash [20]byte

// IsZero reports whether h is the all-zero hash of an empty stream.
func (h Hash) IsZero() bool { return h == Hash{} }

// Filetime is a Windows FILETIME: 100 ns intervals since 1601-01-01 UTC.
type Filetime uint64

// filetimeUnixEpoch is the FILETIME of 1970-01-01 00:00:00 UTC.
const filetimeUnixEpoch = 116444736000000000

// FiletimeFromTime converts t to a FILETIME, truncating to 100 ns.
func FiletimeFromTime(t time.Time) Filetime {
	return FiletimeFromUnix(t.Unix(), int64(t.Nanosecond()))
}

// The UNIX times, in seconds, that a FILETIME holds: from 1601-01-01 to
// the year 60056 (it is unsigned, as wimlib reads it).
const (
	minFiletimeSec = -filetimeUnixEpoch / 10000000
	maxFiletimeSec = (math.MaxUint64 - filetimeUnixEpoch) / 10000000
)

// FiletimeHolds reports whether a FILETIME holds the time sec seconds
// after the UNIX epoch; FiletimeFromUnix clamps one it does not.
func FiletimeHolds(sec int64) bool { return sec >= minFiletimeSec && sec < maxFiletimeSec }

// FiletimeFromUnix converts seconds and nanoseconds since the UNIX epoch to a
// FILETIME, truncating to 100 ns. A time before 1601 is 0, one past the
// largest FILETIME that: they used to wrap around, 1600 becoming the year
// 60055.
func FiletimeFromUnix(sec, nsec int64) Filetime {
	switch {
	case sec < minFiletimeSec:
		return 0
	case sec >= maxFiletimeSec:
		return math.MaxUint64
	}
	return Filetime(uint64(sec-minFiletimeSec)*10000000) + Filetime(nsec/100)
}

// Unix returns f as seconds and nanoseconds since the UNIX epoch. f is
// unsigned, as wimlib reads it: a time past 2^63 (year 30828) is a time
// tens of thousands of years on, not one before 1601.
func (f Filetime) Unix() (sec, nsec int64) {
	if f >= filetimeUnixEpoch {
		d := uint64(f) - filetimeUnixEpoch
		return int64(d / 10000000), int64(d%10000000) * 100
	}
	d := int64(f) - filetimeUnixEpoch // from -filetimeUnixEpoch to -1
	sec, rem := d/10000000, d%10000000
	if rem < 0 {
		sec, rem = sec-1, rem+10000000
	}
	return sec, rem * 100
}

// Time returns f as a time.Time in UTC.
func (f Filetime) Time() time.Time {
	sec, nsec := f.Unix()
	return time.Unix(sec, nsec).UTC()
}

// File attribute bits stored in a dentry (FILE_ATTRIBUTE_* of Windows).
const (
	AttrReadonly          = 0x1
	AttrHidden            = 0x2
	AttrSystem            = 0x4
	AttrDirectory         = 0x10
	AttrArchive           = 0x20
	AttrNormal            = 0x80
	AttrTemporary         = 0x100
	AttrSparseFile        = 0x200
	AttrReparsePoint      = 0x400
	AttrCompressed        = 0x800
	AttrNotContentIndexed = 0x2000
	AttrEncrypted         = 0x4000
)

// Reparse tags wimsnap creates or interprets.
const (
	ReparseTagSymlink    = 0xA000000C
	ReparseTagMountPoint = 0xA0000003
)

// ReparseNotFixed is the rp_flags bit saying a link target was not rewritten
// relative to the capture root.
const ReparseNotFixed = 0x0001

// Stream is one data stream of an entry. Size is the uncompressed size: the
// Writer ignores it (it knows its blobs), the Reader fills it from the blob
// table and leaves it 0 for a hash the table lacks.
type Stream struct {
	Name string // "" for the unnamed stream
	Hash Hash
	Size int64
}

// UnixData is wimlib's UNIX data tagged item (--unix-data): owner, group,
// the full st_mode (type and permission bits) and st_rdev cut to 32 bits.
type UnixData struct {
	UID, GID, Mode, Rdev uint32
}

// Xattr is one extended attribute, in the tagged form WIMGAPI and wimlib
// share. Flags is 0 or 0x80 (FILE_NEED_EA).
type Xattr struct {
	Name  string
	Value []byte
	Flags uint8
}

// TaggedItem is a dentry tagged item that this package does not interpret.
// It is kept verbatim so that rewriting an image loses nothing.
type TaggedItem struct {
	Tag  uint32
	Data []byte
}

// Entry is one directory entry (a name) of an image. A file with several
// hard links appears as several Entries sharing a nonzero LinkID and the
// same streams. A name may hold any bytes: name.go describes how they map
// to the UTF-16 of the file, losslessly for every UNIX name.
type Entry struct {
	Name       string // "" only for the root
	Attributes uint32
	SecurityID int32 // index into Metadata.Security, -1 for none

	CreationTime   Filetime
	LastAccessTime Filetime
	LastWriteTime  Filetime

	// Data is the unnamed data stream (Name ""); a zero Hash is empty.
	Data Stream

	// LinkID is the hard link group id: 0 for an inode with one name.
	LinkID uint64

	Unix   *UnixData // nil when the image carries no UNIX data for it
	Xattrs []Xattr

	// Ext holds the fields few entries use. It is nil unless the entry has
	// a short name, reparse data, named streams, an object id or other
	// tagged items; a nil Ext means all of them are zero. The Reader
	// allocates it only for such entries, and so should callers, to keep
	// a large tree small.
	Ext *EntryExt

	Children []*Entry // only for directories
}

// EntryExt is the rarely used part of an Entry (see Entry.Ext).
type EntryExt struct {
	ShortName string // DOS 8.3 name, "" if none

	// Reparse holds the reparse buffer without its 8-byte header; it and
	// the three fields after it are only meaningful when the entry's
	// Attributes has AttrReparsePoint.
	Reparse         Stream
	ReparseTag      uint32
	ReparseReserved uint16
	ReparseFlags    uint16

	// Named lists the named (alternate) data streams.
	Named []Stream

	ObjectID []byte // NTFS object id buffer, nil if none
	Other    []TaggedItem
}

// ext returns e.Ext, allocating it first if it is nil.
func (e *Entry) ext() *EntryExt {
	if e.Ext == nil {
		e.Ext = new(EntryExt)
	}
	return e.Ext
}

// ShortName returns e's DOS 8.3 name, "" if none.
func (e *Entry) ShortName() string {
	if e.Ext == nil {
		return ""
	}
	return e.Ext.ShortName
}

// ReparseStream returns the reparse data stream of a reparse point, and the
// zero Stream for any other entry.
func (e *Entry) ReparseStream() Stream {
	if e.Ext == nil || !e.IsReparse() {
		return Stream{}
	}
	return e.Ext.Reparse
}

// NamedStreams returns e's named (alternate) data streams, nil if none.
// The slice is e's own.
func (e *Entry) NamedStreams() []Stream {
	if e.Ext == nil {
		return nil
	}
	return e.Ext.Named
}

// IsDir reports whether e is a directory that can hold children: DIRECTORY
// set and REPARSE_POINT clear.
func (e *Entry) IsDir() bool {
	return e.Attributes&AttrDirectory != 0 && e.Attributes&AttrReparsePoint == 0
}

// IsReparse reports whether e is a reparse point (symlink, junction, ...).
func (e *Entry) IsReparse() bool { return e.Attributes&AttrReparsePoint != 0 }

// Metadata is the content of an image's metadata resource: the security
// descriptors and the directory tree.
type Metadata struct {
	Security [][]byte // self-relative SECURITY_DESCRIPTORs, indexed by SecurityID
	Root     *Entry
	// Dropped counts the entries ParseMetadata left out for their names:
	// empty, ".", "..", holding NUL, or a sibling's again. Not written.
	Dropped int
}

// Descriptor returns the security descriptor of e, nil when it has none.
func (m *Metadata) Descriptor(e *Entry) []byte {
	if id := int(e.SecurityID); id >= 0 && id < len(m.Security) {
		return m.Security[id]
	}
	return nil
}

// Compression names a WIM codec.
type Compression int

// The WIM codecs.
const (
	CompressNone Compression = iota
	CompressXPRESS
	CompressLZX
	CompressLZMS
)

func (c Compression) String() string {
	switch c {
	case CompressNone:
		return "none"
	case CompressXPRESS:
		return "xpress"
	case CompressLZX:
		return "lzx"
	case CompressLZMS:
		return "lzms"
	}
	return "unknown"
}

// ParseCompression parses "none", "xpress", "lzx" or "lzms" (wimlib's names;
// "fast" and "maximum" are accepted as DISM's names for XPRESS and LZX).
func ParseCompression(s string) (Compression, bool) {
	switch s {
	case "none":
		return CompressNone, true
	case "xpress", "fast":
		return CompressXPRESS, true
	case "lzx", "maximum":
		return CompressLZX, true
	case "lzms", "recovery":
		return CompressLZMS, true
	}
	return 0, false
}
