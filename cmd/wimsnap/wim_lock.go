package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/wimsnap/wimsnap/wim"
)

// errWIMBusy reports a WIM that another process is writing.
var errWIMBusy = errors.New("another process is writing this WIM (an append or an optimize); try again when it is done")

// lockWIM keeps writers of one WIM apart: append holds the lock while it
// writes into the file, optimize while it reads the file it replaces. It
// takes, without waiting, the exclusive lock wimlib-imagex takes for an
// append (flock on UNIX; a LockFileEx lock on Windows), on f, the file
// name opened, before f is read. It fails with errWIMBusy when another
// process holds the lock, or when name no longer names f's file (an
// optimize renamed its new WIM over it meanwhile). A file system without
// locks is written unlocked, as wimlib-imagex does. The lock lasts until
// f is closed.
func lockWIM(f *os.File, name string) error {
	ok, err := tryLockWIM(f)
	if err != nil {
		// No locks on this file system: go on unlocked, as wimlib-imagex does.
		return nil
	}
	if !ok {
		return fmt.Errorf("%s: %w", name, errWIMBusy)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(name)
	if err != nil || !os.SameFile(st, now) {
		return fmt.Errorf("%s: %w (it was replaced while being opened)", name, errWIMBusy)
	}
	return nil
}

// renameNeedsClose says that a file must be closed before another is
// renamed over it: Windows renames nothing over a file that is open.
const renameNeedsClose = runtime.GOOS == "windows"

// openWIMLocked is openWIM holding lockWIM's lock from before the WIM is
// read until the file is closed.
func openWIMLocked(name string) (*os.File, *wim.Reader, error) {
	if err := refuseSpecial(name); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	if err := lockWIM(f, name); err != nil {
		closeRead(f)
		return nil, nil, err
	}
	return readWIM(f, name)
}
