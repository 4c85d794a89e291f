package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wimsnap/wimsnap/remote"
)

// WIM files, split parts and exports are written to a temporary file
// beside the target, ".NAME.tmp-XXXXXXXXXXXX", and renamed over it when
// complete. Where there are locks (flock), the process writing one holds a
// lock on it from its creation until it has been renamed (placeTemp), so
// that a file of that name that no process holds is a killed run's
// leftover, which the next createTemp for the same target removes at once
// (sweepTemps). Without locks, as on Windows, a leftover is removed once
// it has gone unwritten for staleTempAge, and a file a live process has
// open cannot be removed.

// tempInfix joins a target's base name to the random part of the names of
// its temporary files.
const tempInfix = ".tmp-"

// discardTemp closes and removes a temporary file that will not be
// committed; there is nothing to do about a failure to.
func discardTemp(tmp *os.File) {
	_ = tmp.Close()
	_ = os.Remove(tmp.Name())
}

// createTemp creates an empty file beside target, named after it, with the
// permissions a new file gets (0666 less the umask), and locks it for this
// process. It first removes the leftovers of killed runs (sweepTemps).
func createTemp(target string) (*os.File, error) {
	sweepTemps(target)
	dir, base := filepath.Split(target)
	for range 100 {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:]) // never fails (crypto/rand)
		name := filepath.Join(dir, "."+base+tempInfix+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("create %s: %w", target, pe.Err)
		}
		if err == nil && !holdTemp(f) {
			_ = f.Close() // the sweepTemps that took it removes it
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create %s: no free temporary name", target)
}

// commitTemp syncs tmp, renames it to target and closes it (placeTemp) and
// syncs the directory, so that target is durable once it returns.
func commitTemp(tmp *os.File, target string) error {
	return commitTempWith(tmp, target, placeTemp)
}

// commitNewTemp is commitTemp for a target that did not exist: a file
// another process created there meanwhile is kept, and the error wraps
// fs.ErrExist (placeNewTemp).
func commitNewTemp(tmp *os.File, target string) error {
	return commitTempWith(tmp, target, placeNewTemp)
}

// commitTempWith syncs tmp, gives it its name with place and syncs the
// directory.
func commitTempWith(tmp *os.File, target string, place func(*os.File, string) error) error {
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := place(tmp, target); err != nil {
		return err
	}
	return remote.SyncDir(filepath.Dir(target))
}

// placeIfAbsent is placeTemp when nothing is at target; a window remains
// between the check and the rename, which placeNewTemp closes where it can.
func placeIfAbsent(tmp *os.File, target string) error {
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		return errCreatedMeanwhile(target, err)
	}
	return placeTemp(tmp, target)
}

// errCreatedMeanwhile reports a target that a new file was to take but
// that exists now (or cannot be checked: err).
func errCreatedMeanwhile(target string, err error) error {
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return fmt.Errorf("%s: another process created it meanwhile: %w", target, fs.ErrExist)
}

// sweepTemps removes the temporary files of target that killed runs left:
// named as createTemp names them, regular, and left over (removeLeftover:
// held by no process, or without locks unwritten for staleTempAge). It
// reports how many it removed; what it cannot read or remove is left
// alone.
func sweepTemps(target string) int {
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !isTempOf(e, base) {
			continue
		}
		info, err := e.Info()
		if err == nil && removeLeftover(filepath.Join(dir, e.Name()), info) {
			n++
		}
	}
	return n
}

// isTempOf reports whether e is named as createTemp names the temporary
// files of a target whose base name is base, and is a regular file.
func isTempOf(e fs.DirEntry, base string) bool {
	rnd, ok := strings.CutPrefix(e.Name(), "."+base+tempInfix)
	return ok && e.Type().IsRegular() && len(rnd) == 12 && strings.Trim(rnd, "0123456789abcdef") == ""
}

// tempsOf lists the temporary files of target that are there now, of
// live runs and killed ones alike, whatever their age: a capture leaves
// them out of its image, for they are never the user's data. A killed
// capture into its own source leaves one, which the next sweepTemps
// removes.
func tempsOf(target string) []string {
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var paths []string
	for _, e := range entries {
		if isTempOf(e, base) {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	return paths
}
