package snapshot

import (
	"fmt"
	"strconv"
	"strings"
)

// joinedErr is several errors of one entry (its owner, mode and times
// that could not be set, say) as one warning on one line, "; " between
// them: errors.Join puts newlines between them, which a warning line
// shows escaped. errors.Is and errors.As see each.
type joinedErr []error

// joinErrs returns the errors of errs that are not nil as one, nil when
// there are none.
func joinErrs(errs ...error) error {
	var j joinedErr
	for _, err := range errs {
		if err != nil {
			j = append(j, err)
		}
	}
	if len(j) == 0 {
		return nil
	}
	return j
}

func (j joinedErr) Error() string {
	msgs := make([]string, len(j))
	for i, err := range j {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (j joinedErr) Unwrap() []error { return j }

// countFiles is "1 file" or "n files".
func countFiles(n int) string {
	if n == 1 {
		return "1 file"
	}
	return strconv.Itoa(n) + " files"
}

// DroppedError is the warning about the n entries an image's metadata
// names but wim.ParseMetadata left out (wim.Metadata.Dropped), with what
// they held. No capture makes them: the image was made by another tool
// (and imported), or made to harm; its metadata, checked against its
// SHA-1, is not damaged.
func DroppedError(n int) error {
	what := strconv.Itoa(n) + " entries"
	if n == 1 {
		what = "1 entry"
	}
	return fmt.Errorf("%s of the image left out: named \".\", \"..\" or nothing, holding NUL, or named as a sibling (as wimlib-imagex does)", what)
}
