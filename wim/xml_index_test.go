package wim

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"unicode/utf16"
)

// TestXMLImageIndex: image n takes its information from the IMAGE element
// whose INDEX is n, in whatever order the elements come (wimlib reads
// them so, and so names the images); an INDEX missing, out of range, not
// a decimal number or given twice is a format error, as in wimlib.
func TestXMLImageIndex(t *testing.T) {
	doc := func(a, b string) []byte {
		return utf16le(`<WIM><IMAGE` + a + `><NAME>first</NAME></IMAGE><IMAGE` + b + `><NAME>second</NAME></IMAGE></WIM>`)
	}
	infos, err := parseXML(doc(` INDEX="2"`, ` INDEX="1"`), 2)
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].Index != 1 || infos[0].Name != "second" || infos[1].Index != 2 || infos[1].Name != "first" {
		t.Errorf("swapped INDEX: images %d %q and %d %q, want 1 \"second\" and 2 \"first\"",
			infos[0].Index, infos[0].Name, infos[1].Index, infos[1].Name)
	}
	for _, tc := range []struct{ a, b string }{
		{``, ` INDEX="1"`},
		{` INDEX="1"`, ` INDEX="1"`},
		{` INDEX="0"`, ` INDEX="1"`},
		{` INDEX="3"`, ` INDEX="1"`},
		{` INDEX="99999999999999999999"`, ` INDEX="1"`},
		{` INDEX="-1"`, ` INDEX="2"`},
		{` INDEX="1x"`, ` INDEX="2"`},
		{` INDEX=""`, ` INDEX="2"`},
	} {
		if _, err := parseXML(doc(tc.a, tc.b), 2); !errors.Is(err, ErrFormat) {
			t.Errorf("IMAGE%s and IMAGE%s: %v, want ErrFormat", tc.a, tc.b, err)
		}
	}
}

// TestXMLDecodeMemory: the XML text is decoded once, into UTF-8; 8 MiB of
// NULs (a hostile resource: every byte read, nothing kept) allocated 28
// MiB when it also went through 16-bit units and runes.
func TestXMLDecodeMemory(t *testing.T) {
	b := make([]byte, 8<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := parseXML(b, 1)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) {
		t.Errorf("parseXML of NULs: %v, want ErrFormat", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(b)) {
		t.Errorf("parseXML of %d bytes allocated %d", len(b), got)
	}
}

// FuzzUTF16LEToUTF8 compares the decoding of XML text with the standard
// library's, through runes.
func FuzzUTF16LEToUTF8(f *testing.F) {
	f.Add([]byte{0xff, 0xfe, '<', 0, 'W', 0})
	f.Add([]byte{0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 'a', 0, 0x00, 0xdc})
	f.Add([]byte{0xe9, 0x00, 0x2c, 0x67, 0xfe, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		if len(u) > 0 && u[0] == 0xFEFF {
			u = u[1:]
		}
		if got, want := string(utf16leToUTF8(b)), string(utf16.Decode(u)); got != want {
			t.Fatalf("% x: %q, want %q", b, got, want)
		}
	})
}

// TestXMLKeepsSpaces: an image's name and description keep their leading
// and trailing spaces, as wimlib keeps them; numbers may have spaces.
func TestXMLKeepsSpaces(t *testing.T) {
	infos, err := parseXML(utf16le(`<WIM><IMAGE INDEX="1"><NAME>  lead</NAME><DESCRIPTION> trail  </DESCRIPTION><DIRCOUNT> 7 </DIRCOUNT></IMAGE></WIM>`), 1)
	if err != nil {
		t.Fatal(err)
	}
	if in := infos[0]; in.Name != "  lead" || in.Description != " trail  " || in.DirCount != 7 {
		t.Errorf("name %q, description %q, dir count %d", in.Name, in.Description, in.DirCount)
	}
	back, err := parseXML(marshalXML(infos, 0, false), 1)
	if err != nil || back[0].Name != "  lead" || back[0].Description != " trail  " {
		t.Errorf("written and read again: %+v, %v", back, err)
	}
}
