//go:build unix

package remote

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// foreignWrites returns the error of every write to a repository in the
// directory root (mode rootMode) by this process, when the repository is
// another user's and not shared with a group (see Local): what it made
// there would be private to this user, and the repository's owner could no
// longer read it (every command of the owner's failed with "permission
// denied" after another member of a group the directory was only made
// writable for took a snapshot). nil when the writes may go ahead: the
// owner's, root's, a shared repository's, or one on a FUSE file system.
func foreignWrites(root string, rootMode os.FileMode) error {
	fi, err := os.Stat(root)
	if err != nil || shared(rootMode) {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	uid := os.Geteuid()
	if !ok || uid == 0 || int(st.Uid) == uid || ownersOfItsOwn(root) {
		return nil
	}
	return fmt.Errorf("%w: the repository %s is %s's and is not shared with a group (its directory is not set-group-ID): "+
		"what %s wrote there could not be read by %s; run as %s, or share the repository (docs/repository.md, \"Layout\")",
		ErrForeign, root, userName(int(st.Uid)), userName(uid), userName(int(st.Uid)), userName(int(st.Uid)))
}

// ownersOfItsOwn reports whether the file system of dir is a FUSE one
// (ntfs-3g), whose owners and modes are what its mount options say for
// every file, whoever made it: the owner reads what anyone writes there.
func ownersOfItsOwn(dir string) bool {
	var fs syscall.Statfs_t
	return syscall.Statfs(dir, &fs) == nil && fs.Type == fuseSuperMagic
}

// fuseSuperMagic is FUSE's file system type (statfs(2)).
const fuseSuperMagic = 0x65735546

// userName is the login name of uid, or "uid N" when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
