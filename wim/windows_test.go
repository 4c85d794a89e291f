package wim

import (
	"strings"
	"testing"
)

func dirEntry(name string, kids ...*Entry) *Entry {
	return &Entry{Name: name, Attributes: AttrDirectory, Children: kids}
}

func fileEntry(name string) *Entry { return &Entry{Name: name, Attributes: AttrArchive} }

// sysRoot makes a top directory holding the given System32 files
// ("kernel32.dll", "SOFTWARE", "SYSTEM").
func sysRoot(name string, files ...string) *Entry {
	s32 := dirEntry("system32")
	cfg := dirEntry("CONFIG")
	for _, f := range files {
		if f == "kernel32.dll" {
			s32.Children = append(s32.Children, fileEntry("KERNEL32.DLL"))
		} else {
			cfg.Children = append(cfg.Children, fileEntry(strings.ToLower(f)))
		}
	}
	s32.Children = append(s32.Children, cfg)
	return dirEntry(name, s32)
}

func TestFindSystemRoot(t *testing.T) {
	link := sysRoot("Linked", "kernel32.dll", "SOFTWARE", "SYSTEM")
	link.Attributes |= AttrReparsePoint
	cases := []struct {
		name   string
		tops   []*Entry
		prefer string
		want   string // "" for none
	}{
		{"none", []*Entry{dirEntry("Users"), fileEntry("Windows")}, "", ""},
		{"empty System32", []*Entry{sysRoot("Windows")}, "", ""},
		{"most files win", []*Entry{sysRoot("Windows", "SYSTEM"), sysRoot("Win2", "SOFTWARE", "SYSTEM")}, "", "Win2"},
		{"tie goes to Windows", []*Entry{sysRoot("A", "SYSTEM"), sysRoot("WINDOWS", "SOFTWARE"), sysRoot("Z", "SYSTEM")}, "", "WINDOWS"},
		{"prefer wins with fewer", []*Entry{sysRoot("Windows", "kernel32.dll", "SOFTWARE", "SYSTEM"), sysRoot("Old", "SYSTEM")}, "old", "Old"},
		{"prefer absent", []*Entry{sysRoot("Windows", "SYSTEM")}, "Nope", "Windows"},
		{"reparse dir ignored", []*Entry{link}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Metadata{Root: dirEntry("", c.tops...)}
			got, ok := m.FindSystemRoot(c.prefer)
			if c.want == "" {
				if ok {
					t.Fatalf("found %+v, want none", got)
				}
				return
			}
			if !ok || got.Name != c.want {
				t.Fatalf("found %+v (%v), want %s", got, ok, c.want)
			}
		})
	}
	m := &Metadata{Root: dirEntry("", sysRoot("Windows", "kernel32.dll", "SOFTWARE", "SYSTEM"))}
	got, _ := m.FindSystemRoot("")
	want := SystemRoot{Name: "Windows", Kernel32: "Windows/system32/KERNEL32.DLL",
		Software: "Windows/system32/CONFIG/software", System: "Windows/system32/CONFIG/system"}
	if got != want {
		t.Errorf("paths: got %+v, want %+v (stored names, not the looked-up spelling)", got, want)
	}
}

func TestSetWindows(t *testing.T) {
	w := &WindowsInfo{Arch: 9, ProductName: "Windows 11 Pro", EditionID: "Professional", Languages: []string{"en-US"},
		Major: 10, Minor: 0, Build: "22631", SPBuild: -1, SPLevel: 0, SystemRoot: "WINDOWS"}
	in := ImageInfo{Name: "x", Flags: "Mine", Extra: []XMLNode{{XMLName: xmlName("WINDOWS"), Text: "old"}, {XMLName: xmlName("OTHER"), Text: "kept"}}}
	in.SetWindows(w)
	if in.Flags != "Mine" || in.DisplayName != "Windows 11 Pro" || in.DisplayDescription != "Windows 11 Pro" {
		t.Errorf("fields: %+v", in)
	}
	if len(in.Extra) != 2 || in.Extra[1].Text != "kept" {
		t.Fatalf("extra: %+v", in.Extra)
	}
	infos, err := parseXML(marshalXML([]ImageInfo{in}, 0, false), 1)
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	writeNode(&s, &infos[0].Extra[0])
	const want = "<WINDOWS><ARCH>9</ARCH><PRODUCTNAME>Windows 11 Pro</PRODUCTNAME><EDITIONID>Professional</EDITIONID>" +
		"<LANGUAGES><LANGUAGE>en-US</LANGUAGE></LANGUAGES><VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>22631</BUILD>" +
		"<SPLEVEL>0</SPLEVEL></VERSION><SYSTEMROOT>WINDOWS</SYSTEMROOT></WINDOWS>"
	if s.String() != want {
		t.Errorf("WINDOWS after a round trip:\n%s\nwant\n%s", s.String(), want)
	}
	back, ok := infos[0].Windows()
	w.HAL = "" // not set above either
	if !ok || back.Arch != 9 || back.ProductName != w.ProductName || back.Build != "22631" || back.Major != 10 ||
		back.Minor != 0 || back.SPBuild != -1 || back.SPLevel != 0 || len(back.Languages) != 1 || back.SystemRoot != "WINDOWS" {
		t.Errorf("Windows() = %+v, %v; want %+v", back, ok, w)
	}
	if _, ok := (&ImageInfo{}).Windows(); ok {
		t.Error("an image without WINDOWS reports one")
	}
}

// TestXMLDropsWIMBoot: an image written here loses a WIMBOOT mark it came
// with (this writer's chunks are not the 4 KiB ones WIMBoot needs) and
// keeps its other extra elements.
func TestXMLDropsWIMBoot(t *testing.T) {
	in := ImageInfo{Name: "x", Extra: []XMLNode{{XMLName: xmlName("WIMBOOT"), Text: "1"}, {XMLName: xmlName("OTHER"), Text: "kept"}}}
	infos, err := parseXML(marshalXML([]ImageInfo{in}, 0, false), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ex := infos[0].Extra; len(ex) != 1 || ex[0].XMLName.Local != "OTHER" {
		t.Errorf("extra elements after a write: %+v", ex)
	}
}
