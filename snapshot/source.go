package snapshot

import (
	"path/filepath"
	"strings"
)

// sourcePath returns the path a snapshot of source records: absolute (a
// relative one from the working directory), cleaned, and on Windows in the
// letter case the file system stores (see realCase), so that C:\Data and
// c:\data are one source, with one parent and one retention group.
func sourcePath(source string) (string, error) {
	abs, err := filepath.Abs(source)
	if err != nil {
		return "", err
	}
	return realCase(abs), nil
}

// sameSource reports whether two recorded sources are one path: on Windows
// letter case aside, as sources recorded before realCase may differ in it.
func sameSource(a, b string) bool {
	if foldCase {
		return strings.EqualFold(a, b)
	}
	return a == b
}
