//go:build unix

package snapshot

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// A target on a file system that does not tell upper from lower case
// (FAT, exFAT, a case-folding directory) holds one file for two names of
// the image that differ only in case: the second would overwrite the
// first, and every later restore would rewrite both. The restore makes
// the first and skips the other with a warning, as on Windows.

// foldsCase reports whether the directory dfd folds case: a name it
// holds is found in another case (foldsListed), or, in a directory
// without such a name, a file made there under a temporary name in lower
// case is found under the same name in upper case. A dry run, which
// writes nothing, asks foldsAbove.
func (a *applier) foldsCase(dfd int) bool {
	if folds, told := foldsListed(dfd, make([]byte, 16<<10)); told {
		return folds // nothing made: a rollback changed the target's ctime
	}
	folds := false
	a.withProbe(dfd, func(name string, _ int) {
		var st unix.Stat_t
		folds = fstatat(dfd, strings.ToUpper(name), &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	})
	return folds
}

// foldedNames returns the map foldClash keeps for a directory of n
// entries, nil where the target tells case apart or no two names can
// clash.
func (a *applier) foldedNames(n int) map[string]string {
	if !a.foldCase || n < 2 {
		return nil
	}
	return make(map[string]string, n)
}

// foldClash returns the error for name, an entry of the directory whose
// names so far folded holds (upper case, as NTFS and exFAT fold, to the
// name), when an earlier entry differs from it only in case; nil when none
// does, after adding name to folded, and nil when folded is nil
// (foldedNames).
func foldClash(folded map[string]string, name string) error {
	if folded == nil {
		return nil
	}
	key := strings.ToUpper(name)
	if other, ok := folded[key]; ok {
		return fmt.Errorf("skipped: the target's file system does not tell it from %q (the names differ only in case)", other)
	}
	folded[key] = name
	return nil
}

// foldsListed reports whether the directory dfd folds case, writing
// nothing: a name it holds, with letters, is found in another case that
// the directory does not list, or as the same file. (FUSE file systems
// such as exFAT's and FAT's give each case of a name an inode number of
// its own.) told is false for a directory without such a name (a new
// target), which tells nothing.
func foldsListed(dfd int, buf []byte) (folds, told bool) {
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false
	}
	defer closeFD(fd)
	// The first name with letters, and whether the listing holds it in
	// another case too (after it: the names before it have no letters).
	var name, other string
	listed := false
	_ = eachDirName(fd, buf, func(n []byte) {
		switch {
		case name != "":
			listed = listed || string(n) == other
		case strings.ToUpper(string(n)) != strings.ToLower(string(n)):
			name, other = string(n), strings.ToUpper(string(n))
			if other == name {
				other = strings.ToLower(name)
			}
		}
	})
	if name == "" {
		return false, false
	}
	var st, ost unix.Stat_t
	if fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || fstatat(dfd, other, &ost, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false, true
	}
	return !listed || st.Dev == ost.Dev && st.Ino == ost.Ino, true
}

// foldsAbove is foldsListed for a dry run's target, and when the target
// is missing or holds no name with letters, for the directories above it,
// on the same file system, up to the first that tells.
func foldsAbove(target string, buf []byte) bool {
	p := existingAncestor(target)
	var dev uint64
	for p != "" {
		fd, err := openDir(unix.AT_FDCWD, p, false)
		if err != nil {
			return false
		}
		var st unix.Stat_t
		same := fstat(fd, &st) == nil && (dev == 0 || uint64(st.Dev) == dev) //nolint:unconvert // Dev is 32 bits on some systems
		dev = uint64(st.Dev)                                                 //nolint:unconvert // as above
		folds, told := false, false
		if same {
			folds, told = foldsListed(fd, buf)
		}
		closeFD(fd)
		if !same || told {
			return folds
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
	return false
}

// firstNames maps each name of entries to the index of its first entry,
// nil for fewer than two entries: a later one of the same name is a
// duplicate, skipped.
func firstNames(entries []*wim.Entry) map[string]int {
	if len(entries) < 2 {
		return nil
	}
	first := make(map[string]int, len(entries))
	for i, ch := range entries {
		if _, ok := first[ch.Name]; !ok {
			first[ch.Name] = i
		}
	}
	return first
}
