package remote

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestLocalEphemeral: writes and deletions under an Ephemeral context sync
// no directory (only the bytes of the objects written, so that none is
// left partial by a crash), and are visible at once; under any other
// context each makes its file and its directory durable.
func TestLocalEphemeral(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := l.PutIfAbsent(ctx, "locks/first", []byte("x")); err != nil { // makes locks/
		t.Fatal(err)
	}
	n := l.syncs.Load()
	eph := Ephemeral(ctx)
	if Durable(eph) || !Durable(ctx) {
		t.Fatalf("Durable: %v for Ephemeral, %v for the plain context", Durable(eph), Durable(ctx))
	}
	if err := l.PutIfAbsent(eph, "locks/a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(eph, "locks/b", strings.NewReader("b"), 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(eph, "locks/a"); err != nil {
		t.Fatal(err)
	}
	if got := l.syncs.Load() - n; got != 2 {
		t.Errorf("%d fsyncs under an Ephemeral context for two puts and a delete, want 2 (the two files' bytes)", got)
	}
	if _, err := l.Stat(ctx, "locks/a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("locks/a after its ephemeral deletion: %v, want ErrNotFound", err)
	}
	rc, err := l.Get(ctx, "locks/b", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || string(b) != "b" {
		t.Errorf("locks/b: %q, %v; want %q", b, err, "b")
	}
	n = l.syncs.Load()
	if err := l.PutIfAbsent(ctx, "locks/c", []byte("c")); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, "locks/c"); err != nil {
		t.Fatal(err)
	}
	if got := l.syncs.Load() - n; got != 3 {
		t.Errorf("%d fsyncs for a durable put-if-absent and delete, want 3 (file, directory, directory)", got)
	}
}
