package wim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wimsnap/wimsnap/wim/regf"
)

// WindowsInfo is the WINDOWS element of an image's XML: what DISM, Windows
// Setup and ConfigMgr show about the Windows installation an image holds.
// Unknown numbers are -1 and unknown strings empty; such elements are left
// out of the XML.
type WindowsInfo struct {
	Arch             int // PROCESSOR_ARCHITECTURE_*: 0 x86, 5 ARM, 6 IA64, 9 x64, 12 ARM64
	ProductName      string
	EditionID        string
	InstallationType string
	HAL              string
	ProductType      string
	ProductSuite     string
	Languages        []string
	DefaultLanguage  string
	Major, Minor     int64
	Build            string
	SPBuild, SPLevel int64
	SystemRoot       string // name of the Windows directory, upper case
}

// WindowsFiles are the files of a system root that the WINDOWS element is
// read from; a nil reader stands for a missing file.
type WindowsFiles struct {
	Kernel32 *io.SectionReader // System32\kernel32.dll: the architecture
	Software *io.SectionReader // System32\config\SOFTWARE hive
	System   *io.SectionReader // System32\config\SYSTEM hive
}

// Registry keys the information comes from.
const (
	keyCurrentVersion = `Microsoft\Windows NT\CurrentVersion`
	keyControlWindows = `ControlSet001\Control\Windows`
	keyProductOptions = `ControlSet001\Control\ProductOptions`
	keyUILanguages    = `ControlSet001\Control\MUI\UILanguages`
	keyNlsLanguage    = `ControlSet001\Control\Nls\Language`
	keyDisplayClass   = `ControlSet001\Control\Class\{4D36E966-E325-11CE-BFC1-08002BE10318}\0000`
)

// WindowsErrors says what went wrong with each of the WindowsFiles.
type WindowsErrors struct {
	Kernel32, Software, System error
}

// ReadWindowsInfo builds the WINDOWS element of the system root called
// name from its files. A file that is missing, malformed or lacks a value
// only leaves the matching elements out; what went wrong with a file that
// exists is returned for each file (a missing value is not an error).
func ReadWindowsInfo(name string, f WindowsFiles) (*WindowsInfo, WindowsErrors) {
	w := &WindowsInfo{Arch: -1, Major: -1, Minor: -1, SPBuild: -1, SPLevel: -1, SystemRoot: strings.ToUpper(name)}
	var errs WindowsErrors
	if f.Kernel32 != nil {
		w.Arch, errs.Kernel32 = peArch(f.Kernel32)
	}
	if f.Software != nil {
		errs.Software = w.readSoftware(f.Software)
	}
	if f.System != nil {
		errs.System = w.readSystem(f.System)
	}
	return w, errs
}

// peMachine returns the processor architecture of a PE machine type.
func peMachine(machine uint16) (arch int, ok bool) {
	switch machine {
	case 0x014C: // i386
		return 0, true
	case 0x01C0, 0x01C2, 0x01C4: // ARM, Thumb, ARMv7
		return 5, true
	case 0x0200: // IA64
		return 6, true
	case 0x8664: // AMD64
		return 9, true
	case 0xAA64: // ARM64
		return 12, true
	}
	return -1, false
}

// peArch returns the processor architecture of a PE executable, or -1.
func peArch(r *io.SectionReader) (int, error) {
	var mz [0x40]byte
	if _, err := r.ReadAt(mz[:], 0); err != nil {
		return -1, fmt.Errorf("not a PE executable: no DOS header: %w", err)
	}
	var pe [6]byte
	off := int64(binary.LittleEndian.Uint32(mz[0x3C:]))
	if _, err := r.ReadAt(pe[:], off); err != nil || string(pe[:4]) != "PE\x00\x00" {
		return -1, errors.New("not a PE executable: no PE header")
	}
	machine := binary.LittleEndian.Uint16(pe[4:])
	arch, ok := peMachine(machine)
	if !ok {
		return -1, fmt.Errorf("PE machine type %#x not known", machine)
	}
	return arch, nil
}

// hiveReader looks values up in one hive and remembers the first error
// other than a missing key or value.
type hiveReader struct {
	h   *regf.Hive
	err error
}

