package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/wimsnap/wimsnap/snapshot"
)

// loadConfig reads the WimScript.ini at path, or returns DISM's defaults
// when path is empty. What the file holds that is ignored as a likely
// mistake (an unknown section) is for configWarnings to tell.
func (a *app) loadConfig(path string) (*snapshot.Config, error) {
	if path == "" {
		return snapshot.DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer closeRead(f)
	cfg, err := snapshot.ParseConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// configWarnings tells w what loadConfig read at path into cfg (nil: none)
// but ignored as a likely mistake: on stderr, or with --json in the
// document's warnings.
func configWarnings(w *warnings, path string, cfg *snapshot.Config) {
	for _, msg := range cfg.Warnings() {
		w.warn(path, errors.New(msg))
	}
}

// exclusions are a snapshot's: the WimScript.ini at config (DISM's
// defaults when empty) and the --exclude globs. A bad glob is a usage
// error.
func (a *app) exclusions(config string, exclude []string) (*snapshot.Config, error) {
	cfg, err := a.loadConfig(config)
	if err != nil {
		return nil, err
	}
	if err := cfg.Exclude(exclude...); err != nil {
		return nil, usagef("--exclude: %w", err)
	}
	return cfg, nil
}
