package snapshot

import (
	"errors"
	"fmt"
)

// This file holds the order in which an in-place apply puts a new entry
// in place of one that a rename cannot replace (a directory, or a
// directory reparse point on Windows), so that a failure at any step
// leaves the old entry or the new one at its name, never neither. The
// calls are injected (swapOps), so that the order is tested on every
// platform.

// swapOps are the file system calls swap makes.
type swapOps struct {
	// rename renames from to to, which does not exist.
	rename func(from, to string) error
	// removeOld removes the old entry, renamed to aside, with what it
	// holds.
	removeOld func(aside string) error
}

// errOldLeft is wrapped by swap's error when the new entry is in place
// but the old one could not be removed: it stays under its temporary
// name, which a later in-place apply removes as a leftover.
var errOldLeft = errors.New("the old entry is left under a temporary name")

// swap puts the finished entry tmp at path in place of the entry there:
// the old entry is renamed aside (a temporary name in the same
// directory), tmp is renamed to path, and only then is the old entry
// removed. If tmp cannot be renamed in, the old entry is renamed back and
// swap reports false with the error; tmp is the caller's to remove. It
// reports true once path holds the new entry, with an error wrapping
// errOldLeft if the old one could not be removed.
func swap(tmp, path, aside string, ops swapOps) (bool, error) {
	if err := ops.rename(path, aside); err != nil {
		return false, fmt.Errorf("renaming the old entry aside: %w", err)
	}
	if err := ops.rename(tmp, path); err != nil {
		if berr := ops.rename(aside, path); berr != nil {
			return false, fmt.Errorf("renaming the new entry in: %w (and the old entry back from %s: %w)", err, aside, berr)
		}
		return false, fmt.Errorf("renaming the new entry in: %w", err)
	}
	if err := ops.removeOld(aside); err != nil {
		return true, fmt.Errorf("%w (%s): %w", errOldLeft, aside, err)
	}
	return true, nil
}
