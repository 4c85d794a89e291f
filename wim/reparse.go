package wim

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Symlink reparse data (tag ReparseTagSymlink), stored without the 8-byte
// reparse header:
//
//	u16 substitute-name offset, u16 substitute-name length,
//	u16 print-name offset,      u16 print-name length,
//	u32 flags (SymlinkFlagRelative),
//	path buffer (UTF-16LE): substitute name, NUL, print name, NUL.
//
// Offsets and lengths are in bytes and relative to the path buffer. A
// junction (ReparseTagMountPoint) has the same four fields but no flags word.
//
// UNIX targets are translated as wimlib does: '/' becomes '\' and a literal
// '\' becomes '/', so that every target round-trips. An absolute target is
// stored as `\??\C:` + translated target (print name `C:` + translated
// target); a relative one as the translated target with SymlinkFlagRelative.
// A target too long for both names within MaxReparseData (over about 4,080
// bytes; Linux allows 4,095) gets an empty print name, which is only for
// display: wimlib, Windows and wimsnap follow the substitute name.

// SymlinkFlagRelative is the symlink reparse buffer flag for a target that is
// relative to the link's directory.
const SymlinkFlagRelative = 0x1

const symlinkHeaderSize = 12 // four u16 fields and the u32 flags

// MaxReparseData is the most reparse data a reparse point holds after its
// 8-byte header: Windows' 16 KiB limit, which wimlib enforces on apply.
const MaxReparseData = 16384 - 8

// SymlinkReparse encodes the UNIX symlink target as symlink reparse data and
// returns it with the rp_flags value for the dentry (EntryExt.ReparseFlags).
//
// root, when not empty, is the absolute path of the capture root and enables
// wimlib's reparse point fixup (RP_FIX): an absolute target equal to root or
// below it is stored relative to the root (still absolute in form, `/in/t`
// for root + `/in/t`; the root itself becomes empty, as in wimlib) and
// rp_flags is 0. Every other target gets rp_flags
// ReparseNotFixed. The test is lexical; callers resolve root first if they
// want symlinked roots recognised.
func SymlinkReparse(target, root string) (data []byte, rpFlags uint16) {
	rpFlags = ReparseNotFixed
	absolute := strings.HasPrefix(target, "/")
	if absolute && root != "" {
		root = strings.TrimRight(root, "/")
		if rest, ok := strings.CutPrefix(target, root); ok && (rest == "" || rest[0] == '/') {
			// As wimlib: the rest is kept as it is, so the root itself
			// becomes `\??\C:` and root + "/" becomes `\??\C:\`.
			target, rpFlags = rest, 0
		}
	}
	u := make([]uint16, 0, 2*len(target)+16)
	var flags uint32
	if absolute {
		u = append(u, '\\', '?', '?', '\\', 'C', ':')
	} else {
		flags = SymlinkFlagRelative
	}
	start := len(u)
	u = encodeName(u, target)
	for i := start; i < len(u); i++ {
		switch u[i] {
		case '/':
			u[i] = '\\'
		case '\\':
			u[i] = '/'
		}
	}
	sub := u
	prt := u
	if flags&SymlinkFlagRelative == 0 {
		prt = u[4:] // without `\??\`
	}
	if symlinkHeaderSize+2*len(sub)+2*len(prt)+4 > MaxReparseData {
		prt = nil
	}
	subLen, printLen := 2*len(sub), 2*len(prt)
	data = make([]byte, symlinkHeaderSize, symlinkHeaderSize+subLen+printLen+4)
	binary.LittleEndian.PutUint16(data[0:], 0)
	binary.LittleEndian.PutUint16(data[2:], uint16(subLen))
	binary.LittleEndian.PutUint16(data[4:], uint16(subLen+2))
	binary.LittleEndian.PutUint16(data[6:], uint16(printLen))
	binary.LittleEndian.PutUint32(data[8:], flags)
	data = appendUTF16(data, sub)
	data = append(data, 0, 0)
	data = appendUTF16(data, prt)
	data = append(data, 0, 0)
	return data, rpFlags
}

