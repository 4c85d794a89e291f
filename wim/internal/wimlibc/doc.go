// Package wimlibc exposes wimlib's compression API (libwim) to tests, as an
// oracle for the codecs in this module. It is built only with the build tag
// "wimlib" and needs libwim-dev (wimlib.h and libwim.so); without the tag the
// package is empty.
//
// It is a test helper: each call creates and frees its own compressor or
// decompressor, favoring simplicity over speed.
package wimlibc
