// Package remotetest holds the conformance suite that every remote.Store
// implementation passes, and the helpers it is built from.
package remotetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
)

// Run runs the conformance suite against the stores newStore makes, as
// named subtests of t. newStore is called once per subtest and must return
// a new, empty store; it registers any cleanup with t. The subtests run one
// after the other, but several of them use the store from many goroutines.
func Run(t *testing.T, newStore func(t *testing.T) remote.Store) {
	t.Helper()
	s := suite{newStore: newStore}
	t.Run("PutGet", s.putGet)
	t.Run("GetRange", s.getRange)
	t.Run("EmptyObject", s.emptyObject)
	t.Run("Overwrite", s.overwrite)
	t.Run("Missing", s.missing)
	t.Run("InvalidKey", s.invalidKey)
	t.Run("InvalidPrefix", s.invalidPrefix)
	t.Run("PutIfAbsent", s.putIfAbsent)
	t.Run("PutIfAbsentConcurrent", s.putIfAbsentConcurrent)
	t.Run("List", s.list)
	t.Run("ListStops", s.listStops)
	t.Run("ShortReader", s.shortReader)
	t.Run("LongReader", s.longReader)
	t.Run("ReaderError", s.readerError)
	t.Run("NegativeSize", s.negativeSize)
	t.Run("CancelledContext", s.cancelledContext)
	t.Run("CancelDuringPut", s.cancelDuringPut)
	t.Run("Large", s.large)
	t.Run("Delete", s.delete)
	t.Run("ConcurrentOverwrite", s.concurrentOverwrite)
	t.Run("GetAfterReplace", s.getAfterReplace)
	t.Run("ReadAll", s.readAll)
	t.Run("Location", s.location)
}

// suite carries the store factory to the subtests.
type suite struct {
	newStore func(t *testing.T) remote.Store
}

// Put stores data under key and fails t on error.
func Put(t *testing.T, s remote.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// Get reads length bytes of key at off (length < 0: to the end), closes the
// reader, and fails t on any error.
func Get(t *testing.T, s remote.Store, key string, off, length int64) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, off, length, err)
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): reading: %v", key, off, length, err)
	}
	return data
}

// Keys lists prefix and returns each key's size; it fails t on an error or
// a key listed twice.
func Keys(t *testing.T, s remote.Store, prefix string) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	err := s.List(t.Context(), prefix, func(fi remote.Info) error {
		if _, dup := got[fi.Key]; dup {
			t.Errorf("List(%q): %q listed twice", prefix, fi.Key)
		}
		got[fi.Key] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

// WantErr fails t unless err wraps target, and unless its text has the
// package prefix "remote:" at most once (a sentinel wrapped in an error
// that names the operation must not repeat it).
func WantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want one wrapping %v", what, err, target)
	}
	if err != nil && strings.Count(err.Error(), "remote:") > 1 {
		t.Errorf("%s: error %q repeats its prefix", what, err)
	}
}

// Absent fails t unless Stat reports key missing.
func Absent(t *testing.T, s remote.Store, key string) {
	t.Helper()
	_, err := s.Stat(t.Context(), key)
	WantErr(t, "Stat("+key+")", err, remote.ErrNotFound)
}

// Random returns n pseudo-random bytes, the same for the same seed.
func Random(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	buf := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(buf) // never fails
	return buf
}

// chunkReader returns at most n bytes per Read, so that a Put makes many
// reads, and calls after (if set) after each one.
type chunkReader struct {
	r     io.Reader
	n     int
	after func()
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	if c.after != nil {
		c.after()
	}
	return n, err
}
