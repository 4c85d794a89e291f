package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOSDTextChecked: an OSDImageCreator, OSDImageDescription or
// OSDImageVersion that is not UTF-8 or holds a control character is a
// usage error naming the variable, before any file is written, unless the
// flag that takes its place is given.
func TestOSDTextChecked(t *testing.T) {
	src := t.TempDir()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		msg  string
	}{
		{map[string]string{envImageCreator: "ops\x01"}, nil, envImageCreator + ` "ops\x01" holds control character U+0001`},
		{map[string]string{envImageDescription: "d\xff"}, nil, envImageDescription + ` "d\xff" is not valid UTF-8`},
		{map[string]string{envImageVersion: "1\x1b[2J"}, nil, envImageVersion},
		{map[string]string{envImageVersion: "1\x1b[2J"}, []string{"--version=1.0"}, ""},
	} {
		dest := filepath.Join(t.TempDir(), "out.wim")
		code, _, errb := runApp(t, tc.env, append([]string{"capture", src, dest}, tc.args...)...)
		_, statErr := os.Stat(dest)
		switch {
		case tc.msg == "" && code != exitOK:
			t.Errorf("%v %v: exit %d: %s", tc.env, tc.args, code, errb)
		case tc.msg != "" && (code != exitUsage || !strings.Contains(errb, tc.msg) || statErr == nil):
			t.Errorf("%v: exit %d, WIM written: %v, stderr %q; want exit %d naming %q", tc.env, code, statErr == nil, errb, exitUsage, tc.msg)
		}
	}
}
