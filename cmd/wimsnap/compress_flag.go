package main

import (
	"strings"

	"github.com/wimsnap/wimsnap/wim"
)

// parseWriteCodec parses the --compress of a command that writes a WIM
// (capture, append, optimize), in any case. A name no codec has, and LZMS,
// which is read and not written, are usage errors (exit 2): the value is
// the caller's to change.
func parseWriteCodec(s string) (wim.Compression, error) {
	c, ok := wim.ParseCompression(strings.ToLower(s))
	switch {
	case !ok:
		return 0, usagef("unknown compression %q: want none, xpress (fast) or lzx (maximum)", s)
	case c == wim.CompressLZMS:
		return 0, usagef("--compress=%s: LZMS is read, not written: want none, xpress (fast) or lzx (maximum)", s)
	}
	return c, nil
}
