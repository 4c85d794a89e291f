//go:build !unix

package main

// exposedSecrets returns "": a Windows file's readers are its ACL's, which
// the file's mode does not show.
func exposedSecrets(string) string { return "" }
