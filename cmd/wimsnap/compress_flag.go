package main

import (
	"math"
	"strconv"
	"strings"

	"github.com/wimsnap/wimsnap/wim"
)

// compressHelp explains --compress=TYPE[:LEVEL] in the help of the
// commands that write a WIM.
const compressHelp = `--compress=TYPE[:LEVEL] takes TYPE none, xpress (or fast), lzx (or
maximum, or max) or lzms (or recovery; written as wimlib writes it, in
128 KiB chunks, not solid), in any case, and optionally a LEVEL as
wimlib-imagex does, a positive integer (20 quick, 50 medium, the default,
100 high): XPRESS below 35 uses a faster encoder for somewhat larger
output; LZX, LZMS and none ignore it.`

// parseCodecName parses a codec's name as wimlib-imagex's --compress
// takes it: wim.ParseCompression's names in any case, and "max" for LZX.
// The alias is the command line's: a repository's config names its codec
// canonically.
func parseCodecName(name string) (wim.Compression, bool) {
	name = strings.ToLower(name)
	if name == "max" {
		return wim.CompressLZX, true
	}
	return wim.ParseCompression(name)
}

// parseWriteCodec parses the --compress of a command that writes a WIM
// (capture, append, optimize, export-image): TYPE[:LEVEL], TYPE in any
// case, as wimlib-imagex takes it. The level is 0 when none is given (the
// default), else a positive integer below 2^32, as wimlib accepts; only
// XPRESS uses it (wim.WithCompressionLevel). A name no codec has and a bad
// level are usage errors (exit 2): the value is the caller's to change.
func parseWriteCodec(s string) (wim.Compression, int, error) {
	name, levelText, hasLevel := strings.Cut(s, ":")
	c, ok := parseCodecName(name)
	switch {
	case !ok:
		return 0, 0, usagef("unknown compression %q: want none, xpress (fast), lzx (maximum) or lzms (recovery), optionally with :LEVEL", name)
	case !hasLevel:
		return c, 0, nil
	}
	level, err := strconv.ParseUint(levelText, 10, 32)
	if err != nil || level == 0 || level == math.MaxUint32 {
		return 0, 0, usagef("--compress=%s: compression level %q is not a positive integer (e.g. --compress=xpress:80)", s, levelText)
	}
	return c, int(min(level, math.MaxInt32)), nil
}

// defaultRewriteCodec returns the codec optimize and export-image write a
// WIM of codec src in when no --compress is given: src's own, but LZX for
// LZMS: an install.esd is rewritten to be deployed, and LZX is the codec
// every WIMGAPI and deployment tool reads (--compress=lzms keeps LZMS).
func defaultRewriteCodec(src wim.Compression) wim.Compression {
	if src == wim.CompressLZMS {
		return wim.CompressLZX
	}
	return src
}
