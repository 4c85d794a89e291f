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

// sweepDepth bounds how deep SweepTemps looks: keys have at most three
// components ("packs/ab/<id>"), so temporary files lie at most two
// directories down.
const sweepDepth = 2

// SweepTemps removes the temporary files of Puts that never finished,
// those not written for olderThan (at least StaleTempAge is safe beside
// running writers), from the store's directory and the directories of its
// keys, and reports how many it removed. What it cannot read or remove is
// left alone; it never fails.
func (l *Local) SweepTemps(olderThan time.Duration) int {
	return sweepDir(l.root, 0, time.Now().Add(-olderThan))
}

// sweepDir is SweepTemps in dir, at depth below the root.
func sweepDir(dir string, depth int, before time.Time) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(before) &&
				os.Remove(p) == nil {
				n++
			}
			continue
		}
		if depth >= sweepDepth || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		// A key's directory may be a symlink to another disk.
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			n += sweepDir(p, depth+1, before)
		}
	}
	return n
}
