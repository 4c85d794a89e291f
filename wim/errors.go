package wim

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (or an
// I/O error) and name the structure and offset concerned.
var (
	ErrFormat      = errors.New("wim: malformed file")
	ErrUnsupported = errors.New("wim: unsupported feature")
	ErrChecksum    = errors.New("wim: checksum mismatch")
	ErrNotFound    = errors.New("wim: stream not found")
	ErrSizeChanged = errors.New("wim: stream size changed while reading")
	ErrNoImage     = errors.New("wim: no such image")
)
