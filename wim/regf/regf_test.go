package regf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/regf"
	"github.com/wimsnap/wimsnap/wim/regf/regftest"
)

// sample is a hive with every kind of name and value the reader handles.
func sample() *regftest.Key {
	root := &regftest.Key{}
	cv := root.Path(`Microsoft\Windows NT\CurrentVersion`)
	cv.Values = []regftest.Value{
		regftest.String("ProductName", "Windows 10 Pro"),
		regftest.Dword("CurrentMajorVersionNumber", 10),
		regftest.Qword("InstallTime", 0x01D9_0000_1234_5678),
		regftest.MultiString("ProductSuite", "Terminal Server", "Second"),
		{Name: "Big", Type: regftest.String("", "").Type, Data: bigString()},
		{Name: "BE", Type: 5, Data: []byte{0, 0, 1, 2}},
		regftest.String("Ünïcødé→名", "värde"),
		regftest.String("", "default value"),
	}
	for _, l := range []string{"en-US", "de-DE", "ja-JP", "zz-名前"} {
		root.Path(`ControlSet001\Control\MUI\UILanguages\` + l)
	}
	return root
}

// bigString is a REG_SZ of more than one big-data segment.
func bigString() []byte {
	var b []byte
	for i := range 20000 {
		b = binary.LittleEndian.AppendUint16(b, uint16('a'+i%26))
	}
	return append(b, 0, 0)
}

func open(t *testing.T, b []byte) *regf.Hive {
	t.Helper()
	h, err := regf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// value looks up key\name in h, failing the test when it is missing.
func value(t *testing.T, h *regf.Hive, key, name string) regf.Value {
	t.Helper()
	k, err := h.Key(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Value(name)
	if err != nil {
		t.Fatalf("%s\\%s: %v", key, name, err)
	}
	return v
}

func str(t *testing.T, h *regf.Hive, key, name string) string {
	t.Helper()
	s, err := value(t, h, key, name).String()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func num(t *testing.T, h *regf.Hive, key, name string) uint64 {
	t.Helper()
	n, err := value(t, h, key, name).Uint()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRead(t *testing.T) {
	h := open(t, regftest.Build(sample()))
	const cv = `microsoft\WINDOWS NT\currentversion`
	if got := str(t, h, cv, "productname"); got != "Windows 10 Pro" {
		t.Errorf("ProductName = %q", got)
	}
	if got := str(t, h, cv, "ProductSuite"); got != "Terminal Server" {
		t.Errorf("ProductSuite (first of a multi-string) = %q", got)
	}
	if got := str(t, h, cv, "ÜNÏCØDÉ→名"); got != "värde" {
		t.Errorf("UTF-16 value name: %q", got)
	}
	if got := str(t, h, cv, ""); got != "default value" {
		t.Errorf("default value = %q", got)
	}
	if got := str(t, h, cv, "Big"); len(got) != 20000 || got[:3] != "abc" {
		t.Errorf("big value: %d characters", len(got))
	}
	if got := num(t, h, cv, "CurrentMajorVersionNumber"); got != 10 {
		t.Errorf("dword = %d", got)
	}
	if got := num(t, h, cv, "InstallTime"); got != 0x01D9_0000_1234_5678 {
		t.Errorf("qword = %#x", got)
	}
	if got := num(t, h, cv, "BE"); got != 0x102 {
		t.Errorf("big-endian dword = %#x", got)
	}
	k, err := h.Key(`ControlSet001\Control\MUI\UILanguages`)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := k.Subkeys()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"de-DE", "en-US", "ja-JP", "zz-名前"}; !slices.Equal(subs, want) {
		t.Errorf("subkeys = %q, want %q", subs, want)
	}
}

func TestNotFoundAndWrongType(t *testing.T) {
	h := open(t, regftest.Build(sample()))
	if _, err := h.Key(`Microsoft\Nope`); !errors.Is(err, regf.ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	k, err := h.Key(`Microsoft\Windows NT\CurrentVersion`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Value("Nope"); !errors.Is(err, regf.ErrNotFound) {
		t.Errorf("missing value: %v", err)
	}
	v, err := k.Value("ProductName")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Uint(); !errors.Is(err, regf.ErrType) {
		t.Errorf("string as number: %v", err)
	}
	v, err = k.Value("CurrentMajorVersionNumber")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.String(); !errors.Is(err, regf.ErrType) {
		t.Errorf("number as string: %v", err)
	}
}

// TestHivex checks both directions against hivex: hivexsh reads what
// regftest writes, and the reader reads the keys and values hivexsh adds
// (its own cell layout: "lf"/"lh" lists it grows, values it places).
func TestHivex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "SOFTWARE")
	if err := os.WriteFile(path, regftest.Build(sample()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := regftest.Hivexsh(t, path, false, "cd Microsoft\\Windows NT\\CurrentVersion\nlsval ProductName\ncd \\ControlSet001\\Control\\MUI\\UILanguages\nls\n")
	for _, want := range []string{`Windows 10 Pro`, "de-DE\nen-US\nja-JP\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("hivexsh output lacks %q:\n%s", want, out)
		}
	}

	var script strings.Builder
	script.WriteString("cd Microsoft\n")
	for i := range 300 {
		script.WriteString("add Key" + strings.Repeat("x", i%7) + string(rune('A'+i%26)) + string(rune('0'+i/26%10)) + string(rune('a'+i/260)) + "\n")
	}
	script.WriteString("cd Windows NT\\CurrentVersion\nadd Added\ncd Added\nsetval 3\nEditionID\nstring:Professional\nCSDVersion\ndword:0x100\nBin\nhex:3:" +
		strings.Repeat("ab,", 300) + "cd\ncommit\n")
	regftest.Hivexsh(t, path, true, script.String())

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := open(t, b)
	const added = `Microsoft\Windows NT\CurrentVersion\Added`
	if got := str(t, h, added, "EditionID"); got != "Professional" {
		t.Errorf("EditionID written by hivex = %q", got)
	}
	if got := num(t, h, added, "CSDVersion"); got != 0x100 {
		t.Errorf("CSDVersion written by hivex = %#x", got)
	}
	k, err := h.Key(added)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Value("Bin")
	if err != nil || len(v.Data) != 301 || v.Data[300] != 0xcd {
		t.Errorf("binary written by hivex: %d bytes, %v", len(v.Data), err)
	}
	m, err := h.Key("Microsoft")
	if err != nil {
		t.Fatal(err)
	}
	subs, err := m.Subkeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 301 {
		t.Errorf("Microsoft has %d subkeys after hivex added 300, want 301", len(subs))
	}
	if got := str(t, h, `Microsoft\Windows NT\CurrentVersion`, "ProductName"); got != "Windows 10 Pro" {
		t.Errorf("ProductName after hivex's edit = %q", got)
	}
}

// TestHostile feeds every truncation and a flipped byte at every position
// of a hive: each lookup returns a value or an error, never panics.
func TestHostile(t *testing.T) {
	good := regftest.Build(sample())
	for n := 0; n < len(good); n += 7 {
		lookupAll(good[:n])
	}
	// Past the first 8 KiB lie the big value's segments: every 97th byte.
	for i := 0; i < len(good); i += 1 + i/8192*96 {
		b := bytes.Clone(good)
		b[i] ^= 0x5A
		lookupAll(b)
	}
}

// TestSelfReferentialList: a subkey list that names itself ("ri" of
// itself) ends in an error, not a loop.
func TestSelfReferentialList(t *testing.T) {
	b := regftest.Build(sample())
	h := open(t, b)
	root, err := h.Root()
	if err != nil {
		t.Fatal(err)
	}
	_ = root
	// The root's subkey list offset sits at 0x1C of its nk cell; turn that
	// list into an "ri" pointing at itself.
	rootOff := binary.LittleEndian.Uint32(b[0x24:])
	nk := 4096 + int(rootOff) + 4
	list := binary.LittleEndian.Uint32(b[nk+0x1C:])
	c := 4096 + int(list) + 4
	copy(b[c:], "ri")
	binary.LittleEndian.PutUint16(b[c+2:], 1)
	binary.LittleEndian.PutUint32(b[c+4:], list)
	h = open(t, b)
	if _, err := h.Key("Microsoft"); !errors.Is(err, regf.ErrFormat) {
		t.Errorf("self-referential list: %v", err)
	}
}

// lookupAll runs the lookups an imaging tool makes on b, ignoring errors.
func lookupAll(b []byte) {
	h, err := regf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return
	}
	for _, p := range []string{`Microsoft\Windows NT\CurrentVersion`, `ControlSet001\Control\MUI\UILanguages`, ``} {
		k, err := h.Key(p)
		if err != nil {
			continue
		}
		_, _ = k.Subkeys()
		_ = k.Name()
		for _, name := range []string{"ProductName", "Big", "CurrentMajorVersionNumber", "ProductSuite", ""} {
			if v, err := k.Value(name); err == nil {
				_, _ = v.String()
				_, _ = v.Uint()
			}
		}
	}
}

func FuzzHive(f *testing.F) {
	f.Add(regftest.Build(sample()))
	f.Add(regftest.Build(&regftest.Key{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		lookupAll(b)
	})
}
