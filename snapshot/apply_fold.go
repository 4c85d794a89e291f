//go:build unix

package snapshot

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// A target on a file system that does not tell upper from lower case
// (FAT, exFAT, a case-folding directory) holds one file for two names of
// the image that differ only in case: the second would overwrite the
// first, and every later restore would rewrite both. The restore makes
// the first and skips the other with a warning, as on Windows.

// foldsCase reports whether the directory dfd folds case: a file made
// there under a temporary name in lower case is found under the same
// name in upper case. Nothing is written in a dry run (false).
func (a *applier) foldsCase(dfd int) bool {
	var dir unix.Stat_t
	if a.opts.DryRun || fstat(dfd, &dir) != nil {
		return false
	}
	name := a.tempName()
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return false
	}
	closeFD(fd)
	var st unix.Stat_t
	folds := fstatat(dfd, strings.ToUpper(name), &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	_ = unix.Unlinkat(dfd, name, 0)
	ts := [2]unix.Timespec{dir.Atim, dir.Mtim}
	_ = futimens(dfd, &ts) // the directory's times are as they were: the probe is not a change
	return folds
}

// foldClash returns the error for name, an entry of the directory whose
// names so far folded holds (upper case, as NTFS and exFAT fold, to the
// name), when an earlier entry differs from it only in case; nil when none
// does, after adding name to folded.
func foldClash(folded map[string]string, name string) error {
	key := strings.ToUpper(name)
	if other, ok := folded[key]; ok {
		return fmt.Errorf("skipped: the target's file system does not tell it from %q (the names differ only in case)", other)
	}
	folded[key] = name
	return nil
}
