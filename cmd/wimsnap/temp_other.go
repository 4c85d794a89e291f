//go:build !unix

package main

import "os"

// holdTemp does nothing: on Windows a file a process has open cannot be
// removed, which keeps sweepTemps off it.
func holdTemp(*os.File) {}

// tempUnheld says yes: removing a file another process has open fails.
func tempUnheld(string) bool { return true }
