package main

import (
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

// checkLabels refuses a --host or --tag that is not valid UTF-8 (a usage
// error). A snapshot's manifest is JSON, which would keep such a label with
// U+FFFD for its bytes, so that forget --host or --tag given the same bytes
// would never find the snapshot; a label is text a user chooses, unlike a
// source path, which the manifest keeps byte for byte. An empty tag, and
// one with a comma, are refused too: the snapshots table joins tags with
// commas, where "daily,keep" would read as two tags (as restic's --tag
// takes it) and "" as none.
func checkLabels(host string, tags []string) error {
	if !utf8.ValidString(host) {
		return usagef("--host %s is not valid UTF-8", printable(host))
	}
	for _, t := range tags {
		switch {
		case !utf8.ValidString(t):
			return usagef("--tag %s is not valid UTF-8", printable(t))
		case t == "":
			return usagef("--tag is empty")
		case strings.Contains(t, ","):
			return usagef("--tag %s holds a comma; give each tag its own --tag", printable(t))
		}
	}
	return nil
}

// imageTextFlags are the flags whose text goes into an image's XML
// information (capture, append, snapshot, info, export-image).
var imageTextFlags = []string{"name", "description", "display-name", "flags", "creator", "version"}

// checkImageText refuses, as checkLabels does --host, a value given to one
// of cmd's imageTextFlags that is not valid UTF-8 or holds a control
// character other than white space (wim.CheckText; a usage error). The
// XML information is UTF-16 XML, which would hold U+FFFD for such bytes
// and characters, and a snapshot's manifest is JSON: the image would not
// be called what was asked, and no IMAGE argument given the same bytes
// would select it. A default name made from SOURCE is escaped instead
// (defaultImageName).
func checkImageText(cmd *cobra.Command) error {
	for _, name := range imageTextFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		if err := wim.CheckText(f.Value.String()); err != nil {
			return usagef("--%s %w", name, err)
		}
	}
	return nil
}
