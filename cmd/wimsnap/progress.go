package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/snapshot"
)

// statusInterval is how often the status line is redrawn.
const statusInterval = 250 * time.Millisecond

// statusLine is a one-line progress display on stderr, redrawn by a ticker
// with carriage returns. It exists only when stderr is a terminal and the
// output is not --json; a nil *statusLine is valid and shows nothing, so
// callers need not check.
type statusLine struct {
	mu    sync.Mutex
	out   io.Writer
	width func() int // terminal columns; <= 0 when unknown
	shown bool       // a line is on screen and must be cleared first
	stop  chan struct{}
	done  chan struct{}
}

// newStatusLine returns a status line writing to out, or nil when enabled
// is false.
func newStatusLine(out io.Writer, enabled bool, width func() int) *statusLine {
	if !enabled {
		return nil
	}
	return &statusLine{out: out, width: width}
}

// start redraws render's result every statusInterval until finish is
// called. It must be called at most once.
func (s *statusLine) start(render func() string) {
	if s == nil {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(statusInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.draw(render())
			}
		}
	}()
}

// finish stops the ticker and clears the line. It is safe to call on a
// status line that was never started, and more than once.
func (s *statusLine) finish() {
	if s == nil {
		return
	}
	if s.stop != nil {
		select {
		case <-s.stop:
		default:
			close(s.stop)
		}
		<-s.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
}

// printf prints a message on w, clearing the status line first so the
// two do not mix; the ticker redraws it afterwards.
func (s *statusLine) printf(w io.Writer, format string, args ...any) {
	if s == nil {
		fmt.Fprintf(w, format, args...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	fmt.Fprintf(w, format, args...)
}

func (s *statusLine) draw(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.width(); w > 1 {
		line = truncate(line, w-1)
	}
	fmt.Fprintf(s.out, "\r\x1b[K%s", line)
	s.shown = true
}

// clear erases the line; s.mu must be held.
func (s *statusLine) clear() {
	if s.shown {
		fmt.Fprint(s.out, "\r\x1b[K")
		s.shown = false
	}
}

// truncate cuts the status line s to at most n terminal columns (colsOf).
// The counts before the path (two spaces set it apart) stay, and the path
// loses its start (its tail is the informative part); a line too narrow
// even for the counts keeps its start, the verb. It kept the line's end,
// so that a narrow terminal showed a path alone, and a line without one
// its ETA.
func truncate(s string, n int) string {
	if colsOf(s) <= n {
		return s
	}
	head, path, ok := strings.Cut(s, "  ")
	if room := n - colsOf(head) - 2; ok && room >= 2 {
		return head + "  …" + tailCols(path, room-1)
	}
	return headCols(s, n-1) + "…"
}

// tracker keeps the latest snapshot.Progress for the status line. Its
// update method is the Progress callback; it may be called concurrently.
type tracker struct {
	mu    sync.Mutex
	verb  string // "capturing", "applying"
	start time.Time
	now   func() time.Time
	last  snapshot.Progress
}

func newTracker(verb string, now func() time.Time) *tracker {
	return &tracker{verb: verb, start: now(), now: now}
}

func (t *tracker) update(p snapshot.Progress) {
	t.mu.Lock()
	t.last = p
	t.mu.Unlock()
}

// render formats the status line: counts, bytes, rate and current path
// (quoted when it is not printable, as listings print it).
func (t *tracker) render() string {
	t.mu.Lock()
	p := t.last
	t.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d dirs, %d files, %s", t.verb, p.Dirs, p.Files, formatBytes(p.Bytes))
	if el := t.now().Sub(t.start).Seconds(); el > 0 {
		fmt.Fprintf(&b, " (%s/s)", formatBytes(int64(float64(p.Bytes)/el)))
	}
	if p.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", p.Skipped)
	}
	if p.Path != "" {
		b.WriteString("  ")
		b.WriteString(printable(p.Path))
	}
	return b.String()
}

// verifyTracker is the status line source for verify: bytes checked out of
// the total, with a rate and an estimate of the time left.
type verifyTracker struct {
	mu          sync.Mutex
	verb        string // what is being done; "verifying" when empty
	items       string // what done and total count ("packs"); bytes when empty
	start       time.Time
	now         func() time.Time
	done, total int64
}

func (t *verifyTracker) update(done, total int64) {
	t.mu.Lock()
	t.done, t.total = done, total
	t.mu.Unlock()
}

// restart counts anew from now, as verb.
func (t *verifyTracker) restart(verb string) {
	t.mu.Lock()
	t.verb, t.start, t.done, t.total = verb, t.now(), 0, 0
	t.mu.Unlock()
}

func (t *verifyTracker) render() string {
	t.mu.Lock()
	done, total, verb, start := t.done, t.total, t.verb, t.start
	t.mu.Unlock()
	if verb == "" {
		verb = "verifying"
	}
	if total <= 0 && done <= 0 {
		return verb + ": starting" // the total is not known yet: not "0 B of 0 B"
	}
	line := fmt.Sprintf("%s: %s of %s", verb, formatBytes(done), formatBytes(total))
	if t.items != "" {
		line = fmt.Sprintf("%s: %d of %d %s", verb, done, total, t.items)
	}
	if total > 0 {
		line += fmt.Sprintf(" (%d%%)", done*100/total)
	}
	el := t.now().Sub(start)
	if done > 0 && total > done && el > 0 {
		rate := float64(done) / el.Seconds()
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		if t.items == "" {
			line += fmt.Sprintf(", %s/s", formatBytes(int64(rate)))
		}
		line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	return line
}

// importTracker is the status line source for import, whose count starts
// anew with each image: it names the image when there are several, and
// takes the rate from when the image began.
type importTracker struct {
	verifyTracker
	images  int // how many the import takes
	image   int // the one being imported
	ordinal int // its place among them
}

func newImportTracker(images int, now func() time.Time) *importTracker {
	return &importTracker{verifyTracker: verifyTracker{verb: "importing", start: now(), now: now}, images: images}
}

// update is snapshot.ImportOptions.Progress.
func (t *importTracker) update(image int, done, total int64) {
	if image != t.image {
		t.image = image
		t.ordinal++
		if t.images > 1 {
			t.restart(fmt.Sprintf("importing image %d (%d of %d)", image, t.ordinal, t.images))
		} else {
			t.restart("importing")
		}
	}
	t.verifyTracker.update(done, total)
}

// bytes returns the bytes checked so far.
func (t *verifyTracker) bytes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}