func (r *hiveReader) value(key, name string) (regf.Value, bool) {
	k, err := r.h.Key(key)
	var v regf.Value
	if err == nil {
		v, err = k.Value(name)
	}
	if err != nil {
		r.note(err)
		return regf.Value{}, false
	}
	return v, true
}

func (r *hiveReader) str(key, name string) string {
	v, ok := r.value(key, name)
	if !ok {
		return ""
	}
	s, err := v.String()
	r.note(err)
	return s
}

func (r *hiveReader) num(key, name string) int64 {
	v, ok := r.value(key, name)
	if !ok {
		return -1
	}
	n, err := v.Uint()
	if err != nil || n > 1<<62 {
		r.note(err)
		return -1
	}
	return int64(n)
}

func (r *hiveReader) note(err error) {
	if err != nil && !errors.Is(err, regf.ErrNotFound) && r.err == nil {
		r.err = err
	}
}

func openHive(s *io.SectionReader) (*hiveReader, error) {
	h, err := regf.Open(s, s.Size())
	if err != nil {
		return nil, err
	}
	return &hiveReader{h: h}, nil
}

// readSoftware takes the product and version from the SOFTWARE hive.
func (w *WindowsInfo) readSoftware(s *io.SectionReader) error {
	r, err := openHive(s)
	if err != nil {
		return err
	}
	w.ProductName = r.str(keyCurrentVersion, "ProductName")
	w.EditionID = r.str(keyCurrentVersion, "EditionID")
	w.InstallationType = r.str(keyCurrentVersion, "InstallationType")
	// Windows 10 froze CurrentVersion at "6.3"; its real version is in
	// CurrentMajorVersionNumber and CurrentMinorVersionNumber.
	w.Major = r.num(keyCurrentVersion, "CurrentMajorVersionNumber")
	w.Minor = r.num(keyCurrentVersion, "CurrentMinorVersionNumber")
	if w.Major < 0 || w.Minor < 0 {
		w.Major, w.Minor = parseVersion(r.str(keyCurrentVersion, "CurrentVersion"))
	}
	if w.Major < 0 {
		w.Minor = -1
	}
	// CurrentBuild holds the build on current systems; on Windows XP it
	// is an obsolete dotted string and CurrentBuildNumber is right.
	w.Build = r.str(keyCurrentVersion, "CurrentBuild")
	if strings.Contains(w.Build, ".") {
		w.Build = r.str(keyCurrentVersion, "CurrentBuildNumber")
	}
	return r.err
}

// parseVersion splits "6.3" into 6 and 3; anything else gives -1, -1.
func parseVersion(s string) (major, minor int64) {
	a, b, ok := strings.Cut(s, ".")
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 {
		return -1, -1
	}
	return x, y
}

// readSystem takes the service pack, product type, HAL and languages from
// the SYSTEM hive.
func (w *WindowsInfo) readSystem(s *io.SectionReader) error {
	r, err := openHive(s)
	if err != nil {
		return err
	}
	w.SPBuild = r.num(keyControlWindows, "CSDBuildNumber")
	if lvl := r.num(keyControlWindows, "CSDVersion"); lvl >= 0 {
		w.SPLevel = lvl >> 8
	}
	w.ProductType = r.str(keyProductOptions, "ProductType")
	w.ProductSuite = r.str(keyProductOptions, "ProductSuite")
	w.HAL = r.str(keyDisplayClass, "MatchingDeviceId")
	if k, err := r.h.Key(keyUILanguages); err == nil {
		w.Languages, err = k.Subkeys()
		r.note(err)
	} else {
		r.note(err)
	}
	if id, err := strconv.ParseUint(r.str(keyNlsLanguage, "InstallLanguage"), 16, 16); err == nil {
		w.DefaultLanguage = lcidNames()[uint16(id)]
	}
	return r.err
}

