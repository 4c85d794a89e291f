package snapshot

import (
	"path/filepath"
	"strings"
)

// sourcePath returns the path a snapshot of source records: absolute (a
// relative one from the working directory), cleaned, and on Windows
// without a \\?\ prefix (PlainPath) and in the letter case the file system
// stores (see realCase), so that C:\Data, \\?\C:\Data and c:\data are one
// source, with one parent and one retention group.
func sourcePath(source string) (string, error) {
	abs, err := filepath.Abs(PlainPath(source))
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

// Values of Manifest.Kind.
const (
	KindTree   = "tree"   // a snapshot of a directory tree or a file (Take)
	KindImport = "import" // an image imported from a WIM file (Import)
)

// IsImport reports whether m is an image imported from a WIM file. A
// manifest of a build before Manifest.Kind counts as one when its source
// ends as an import's does ("#" and the image number): there the two
// kinds of snapshot could not be told apart, and imports are by far the
// likelier, so that such a repository groups as it always did.
func (m *Manifest) IsImport() bool {
	if m.Kind != "" {
		return m.Kind == KindImport
	}
	return importLike(m.Source)
}

// importLike reports whether source ends as an import's source does: "#"
// and a decimal image number.
func importLike(source string) bool {
	i := strings.LastIndexByte(source, '#')
	if i < 0 || i == len(source)-1 {
		return false
	}
	return strings.Trim(source[i+1:], "0123456789") == ""
}

// SourceKey returns the key that groups m with the other snapshots of its
// source: the source, but for a tree whose path looks like an import's
// source (a directory named "x.wim#1"), the source and a "/", which no
// recorded source ends with, so that it forms no group with the imports of
// image 1 of x.wim. Forget groups and filters by it.
func (m *Manifest) SourceKey() string {
	if m.IsImport() {
		return m.Source
	}
	return TreeKey(m.Source)
}

// TreeKey returns the SourceKey of a tree snapshot of the recorded source
// path.
func TreeKey(path string) string {
	if importLike(path) {
		return path + "/"
	}
	return path
}
