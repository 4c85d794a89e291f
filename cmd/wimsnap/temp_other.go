//go:build !unix

package main

import (
	"io/fs"
	"os"
	"time"
)

// staleTempAge is how long a temporary file must have gone unwritten
// before removeLeftover takes it for a killed run's leftover, there being
// no lock to tell; a file a live process has open cannot be removed.
const staleTempAge = time.Minute

// holdTemp does nothing: on Windows a file a process has open cannot be
// removed, which keeps sweepTemps off it.
func holdTemp(*os.File) bool { return true }

// removeLeftover removes the temporary file at path, described by info,
// when it has gone unwritten for staleTempAge and no process has it open,
// and reports whether it did.
func removeLeftover(path string, info fs.FileInfo) bool {
	return time.Since(info.ModTime()) >= staleTempAge && os.Remove(path) == nil
}

// placeTemp closes tmp, then renames it to target: a file that is open
// cannot be renamed.
func placeTemp(tmp *os.File, target string) error {
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// placeNewTemp is placeIfAbsent: target must not exist.
func placeNewTemp(tmp *os.File, target string) error { return placeIfAbsent(tmp, target) }
