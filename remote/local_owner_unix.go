//go:build unix

package remote

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// fileOwner is the owner and group a Local gives what it makes.
type fileOwner struct{ uid, gid int }

// repoOwnership returns what writes to a repository in the directory root
// (mode rootMode) by this process need. The repository's owner is the
// owner of its config (of root before init writes one). A user other than
// root who is not that owner gets foreign, the error of every write, when
// the repository is not shared with a group (see Local): what it made
// would be private to it, and the owner could no longer read the
// repository (every command of the owner's failed with "permission
// denied" after another member of a group the directory was only made
// writable for took a snapshot). Root writing into a user's repository
// gets giveTo, that user and group, which what it makes is given (a sudo
// wimsnap snapshot made root's files there, with the same effect). Both
// are nil for the owner, for a repository root owns (root reads every
// file), for a shared one, and on a file system whose owners its mount
// options set for every file (ownersFromMount).
func repoOwnership(root string, rootMode os.FileMode) (giveTo *fileOwner, foreign error) {
	fi, err := os.Stat(filepath.Join(root, "config"))
	if err != nil {
		fi, err = os.Stat(root)
	}
	if err != nil || shared(rootMode) {
		return nil, nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	uid := os.Geteuid()
	if !ok || st.Uid == 0 || int(st.Uid) == uid || ownersFromMount(root) {
		return nil, nil
	}
	if uid == 0 {
		return &fileOwner{int(st.Uid), int(st.Gid)}, nil
	}
	owner := userName(int(st.Uid))
	return nil, fmt.Errorf("%w: the repository %s is %s's and is not shared with a group (its directory is not set-group-ID): "+
		"what %s wrote there could not be read by %s; run as %s, or share the repository (docs/repository.md, \"Layout\")",
		ErrForeign, root, owner, userName(uid), owner, owner)
}

// own gives f to l's owner for what it makes (repoOwnership), if any.
func (l *Local) own(f *os.File) error {
	if l.giveTo == nil {
		return nil
	}
	return f.Chown(l.giveTo.uid, l.giveTo.gid)
}

// ownDir gives the directory d to l's owner for what it makes, if any.
func (l *Local) ownDir(d string) error {
	if l.giveTo == nil {
		return nil
	}
	return os.Lchown(d, l.giveTo.uid, l.giveTo.gid)
}

// userName is the login name of uid, or "uid N" when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
