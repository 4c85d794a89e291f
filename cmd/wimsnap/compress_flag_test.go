package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

func TestParseWriteCodec(t *testing.T) {
	tests := []struct {
		in    string
		comp  wim.Compression
		level int
		bad   string // a part of the usage error's message; "" for a good value
	}{
		{in: "xpress", comp: wim.CompressXPRESS},
		{in: "XPRESS", comp: wim.CompressXPRESS},
		{in: "fast", comp: wim.CompressXPRESS},
		{in: "lzx", comp: wim.CompressLZX},
		{in: "Maximum", comp: wim.CompressLZX},
		{in: "MAX", comp: wim.CompressLZX}, // wimlib-imagex's alias
		{in: "max:100", comp: wim.CompressLZX, level: 100},
		{in: "none", comp: wim.CompressNone},
		{in: "xpress:80", comp: wim.CompressXPRESS, level: 80},
		{in: "XPRESS:20", comp: wim.CompressXPRESS, level: 20},
		{in: "fast:1", comp: wim.CompressXPRESS, level: 1},
		{in: "lzx:100", comp: wim.CompressLZX, level: 100},
		{in: "maximum:50", comp: wim.CompressLZX, level: 50},
		{in: "none:50", comp: wim.CompressNone, level: 50},
		{in: "xpress:4294967294", comp: wim.CompressXPRESS, level: 2147483647}, // wimlib's largest, clamped
		{in: "xpress:", bad: `level ""`},
		{in: "xpress:abc", bad: `level "abc"`},
		{in: "xpress:-1", bad: `level "-1"`},
		{in: "xpress:0", bad: `level "0"`}, // wimlib rejects 0 too
		{in: "xpress:+5", bad: `level "+5"`},
		{in: "xpress: 5", bad: `level " 5"`},
		{in: "xpress:5:5", bad: `level "5:5"`},
		{in: "xpress:4294967295", bad: `level "4294967295"`},
		{in: "xpress:99999999999", bad: `level "99999999999"`},
		{in: "zip:50", bad: `unknown compression "zip"`},
		{in: ":50", bad: `unknown compression ""`},
		{in: "lzms:50", comp: wim.CompressLZMS, level: 50},
		{in: "recovery", comp: wim.CompressLZMS}, // DISM's name
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			comp, level, err := parseWriteCodec(tt.in)
			if tt.bad != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("err = %v, want a usage error with %q", err, tt.bad)
				}
				return
			}
			if err != nil || comp != tt.comp || level != tt.level {
				t.Fatalf("got (%v, %d, %v), want (%v, %d)", comp, level, err, tt.comp, tt.level)
			}
		})
	}
}

// TestCompressLevelUsageErrors runs each command that writes a WIM with a
// bad level: exit 2, naming the value, before any file is touched.
func TestCompressLevelUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"capture", "a", "b.wim", "--compress=xpress:abc"},
		{"append", "a", "b.wim", "--compress=xpress:0"},
		{"optimize", "x.wim", "--compress=lzx:-1"},
		{"export-image", "x.wim", "1", "y.wim", "--compress=xpress:"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := runApp(t, nil, args...)
			flag := args[len(args)-1]
			if code != exitUsage || !strings.Contains(stderr, flag) {
				t.Fatalf("exit %d, want %d naming %s; stderr: %s", code, exitUsage, flag, stderr)
			}
		})
	}
}
