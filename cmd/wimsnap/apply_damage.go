package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// applyDamage counts the files whose data in the WIM failed its checksum
// or format when read, or was missing (not, say, a symlink's malformed
// reparse data), and of them those whose data was missing; in names the
// files that hold the damaged data, "" for WIMFILE itself. malformed
// counts the damaged files whose data was malformed (a chunk that does
// not decompress) rather than failing its SHA-1.
type applyDamage struct {
	files, missing, malformed int64
	in                        map[string]bool
}

// add counts err, an error of snapshot.Apply about a file, when its data
// was damaged or missing.
func (d *applyDamage) add(err error) {
	// A stream the blob table lacks is damage too (a missing part of a
	// split WIM is refused before).
	if !errors.Is(err, snapshot.ErrStreamRead) ||
		!errors.Is(err, wim.ErrChecksum) && !errors.Is(err, wim.ErrFormat) && !errors.Is(err, wim.ErrNotFound) {
		return
	}
	d.files++
	if errors.Is(err, wim.ErrNotFound) {
		d.missing++
		return
	}
	if !errors.Is(err, wim.ErrChecksum) {
		d.malformed++
	}
	var fe *wim.FileError
	file := ""
	if errors.As(err, &fe) {
		file = fe.File // a part of a split WIM, or a --ref WIM
	}
	if d.in == nil {
		d.in = map[string]bool{}
	}
	d.in[file] = true
}

// damagedIn names the files that hold the damaged data: wimfile, the
// parts of a split WIM or the --ref WIMs, in order.
func (d applyDamage) damagedIn(wimfile string) string {
	var names []string
	for name := range d.in {
		names = append(names, cmp.Or(name, wimfile))
	}
	slices.Sort(names)
	return cmp.Or(strings.Join(names, ", "), wimfile)
}

// err returns the error of an apply from wimfile that left out d.files
// files (d.files > 0). When every one of them lacked its data, it wraps
// wim.ErrNotFound and says so, pointing at --ref unless the WIM is split
// (a missing part is refused before); otherwise it wraps wim.ErrChecksum
// when every damaged file failed its SHA-1, else wim.ErrFormat.
func (d applyDamage) err(wimfile string, split bool) error {
	const verify = "see 'wimsnap verify'"
	see := verify
	if d.missing > 0 && !split {
		see = deltaHelp
		if d.missing < d.files {
			see = verify + "; " + deltaHelp
		}
	}
	if d.missing == d.files {
		return fmt.Errorf("%w: %d files could not be applied: their data is missing from %s (%s)",
			wim.ErrNotFound, d.files, wimfile, see)
	}
	in := d.damagedIn(wimfile)
	damage := wim.ErrChecksum
	if d.malformed > 0 {
		damage = wim.ErrFormat // "checksum mismatch" named what did not happen
	}
	if d.missing > 0 && in == wimfile {
		return fmt.Errorf("%w: %d files could not be applied: the data of %d is damaged in %s and that of %d missing from it (%s)",
			damage, d.files, d.files-d.missing, wimfile, d.missing, see)
	}
	if d.missing > 0 {
		return fmt.Errorf("%w: %d files could not be applied: the data of %d is damaged in %s and that of %d missing from %s (%s)",
			damage, d.files, d.files-d.missing, in, d.missing, wimfile, see)
	}
	return fmt.Errorf("%w: %d files could not be applied: their data in %s is damaged (%s)",
		damage, d.files, in, see)
}
