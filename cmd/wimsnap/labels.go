package main

import "unicode/utf8"

// checkLabels refuses a --host or --tag that is not valid UTF-8 (a usage
// error). A snapshot's manifest is JSON, which would keep such a label with
// U+FFFD for its bytes, so that forget --host or --tag given the same bytes
// would never find the snapshot; a label is text a user chooses, unlike a
// source path, which the manifest keeps byte for byte.
func checkLabels(host string, tags []string) error {
	if !utf8.ValidString(host) {
		return usagef("--host %s is not valid UTF-8", printable(host))
	}
	for _, t := range tags {
		if !utf8.ValidString(t) {
			return usagef("--tag %s is not valid UTF-8", printable(t))
		}
	}
	return nil
}
