package remote

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StaleTempAge is how long a temporary file of Put or PutIfAbsent must
// have gone unwritten before SweepTemps takes it for the leftover of a
// process that was killed or a machine that crashed. A running Put writes
// its file from start to rename within a request's time, so no running
// Put's file is that old.
const StaleTempAge = time.Hour

// sweepDirs are the directories of a repository's keys below the store's
// directory ("packs/*" standing for each of packs' subdirectories). Other
// folders that share the directory (the store may be the root of a disk)
// are not the store's and are left alone.
var sweepDirs = []string{".", "index", "snapshots", "locks", "packs/*"}

// SweepTemps removes the temporary files of Puts that never finished, those
// last written before before (now less at least StaleTempAge is safe beside
// running writers), from the store's directory and its keys' directories
// (sweepDirs), and reports how many it removed. What it cannot read or
// remove is left alone; it never fails.
func (l *Local) SweepTemps(before time.Time) int {
	n := 0
	for _, d := range sweepDirs {
		dirs := []string{filepath.Join(l.root, filepath.FromSlash(d))}
		if strings.HasSuffix(d, "/*") {
			dirs, _ = filepath.Glob(filepath.Join(l.root, filepath.FromSlash(d))) // a key's directory may be a symlink
		}
		for _, dir := range dirs {
			n += sweepDir(dir, before)
		}
	}
	return n
}

// sweepDir removes the temporary files in dir last written before before.
func sweepDir(dir string, before time.Time) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(before) &&
			os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n
}
