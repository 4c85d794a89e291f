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
	// ErrProperty is the error of an image property path or value that
	// ImageInfo.SetProperty refuses.
	ErrProperty = errors.New("wim: bad image property")
)

// FileError is the error of reading a blob that is not in the one file a
// Reader was opened on: in a part of a split WIM (the part opened too),
// or in a WIM added by AddRef. File names that file as fileName does: the
// file's name, with "(part K of N)" for a part.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }
