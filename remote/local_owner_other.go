//go:build !unix

package remote

import "os"

// foreignWrites returns nil: a Windows directory's access is its ACL's,
// which new files inherit.
func foreignWrites(string, os.FileMode) error { return nil }
