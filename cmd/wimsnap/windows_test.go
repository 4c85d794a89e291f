//go:build unix

package main

import (
	"encoding/binary"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/regf/regftest"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// makeWindowsTree writes a Windows system root called name under dir: a
// kernel32.dll with the PE machine type machine and SOFTWARE and SYSTEM
// hives built by regftest, with edition as the EditionID.
func makeWindowsTree(t *testing.T, dir, name string, machine uint16, edition string) {
	t.Helper()
	pe := make([]byte, 0x200)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3C:], 0x80)
	copy(pe[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(pe[0x84:], machine)
	writeFile(t, dir, name+"/System32/kernel32.dll", pe)

	sw := &regftest.Key{}
	sw.Path(`Microsoft\Windows NT\CurrentVersion`).Values = []regftest.Value{
		regftest.String("ProductName", "Windows 10 Pro"),
		regftest.String("EditionID", edition),
		regftest.String("InstallationType", "Client"),
		regftest.String("CurrentVersion", "6.3"),
		regftest.Dword("CurrentMajorVersionNumber", 10),
		regftest.Dword("CurrentMinorVersionNumber", 0),
		regftest.String("CurrentBuild", "19045"),
		regftest.String("CurrentBuildNumber", "19045"),
	}
	writeFile(t, dir, name+"/System32/config/SOFTWARE", regftest.Build(sw))

	sys := &regftest.Key{}
	cs := sys.Path(`ControlSet001\Control`)
	cs.Path("Windows").Values = []regftest.Value{regftest.Dword("CSDBuildNumber", 1), regftest.Dword("CSDVersion", 0x200)}
	cs.Path("ProductOptions").Values = []regftest.Value{
		regftest.String("ProductType", "WinNT"),
		regftest.MultiString("ProductSuite", "Terminal Server"),
	}
	cs.Path(`MUI\UILanguages\en-US`)
	cs.Path(`MUI\UILanguages\de-DE`)
	cs.Path(`Nls\Language`).Values = []regftest.Value{regftest.String("InstallLanguage", "0407")}
	cs.Path(`Class\{4D36E966-E325-11CE-BFC1-08002BE10318}\0000`).Values = []regftest.Value{
		regftest.String("MatchingDeviceId", "acpiapic"),
	}
	writeFile(t, dir, name+"/System32/config/SYSTEM", regftest.Build(sys))
}

// windowsNode returns image 1's WINDOWS element of the WIM at path as a map
// from element paths ("VERSION/MAJOR", "LANGUAGES/LANGUAGE[2]") to text.
func windowsNode(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range wimtest.Open(t, path).Image(1).Extra {
		if n.XMLName.Local == "WINDOWS" {
			flattenXML(out, "", n.Nodes)
		}
	}
	return out
}

func flattenXML(out map[string]string, prefix string, nodes []wim.XMLNode) {
	seen := map[string]int{}
	for _, n := range nodes {
		name := n.XMLName.Local
		seen[name]++
		key := prefix + name
		if seen[name] > 1 || name == "LANGUAGE" {
			key += "[" + string(rune('0'+seen[name])) + "]"
		}
		if len(n.Nodes) > 0 {
			flattenXML(out, key+"/", n.Nodes)
		} else {
			out[key] = strings.TrimSpace(n.Text)
		}
	}
}

// TestWindowsInfo captures a tree holding a Windows system root with
// wimlib-imagex and with wimsnap: the WINDOWS elements hold the same
// values, wimlib-imagex info shows them from wimsnap's WIM, and display
// name and flags are filled from the registry. A decoy root with fewer
// files loses, unless --system-root (or OSDTargetSystemRoot) names it.
func TestWindowsInfo(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeWindowsTree(t, src, "Windows", 0x8664, "Professional")
	makeWindowsTree(t, src, "WinOld", 0x014C, "Enterprise")
	if err := os.Remove(filepath.Join(src, "WinOld/System32/kernel32.dll")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "Users/me/notes.txt", []byte("not Windows"))

	theirs := filepath.Join(dir, "wimlib.wim")
	wimtest.Wimlib(t, "capture", src, theirs)
	ours := filepath.Join(dir, "ours.wim")
	if code, _, errb := runApp(t, nil, "capture", src, ours); code != exitOK {
		t.Fatalf("capture: exit %d: %s", code, errb)
	}
	want, got := windowsNode(t, theirs), windowsNode(t, ours)
	if len(want) < 15 {
		t.Fatalf("wimlib's WINDOWS element has only %d values: %v", len(want), want)
	}
	if !maps.Equal(got, want) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got[k] != want[k] {
				t.Errorf("WINDOWS/%s = %q, wimlib wrote %q", k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("WINDOWS/%s = %q, wimlib wrote none", k, got[k])
			}
		}
	}
	info := wimtest.Open(t, ours).Image(1)
	if info.DisplayName != "Windows 10 Pro" || info.DisplayDescription != "Windows 10 Pro" || info.Flags != "Professional" {
		t.Errorf("display name %q, description %q, flags %q; want them from the registry",
			info.DisplayName, info.DisplayDescription, info.Flags)
	}
	shown := wimtest.Wimlib(t, "info", ours, "1")
	for _, line := range []string{"Architecture:           x86_64", "Product Name:           Windows 10 Pro",
		"Edition ID:             Professional", "Installation Type:      Client", "Product Type:           WinNT",
		"Languages:              de-DE en-US", "Default Language:       de-DE", "System Root:            WINDOWS",
		"Major Version:          10", "Build:                  19045", "Service Pack Level:     2", "HAL:                    acpiapic"} {
		if !strings.Contains(shown, line) {
			t.Errorf("wimlib-imagex info lacks %q:\n%s", line, shown)
		}
	}

	// wimsnap info shows it too, in text and in --json.
	_, text, _ := runApp(t, nil, "info", ours, "1")
	for key, want := range map[string]string{"Architecture": "x86_64", "Product Name": "Windows 10 Pro",
		"Languages": "de-DE en-US", "Default Language": "de-DE", "Service Pack Level": "2"} {
		if got := infoValue(text, key); got != want {
			t.Errorf("wimsnap info shows %s %q, want %q:\n%s", key, got, want, text)
		}
	}
	_, js, _ := runApp(t, nil, "info", ours, "--json")
	for _, field := range []string{`"arch": 9`, `"edition_id": "Professional"`, `"build": "19045"`, `"system_root": "WINDOWS"`} {
		if !strings.Contains(js, field) {
			t.Errorf("wimsnap info --json lacks %s:\n%s", field, js)
		}
	}

	// A repository snapshot carries the element into its export.
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache")}
	if code, _, errb := runApp(t, env, "init"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	if code, _, errb := runApp(t, env, "snapshot", src); code != exitOK {
		t.Fatalf("snapshot: exit %d: %s", code, errb)
	}
	// --json gives the element as XML text, not as Go's records of it.
	_, js, _ = runApp(t, env, "snapshots", "--json")
	if !strings.Contains(js, `"extra_xml": [`) || !strings.Contains(js, `<SYSTEMROOT>WINDOWS</SYSTEMROOT>`) || strings.Contains(js, "XMLName") {
		t.Errorf("snapshots --json: the WINDOWS element as XML text wanted:\n%s", js)
	}
	exported := filepath.Join(dir, "export.wim")
	if code, _, errb := runApp(t, env, "export", "latest", exported); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, errb)
	}
	if got := windowsNode(t, exported); !maps.Equal(got, want) {
		t.Errorf("exported snapshot: WINDOWS = %v, want %v", got, want)
	}
	if in := wimtest.Open(t, exported).Image(1); in.Flags != "Professional" || in.DisplayDescription != "Windows 10 Pro" {
		t.Errorf("exported snapshot: flags %q, display description %q; want the EditionID and product name", in.Flags, in.DisplayDescription)
	}

	// The decoy is taken when named, by flag or by the task sequence.
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--system-root=winold"}, nil},
		{nil, map[string]string{envTargetSystemRoot: `C:\WinOld`}},
	} {
		out := filepath.Join(dir, "decoy.wim")
		if code, _, errb := runApp(t, c.env, append([]string{"capture", src, out, "--flags=Mine"}, c.args...)...); code != exitOK {
			t.Fatalf("capture %v: exit %d: %s", c.args, code, errb)
		}
		got := windowsNode(t, out)
		if got["SYSTEMROOT"] != "WINOLD" || got["EDITIONID"] != "Enterprise" || got["ARCH"] != "" {
			t.Errorf("%v %v: WINDOWS = %v, want the WinOld root without ARCH", c.args, c.env, got)
		}
		if f := wimtest.Open(t, out).Image(1).Flags; f != "Mine" {
			t.Errorf("--flags=Mine became %q: the registry must not override it", f)
		}
	}
}

