//go:build unix

package snapshot

import (
	"os"
	"strconv"
	"syscall"
)

// userSuffix tells the users' spool directories apart in a temporary
// directory they share: "-UID".
func userSuffix() string { return "-" + strconv.Itoa(os.Getuid()) }

// ownPrivateDir reports whether dir, not followed, is a directory of this
// user's that no one else may enter.
func ownPrivateDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