// XMLNode returns the WINDOWS element, children in the order DISM writes
// them.
func (w *WindowsInfo) XMLNode() XMLNode {
	n := XMLNode{XMLName: xmlName("WINDOWS")}
	if w.Arch >= 0 {
		n.add("ARCH", strconv.Itoa(w.Arch))
	}
	n.add("PRODUCTNAME", w.ProductName)
	n.add("EDITIONID", w.EditionID)
	n.add("INSTALLATIONTYPE", w.InstallationType)
	n.add("HAL", w.HAL)
	n.add("PRODUCTTYPE", w.ProductType)
	n.add("PRODUCTSUITE", w.ProductSuite)
	if len(w.Languages) > 0 || w.DefaultLanguage != "" {
		l := XMLNode{XMLName: xmlName("LANGUAGES")}
		for _, lang := range w.Languages {
			l.add("LANGUAGE", lang)
		}
		l.add("DEFAULT", w.DefaultLanguage)
		n.Nodes = append(n.Nodes, l)
	}
	if w.Major >= 0 || w.Build != "" || w.SPBuild >= 0 || w.SPLevel >= 0 {
		v := XMLNode{XMLName: xmlName("VERSION")}
		v.addNum("MAJOR", w.Major)
		v.addNum("MINOR", w.Minor)
		v.add("BUILD", w.Build)
		v.addNum("SPBUILD", w.SPBuild)
		v.addNum("SPLEVEL", w.SPLevel)
		n.Nodes = append(n.Nodes, v)
	}
	n.add("SYSTEMROOT", w.SystemRoot)
	return n
}

// add appends a child element with text, unless text is empty.
func (n *XMLNode) add(name, text string) {
	if text != "" {
		n.Nodes = append(n.Nodes, XMLNode{XMLName: xmlName(name), Text: text})
	}
}

// addNum appends a child element for v, unless v is negative (unknown).
func (n *XMLNode) addNum(name string, v int64) {
	if v >= 0 {
		n.add(name, strconv.FormatInt(v, 10))
	}
}

// SetWindows puts w into the image's XML as its WINDOWS element, replacing
// any there, and fills the display name, display description and flags
// from the product name and edition where they are empty, as DISM does.
func (in *ImageInfo) SetWindows(w *WindowsInfo) {
	node := w.XMLNode()
	replaced := false
	for i := range in.Extra {
		if in.Extra[i].XMLName.Local == "WINDOWS" {
			in.Extra[i], replaced = node, true
		}
	}
	if !replaced {
		in.Extra = append(in.Extra, node)
	}
	if in.DisplayName == "" {
		in.DisplayName = w.ProductName
	}
	if in.DisplayDescription == "" {
		in.DisplayDescription = w.ProductName
	}
	if in.Flags == "" {
		in.Flags = w.EditionID
	}
}

// Windows returns the image's WINDOWS element read back into a
// WindowsInfo (numbers that are missing or malformed are -1), and false
// when the image has none.
func (in *ImageInfo) Windows() (*WindowsInfo, bool) {
	var n *XMLNode
	for i := range in.Extra {
		if in.Extra[i].XMLName.Local == "WINDOWS" {
			n = &in.Extra[i]
		}
	}
	if n == nil {
		return nil, false
	}
	text := func(parent *XMLNode, name string) string {
		if parent == nil {
			return ""
		}
		if c := parent.child(name); c != nil {
			return strings.TrimSpace(c.Text)
		}
		return ""
	}
	num := func(parent *XMLNode, name string) int64 {
		v, err := strconv.ParseInt(text(parent, name), 10, 64)
		if err != nil || v < 0 {
			return -1
		}
		return v
	}
	w := &WindowsInfo{
		Arch: int(num(n, "ARCH")), ProductName: text(n, "PRODUCTNAME"), EditionID: text(n, "EDITIONID"),
		InstallationType: text(n, "INSTALLATIONTYPE"), HAL: text(n, "HAL"), ProductType: text(n, "PRODUCTTYPE"),
		ProductSuite: text(n, "PRODUCTSUITE"), SystemRoot: text(n, "SYSTEMROOT"),
	}
	if w.Arch > 1<<16 {
		w.Arch = -1
	}
	if l := n.child("LANGUAGES"); l != nil {
		for _, c := range l.Nodes {
			if c.XMLName.Local == "LANGUAGE" {
				w.Languages = append(w.Languages, strings.TrimSpace(c.Text))
			}
		}
		w.DefaultLanguage = text(l, "DEFAULT")
	}
	v := n.child("VERSION")
	w.Major, w.Minor, w.Build = num(v, "MAJOR"), num(v, "MINOR"), text(v, "BUILD")
	w.SPBuild, w.SPLevel = num(v, "SPBUILD"), num(v, "SPLEVEL")
	return w, true
}
