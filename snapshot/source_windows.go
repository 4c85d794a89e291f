package snapshot

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// foldCase reports whether paths compare without regard to letter case.
const foldCase = true

// PlainPath returns p without the \\?\ prefix that passes a path to the
// file system as it is, in the spelling it has without one: \\?\C:\x is
// C:\x, \\?\UNC\server\share is \\server\share. A path of another
// form, such as a shadow copy's \\?\GLOBALROOT\..., is returned as it is.
// A source is recorded so, with one spelling.
func PlainPath(p string) string {
	const unc = `\\?\UNC\`
	switch {
	case len(p) >= len(unc) && strings.EqualFold(p[:len(unc)], unc):
		return `\\` + p[len(unc):]
	case len(p) == 6 && strings.HasPrefix(p, `\\?\`) && p[5] == ':':
		return p[4:] + `\` // the volume's root, not its current directory
	case len(p) > 6 && strings.HasPrefix(p, `\\?\`) && p[5] == ':':
		return p[4:]
	}
	return p
}

// realCase returns the absolute path p with its drive letter in upper case
// and each name after the volume spelled as its directory lists it (which
// also turns a short 8.3 name into the long one). A name that cannot be
// looked up (missing, no access) ends the lookup: it and the names after
// it stay as given.
func realCase(p string) string {
	vol := filepath.VolumeName(p)
	if len(vol) == 2 && vol[1] == ':' {
		vol = strings.ToUpper(vol)
	}
	out := vol
	names := strings.Split(strings.Trim(p[len(filepath.VolumeName(p)):], `\`), `\`)
	for i, name := range names {
		if name == "" {
			break
		}
		real, ok := listedName(out + `\` + name)
		if !ok {
			return out + `\` + strings.Join(names[i:], `\`)
		}
		out += `\` + real
	}
	if out == vol {
		return vol + `\`
	}
	return out
}

// listedName returns the name of the file at path as its directory lists
// it, and whether it could be looked up.
func listedName(path string) (string, bool) {
	if strings.ContainsAny(filepath.Base(path), "*?") {
		return "", false // FindFirstFile would take it for a pattern
	}
	lp, err := longPath(path)
	if err != nil {
		return "", false
	}
	p, err := windows.UTF16PtrFromString(lp)
	if err != nil {
		return "", false
	}
	var fd windows.Win32finddata
	h, err := windows.FindFirstFile(p, &fd)
	if err != nil {
		return "", false
	}
	_ = windows.FindClose(h)
	return windows.UTF16ToString(fd.FileName[:]), true
}
