//go:build !unix

package main

// writableDir reports nothing here: without access(2) a check would have
// to create a file, and the command reports a cache it cannot write.
func writableDir(string) error { return nil }

// ownCacheFile reports false: writablePath finds nothing to remove.
func ownCacheFile(string) bool { return false }

// writablePath reports nothing, as writableDir.
func writablePath(string) error { return nil }
