//go:build unix

package snapshot

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
)

// durabilityStore records, for each write or deletion, whether its
// context asked for durability (remote.Durable).
type durabilityStore struct {
	remote.Store
	mu      sync.Mutex
	durable map[string]bool // by "op key"
}

func (s *durabilityStore) note(ctx context.Context, op, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.durable[op+" "+key] = remote.Durable(ctx)
}

func (s *durabilityStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.note(ctx, "put", key)
	return s.Store.Put(ctx, key, r, size)
}

func (s *durabilityStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	s.note(ctx, "put-if-absent", key)
	return s.Store.PutIfAbsent(ctx, key, data)
}

func (s *durabilityStore) Delete(ctx context.Context, key string) error {
	s.note(ctx, "delete", key)
	return s.Store.Delete(ctx, key)
}

// TestLockWritesEphemeral: a lock, shared or exclusive (with its mutex),
// is written and deleted under remote.Ephemeral contexts, so a local
// repository spends no fsync on it.
func TestLockWritesEphemeral(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		s := &durabilityStore{Store: remote.NewMemory(), durable: map[string]bool{}}
		l, err := acquireLock(t.Context(), s, true, exclusive, lockOpts(t, "host-a"))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(s.durable) < 2 {
			t.Fatalf("exclusive=%v: %d writes and deletions recorded, want the lock's put and delete at least", exclusive, len(s.durable))
		}
		for op, durable := range s.durable {
			if durable {
				t.Errorf("exclusive=%v: %s asked for a durable write", exclusive, op)
			}
		}
	}
}
