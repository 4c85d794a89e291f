package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// maxJSONWarnings caps the "warnings" array of a --json summary; the
// "warnings_total" field still counts every warning.
const maxJSONWarnings = 1000

// writeJSON writes v to w as one indented JSON document and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// warning is one entry of a --json summary's "warnings" array.
type warning struct {
	Path      string `json:"path"`
	PathBytes []byte `json:"path_bytes,omitempty"` // see rawPath
	Error     string `json:"error"`
}

// rawPath returns the bytes of path for a "path_bytes" field when JSON
// cannot hold it (it is not valid UTF-8, which encoding/json replaces with
// U+FFFD), else nil, which leaves the field out.
func rawPath(path string) []byte {
	if utf8.ValidString(path) {
		return nil
	}
	return []byte(path)
}

// pathsBytes returns the "path_bytes" list that goes beside a "paths" list:
// each path's rawPath, null for one JSON holds, in the same order; or nil,
// which leaves the field out, when JSON holds every path.
func pathsBytes(paths []string) [][]byte {
	var out [][]byte
	for i, p := range paths {
		if b := rawPath(p); b != nil {
			if out == nil {
				out = make([][]byte, len(paths))
			}
			out[i] = b
		}
	}
	return out
}

// warnings collects per-file problems during a run. In text mode each one is
// printed at once on stderr as "wimsnap: warning: PATH: ERR"; in JSON mode
// the first maxJSONWarnings are kept for the summary. Its methods may be
// called from several goroutines.
type warnings struct {
	mu     sync.Mutex
	json   bool
	status *statusLine // cleared before printing; may be nil
	stderr io.Writer
	list   []warning
	total  int64
}

// warn records one warning; it has the signature the snapshot package's
// Warn option wants.
func (w *warnings) warn(path string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total++
	if w.json {
		if len(w.list) < maxJSONWarnings {
			w.list = append(w.list, warning{Path: path, PathBytes: rawPath(path), Error: shown(err)})
		}
		return
	}
	w.status.printf(w.stderr, "wimsnap: warning: %s: %s\n", printable(path), oneLine(shown(err)))
}

// summary returns the kept warnings (never nil, so JSON shows []) and the
// total count.
func (w *warnings) summary() ([]warning, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := append([]warning{}, w.list...)
	return list, w.total
}

// seconds returns d in seconds rounded to milliseconds, for JSON.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// formatBytes formats n bytes with a binary unit: "512 B", "1.5 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// plural returns "1 job" or "n jobs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shown returns err's message as the command line shows it: without the
// package prefix ("snapshot: ", "scheduler: ") that the sentinels of
// packages snapshot and scheduler carry, as the style guide asks of them,
// and that read as the snapshot command in the errors of every other one
// ("wimsnap snapshots" said "wimsnap: snapshot: no repository at this
// location"), or as a word of no use to the user. The prefix goes where
// such an error is wrapped too ("--exclude: snapshot: bad capture
// configuration: ..."): the errors of err's chain that wrap none are
// looked for in the message whole, once each, so that a file name holding
// "snapshot: ", or such an error's whole text, is left as it is.
func shown(err error) string {
	msg := err.Error()
	for _, leaf := range leafErrors(err, nil) {
		text := leaf.Error()
		for _, prefix := range []string{"snapshot: ", "scheduler: "} {
			if rest, ok := strings.CutPrefix(text, prefix); ok {
				msg = strings.Replace(msg, text, rest, 1) // its first place: a path after it keeps the text
			}
		}
	}
	return msg
}

// leafErrors appends to leaves the errors of err's chain that wrap none.
func leafErrors(err error, leaves []error) []error {
	switch e := err.(type) { //nolint:errorlint // walking the chain itself
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			return leafErrors(inner, leaves)
		}
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			leaves = leafErrors(inner, leaves)
		}
		return leaves
	}
	return append(leaves, err)
}
