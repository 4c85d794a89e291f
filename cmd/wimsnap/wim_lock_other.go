//go:build !windows

package main

import "os"

// tryLockWIM takes lockWIM's lock: the flock wimlib-imagex takes (none
// where the system offers none to Go).
func tryLockWIM(f *os.File) (bool, error) { return tryLockFile(f) }
