//go:build unix

package main

import (
	"fmt"
	"os"
)

// exposedSecrets returns a warning when the credentials file at path may be
// read by users other than its owner (docs/agent.md: keep it readable by
// root only), "" otherwise or when it cannot be looked at.
func exposedSecrets(path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return ""
	}
	return fmt.Sprintf("env-file %s holds credentials and has mode %04o: other users may read it (chmod 600 %s)",
		path, fi.Mode().Perm(), path)
}
