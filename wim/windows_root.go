package wim

import "strings"

// SystemRoot is a Windows directory at the top of an image, and the image
// paths ("Windows/System32/kernel32.dll", with slashes) of the files the
// WINDOWS element is read from; a missing file's path is empty.
type SystemRoot struct {
	Name                       string
	Kernel32, Software, System string
}

// score is the number of the three files the system root holds.
func (s SystemRoot) score() int {
	n := 0
	for _, p := range []string{s.Kernel32, s.Software, s.System} {
		if p != "" {
			n++
		}
	}
	return n
}

// FindSystemRoot looks for the Windows directory among the image's top
// directories: the one holding most of System32\kernel32.dll,
// System32\config\SOFTWARE and System32\config\SYSTEM. A directory named
// prefer (OSDTargetSystemRoot's last component) wins if it holds any of
// them; else a tie goes to one named "Windows". Names compare case
// insensitively, as Windows does. ok is false when no directory holds any.
func (m *Metadata) FindSystemRoot(prefer string) (root SystemRoot, ok bool) {
	if m == nil || m.Root == nil {
		return SystemRoot{}, false
	}
	best := -1
	for _, d := range m.Root.Children {
		c, found := systemRootCandidate(d)
		if !found {
			continue
		}
		if prefer != "" && strings.EqualFold(d.Name, prefer) {
			return c, true
		}
		s := c.score()
		if s > best || s == best && strings.EqualFold(d.Name, "Windows") {
			root, best = c, s
		}
	}
	return root, best > 0
}

// systemRootCandidate returns what d holds of a system root.
func systemRootCandidate(d *Entry) (SystemRoot, bool) {
	if !isPlainDir(d) {
		return SystemRoot{}, false
	}
	s32 := childFold(d, "System32")
	if !isPlainDir(s32) {
		return SystemRoot{}, false
	}
	c := SystemRoot{Name: d.Name}
	prefix := d.Name + "/" + s32.Name + "/"
	if k := childFold(s32, "kernel32.dll"); isPlainFile(k) {
		c.Kernel32 = prefix + k.Name
	}
	if cfg := childFold(s32, "config"); isPlainDir(cfg) {
		if h := childFold(cfg, "SOFTWARE"); isPlainFile(h) {
			c.Software = prefix + cfg.Name + "/" + h.Name
		}
		if h := childFold(cfg, "SYSTEM"); isPlainFile(h) {
			c.System = prefix + cfg.Name + "/" + h.Name
		}
	}
	return c, true
}

// childFold returns d's child called name, compared case insensitively
// (an exact match first), or nil.
func childFold(d *Entry, name string) *Entry {
	var fold *Entry
	for _, c := range d.Children {
		if c.Name == name {
			return c
		}
		if fold == nil && strings.EqualFold(c.Name, name) {
			fold = c
		}
	}
	return fold
}

func isPlainDir(e *Entry) bool {
	return e != nil && e.Attributes&AttrDirectory != 0 && e.Attributes&AttrReparsePoint == 0
}

func isPlainFile(e *Entry) bool {
	return e != nil && e.Attributes&(AttrDirectory|AttrReparsePoint) == 0
}