// infoValue returns the value of the "Key: value" line of an info text.
func infoValue(text, key string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestBootIndex: --boot marks the captured or appended image as the boot
// image, as wimlib-imagex reads the header.
func TestBootIndex(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a.txt", []byte("a"))
	w := filepath.Join(dir, "t.wim")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"capture", src, w, "--boot"}, "1"},
		{[]string{"append", src, w, "--name=two"}, "1"},
		{[]string{"append", src, w, "--name=three", "--boot"}, "3"},
	} {
		if code, _, errb := runApp(t, nil, c.args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", c.args, code, errb)
		}
		got := ""
		for _, line := range strings.Split(wimtest.Wimlib(t, "info", w, "--header"), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "Boot Index" {
				got = strings.TrimSpace(v)
			}
		}
		if got != c.want {
			t.Errorf("after %v: wimlib-imagex shows boot index %q, want %s", c.args[:1], got, c.want)
		}
	}
}

// TestWindowsInfoDamaged: a malformed hive and a kernel32.dll that is not
// a PE file leave their elements out with a warning naming the file; the
// capture still succeeds with what the other files give.
func TestWindowsInfoDamaged(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeWindowsTree(t, src, "Windows", 0xAA64, "Professional")
	writeFile(t, src, "Windows/System32/config/SOFTWARE", []byte("regf but not really a hive"))
	writeFile(t, src, "Windows/System32/kernel32.dll", []byte("MZ"))
	out := filepath.Join(dir, "t.wim")
	code, stdout, errb := runApp(t, nil, "capture", src, out, "--json")
	if code != exitOK {
		t.Fatalf("capture: exit %d: %s", code, errb)
	}
	for _, want := range []string{"Windows/System32/config/SOFTWARE", "malformed hive", "Windows/System32/kernel32.dll"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--json warnings lack %q:\n%s", want, stdout)
		}
	}
	got := windowsNode(t, out)
	if got["PRODUCTTYPE"] != "WinNT" || got["PRODUCTNAME"] != "" || got["ARCH"] != "" || got["SYSTEMROOT"] != "WINDOWS" {
		t.Errorf("WINDOWS = %v; want the SYSTEM hive's values only", got)
	}
}
