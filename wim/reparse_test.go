package wim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func utf16le(s string) []byte {
	var b []byte
	for _, c := range encodeName(nil, s) {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

func TestSymlinkReparse(t *testing.T) {
	tests := []struct {
		name, target, root string
		size               int
		rpFlags            uint16
		sub, prt           string
		relative           bool
		parsed             string // ParseSymlinkReparse's Target
	}{
		{"relative dir", "dir1", "", 32, ReparseNotFixed, "dir1", "dir1", true, "dir1"},
		{"relative up", "../a.txt", "", 48, ReparseNotFixed, `..\a.txt`, `..\a.txt`, true, "../a.txt"},
		{"absolute", "/etc/passwd", "", 76, ReparseNotFixed, `\??\C:\etc\passwd`, `C:\etc\passwd`, false, "/etc/passwd"},
		{"absolute outside root", "/etc/passwd", "/src", 76, ReparseNotFixed, `\??\C:\etc\passwd`, `C:\etc\passwd`, false, "/etc/passwd"},
		{"fixed inside root", "/src/in/t", "/src", 12 + 2*len(`\??\C:\in\t`) + 2 + 2*len(`C:\in\t`) + 2, 0, `\??\C:\in\t`, `C:\in\t`, false, "/in/t"},
		{"fixed root itself", "/src", "/src/", 12 + 12 + 2 + 4 + 2, 0, `\??\C:`, `C:`, false, ""},
		{"fixed root slash", "/src/", "/src", 12 + 14 + 2 + 6 + 2, 0, `\??\C:\`, `C:\`, false, "/"},
		{"prefix is not parent", "/srcx/a", "/src", 12 + 2*len(`\??\C:\srcx\a`) + 2 + 2*len(`C:\srcx\a`) + 2, ReparseNotFixed, `\??\C:\srcx\a`, `C:\srcx\a`, false, "/srcx/a"},
		{"backslash kept", `a\b/c`, "", 12 + 10 + 2 + 10 + 2, ReparseNotFixed, `a/b\c`, `a/b\c`, true, `a\b/c`},
		{"emoji", "😀", "", 12 + 4 + 2 + 4 + 2, ReparseNotFixed, "😀", "😀", true, "😀"},
		{"not utf8", "x\xff", "", 12 + 4 + 2 + 4 + 2, ReparseNotFixed, "x\xff", "x\xff", true, "x\xff"},
		// Targets too long for both names within MaxReparseData lose
		// their print name, and fit.
		{"longest with print name", long(4090), "", MaxReparseData, ReparseNotFixed, long(4090), long(4090), true, long(4090)},
		{"relative too long", long(4091), "", 12 + 2*4091 + 4, ReparseNotFixed, long(4091), "", true, long(4091)},
		{"absolute too long", "/" + long(4094), "", 12 + 2*(7+4094) + 4, ReparseNotFixed, `\??\C:\` + long(4094), "", false, "/" + long(4094)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, rp := SymlinkReparse(tc.target, tc.root)
			if len(data) != tc.size {
				t.Errorf("size %d, want %d", len(data), tc.size)
			}
			if rp != tc.rpFlags {
				t.Errorf("rp_flags %#x, want %#x", rp, tc.rpFlags)
			}
			sub, prt := utf16le(tc.sub), utf16le(tc.prt)
			var want []byte
			want = binary.LittleEndian.AppendUint16(want, 0)
			want = binary.LittleEndian.AppendUint16(want, uint16(len(sub)))
			want = binary.LittleEndian.AppendUint16(want, uint16(len(sub)+2))
			want = binary.LittleEndian.AppendUint16(want, uint16(len(prt)))
			flags := uint32(0)
			if tc.relative {
				flags = 1
			}
			want = binary.LittleEndian.AppendUint32(want, flags)
			want = append(append(append(append(want, sub...), 0, 0), prt...), 0, 0)
			if !bytes.Equal(data, want) {
				t.Errorf("data\n% x\nwant\n% x", data, want)
			}
			got, err := ParseSymlinkReparse(ReparseTagSymlink, data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Target != tc.parsed || got.Relative != tc.relative {
				t.Errorf("parsed %+v, want %q relative=%v", got, tc.parsed, tc.relative)
			}
		})
	}
}

// long returns a name of n letters.
func long(n int) string { return strings.Repeat("L", n) }

func TestSymlinkReparseDocExample(t *testing.T) {
	data, _ := SymlinkReparse("dir1", "")
	want := []byte{0x00, 0x00, 0x08, 0x00, 0x0A, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00,
		'd', 0, 'i', 0, 'r', 0, '1', 0, 0, 0, 'd', 0, 'i', 0, 'r', 0, '1', 0, 0, 0}
	if !bytes.Equal(data, want) {
		t.Fatalf("got % x\nwant % x", data, want)
	}
}

func TestParseSymlinkReparse(t *testing.T) {
	mk := func(hdr int, flags uint32, sub string) []byte {
		s := utf16le(sub)
		b := make([]byte, hdr)
		binary.LittleEndian.PutUint16(b[2:], uint16(len(s)))
		binary.LittleEndian.PutUint16(b[4:], uint16(len(s)+2))
		if hdr == 12 {
			binary.LittleEndian.PutUint32(b[8:], flags)
		}
		return append(append(b, s...), 0, 0)
	}
	tests := []struct {
		name    string
		tag     uint32
		data    []byte
		want    SymlinkTarget
		wantErr error
	}{
		{"windows absolute D:", ReparseTagSymlink, mk(12, 0, `\??\D:\Users\x`), SymlinkTarget{"/Users/x", false}, nil},
		{"no NT prefix", ReparseTagSymlink, mk(12, 0, `C:\a`), SymlinkTarget{"/a", false}, nil},
		{"junction", ReparseTagMountPoint, mk(8, 0, `\??\C:\Program Files`), SymlinkTarget{"/Program Files", false}, nil},
		{"other tag", 0x80000017, mk(12, 0, "x"), SymlinkTarget{}, ErrUnsupported},
		{"short", ReparseTagSymlink, []byte{1, 2, 3}, SymlinkTarget{}, ErrFormat},
		{"name outside", ReparseTagSymlink, mk(12, 1, "abc")[:15], SymlinkTarget{}, ErrFormat},
		{"empty name", ReparseTagSymlink, mk(12, 1, ""), SymlinkTarget{}, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSymlinkReparse(tc.tag, tc.data)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseSymlinkReparse(f *testing.F) {
	for _, s := range []string{"dir1", "/etc/passwd", "../a.txt"} {
		d, _ := SymlinkReparse(s, "")
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseSymlinkReparse(ReparseTagSymlink, data)
		if err != nil || !st.Relative || st.Target == "" || st.Target[0] == '/' || !NameIsValid(st.Target) {
			return
		}
		d2, _ := SymlinkReparse(st.Target, "")
		st2, err := ParseSymlinkReparse(ReparseTagSymlink, d2)
		if err != nil || st2 != st {
			t.Fatalf("round trip %+v -> %+v, %v", st, st2, err)
		}
	})
}

func TestReparseBuffer(t *testing.T) {
	data := []byte("\x00\x00\x10\x00target")
	buf, err := ReparseBuffer(ReparseTagMountPoint, 7, data)
	if err != nil || len(buf) != 8+len(data) {
		t.Fatalf("ReparseBuffer: %d bytes, %v", len(buf), err)
	}
	tag, reserved, got, err := SplitReparseBuffer(buf)
	if err != nil || tag != ReparseTagMountPoint || reserved != 7 || string(got) != string(data) {
		t.Errorf("SplitReparseBuffer = %#x %d %q %v", tag, reserved, got, err)
	}
	for _, bad := range [][]byte{nil, buf[:7], buf[:len(buf)-1]} {
		if _, _, _, err := SplitReparseBuffer(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("SplitReparseBuffer of %d bytes: %v", len(bad), err)
		}
	}
	if _, err := ReparseBuffer(ReparseTagSymlink, 0, make([]byte, 1<<16)); !errors.Is(err, ErrFormat) {
		t.Errorf("64 KiB of reparse data: %v", err)
	}
}
