package snapshot

import "os"

// userSuffix is empty: the temporary directory is the user's own.
func userSuffix() string { return "" }

// ownPrivateDir reports whether dir, not followed, is a directory: in the
// user's own temporary directory.
func ownPrivateDir(dir string) bool {
	fi, err := os.Lstat(dir)
	return err == nil && fi.IsDir()
}
