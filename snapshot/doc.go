// Package snapshot is wimsnap's capture engine: it walks a source tree into
// a wim.Metadata tree, feeding file contents to a StreamSink (a *wim.Writer
// or a repository), and applies an image back to a directory.
//
// Capture follows wimlib-imagex capture --unix-data on Linux: entries are
// sorted by name (case-insensitively, then case-sensitively); regular files
// get attribute 0x80 (0x200 when sparse), directories 0x10, symlinks 0x400
// (0x410 when the target is a directory) with symlink reparse data, FIFOs,
// sockets and device nodes 0 with their type and rdev in the UNIX data;
// creation and last-write times are the mtime, last-access the atime. Hard
// links (same device and inode) share one nonzero LinkID and their streams,
// read once. Absolute symlink targets inside the capture root are stored
// relative to it (wimlib's RP_FIX). Capture stays on the root's file system
// unless CaptureOptions.CrossMounts is set: mount points are kept as empty
// directories.
//
// One bad file never fails a capture: names that are not UTF-8 are kept
// (stored with wim's lossless escape) and warned about; files that vanish,
// cannot be read or change size while being read are warned about, counted
// as skipped and left out. Errors of the sink (writing the WIM) and context
// cancellation end the capture.
//
// Apply never writes outside its target: every entry is created relative to
// an open directory descriptor (openat and friends), final components are
// never followed (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), and names that are
// empty, ".", "..", or contain '/' or NUL are refused. Symlink targets are
// written as stored (fixed absolute targets re-rooted at the target
// directory); a symlink is never followed while writing. File contents are
// written by ApplyOptions.Workers goroutines; all-zero 32 KiB blocks become
// holes.
//
// Errors: the exported sentinels carry the package prefix ("snapshot: no
// such snapshot"), as the style guide asks; an error that wraps another
// names the operation that failed ("apply target: ...", "export: ...")
// without it, so that the command line shows no prefix twice. Callers tell
// errors apart with errors.Is and errors.As, never by their text.
package snapshot