func appendUTF16(b []byte, u []uint16) []byte {
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// SymlinkTarget is a decoded symlink or junction reparse point.
type SymlinkTarget struct {
	// Target is the UNIX form of the substitute name: separators swapped,
	// and for an absolute link the `\??\` prefix and any drive letter
	// removed, so that it starts with '/'; it is empty for a link to the
	// drive root without a separator (`\??\C:`, what a fixed link to the
	// capture root itself becomes), which stands for "/" or the apply root.
	Target string
	// Relative is true when the link target is relative to the link's
	// directory. An absolute target whose entry lacks ReparseNotFixed in
	// its rp_flags was fixed at capture and belongs under the apply root.
	Relative bool
}

// ParseSymlinkReparse decodes symlink (ReparseTagSymlink) or junction
// (ReparseTagMountPoint) reparse data, as stored in a WIM (without the
// reparse header). Re-rooting fixed absolute targets is left to the caller:
// join the apply root and Target when !Relative and the entry's rp_flags
// lack ReparseNotFixed. It returns an error wrapping ErrUnsupported for
// other tags and ErrFormat for malformed data.
func ParseSymlinkReparse(tag uint32, data []byte) (SymlinkTarget, error) {
	var hdr int
	switch tag {
	case ReparseTagSymlink:
		hdr = symlinkHeaderSize
	case ReparseTagMountPoint:
		hdr = 8
	default:
		return SymlinkTarget{}, fmt.Errorf("%w: reparse tag %#x is not a symlink", ErrUnsupported, tag)
	}
	if len(data) < hdr {
		return SymlinkTarget{}, fmt.Errorf("%w: reparse data of %d bytes, need %d", ErrFormat, len(data), hdr)
	}
	off := int(binary.LittleEndian.Uint16(data[0:]))
	n := int(binary.LittleEndian.Uint16(data[2:]))
	relative := false
	if tag == ReparseTagSymlink {
		relative = binary.LittleEndian.Uint32(data[8:])&SymlinkFlagRelative != 0
	}
	buf := data[hdr:]
	if off+n > len(buf) || n%2 != 0 || off%2 != 0 {
		return SymlinkTarget{}, fmt.Errorf("%w: reparse substitute name at %d+%d outside %d-byte path buffer", ErrFormat, off, n, len(buf))
	}
	if n == 0 {
		return SymlinkTarget{}, fmt.Errorf("%w: empty reparse substitute name", ErrFormat)
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(buf[off+2*i:])
	}
	if !relative {
		u = stripNTPrefix(u)
	}
	for i, c := range u {
		switch c {
		case '\\':
			u[i] = '/'
		case '/':
			u[i] = '\\'
		}
	}
	if !relative && len(u) > 0 && u[0] != '/' {
		u = append([]uint16{'/'}, u...)
	}
	return SymlinkTarget{Target: decodeName(u), Relative: relative}, nil
}

// stripNTPrefix removes a leading `\??\` and then a drive letter `X:`.
func stripNTPrefix(u []uint16) []uint16 {
	if len(u) >= 4 && u[0] == '\\' && u[1] == '?' && u[2] == '?' && u[3] == '\\' {
		u = u[4:]
	}
	if len(u) >= 2 && u[1] == ':' && (u[0]|0x20 >= 'a' && u[0]|0x20 <= 'z') {
		u = u[2:]
	}
	return u
}

// ReparseBuffer returns the whole reparse buffer that Windows APIs take
// (FSCTL_SET_REPARSE_POINT, BackupWrite, ntfs-3g's system.ntfs_reparse_data):
// the 8-byte header (tag, data length, reserved field) that a WIM does not
// store, then data. It fails when data is too long for the header's length.
func ReparseBuffer(tag uint32, reserved uint16, data []byte) ([]byte, error) {
	if len(data) > 0xFFFF {
		return nil, fmt.Errorf("%w: reparse data of %d bytes", ErrFormat, len(data))
	}
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 8+len(data)), tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	b = binary.LittleEndian.AppendUint16(b, reserved)
	return append(b, data...), nil
}

// SplitReparseBuffer splits a whole reparse buffer into its tag, reserved
// field and data (a slice of buf), what a WIM stores of it.
func SplitReparseBuffer(buf []byte) (tag uint32, reserved uint16, data []byte, err error) {
	if len(buf) < 8 || 8+int(binary.LittleEndian.Uint16(buf[4:])) > len(buf) {
		return 0, 0, nil, fmt.Errorf("%w: reparse buffer of %d bytes", ErrFormat, len(buf))
	}
	return binary.LittleEndian.Uint32(buf), binary.LittleEndian.Uint16(buf[6:]),
		buf[8 : 8+int(binary.LittleEndian.Uint16(buf[4:]))], nil
}
