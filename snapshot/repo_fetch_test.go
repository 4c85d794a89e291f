//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// slowStore is a store whose Gets take a while, as S3 requests do over a
// distant link, and that records how many ran at once at most.
type slowStore struct {
	remote.Store
	now, most atomic.Int64
}

func (s *slowStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(10 * time.Millisecond)
	return s.Store.Get(ctx, key, off, length)
}

// TestFetchObjectsAhead: objects are fetched several at once from a store
// whose objects are requests, and handed over in the order asked; one
// larger than prefetchLimit is read whole when its turn comes; use's
// error stops the fetching.
func TestFetchObjectsAhead(t *testing.T) {
	store := &slowStore{Store: remote.NewMemory()}
	r := repoOn(t, store, wim.CompressXPRESS, filepath.Join(t.TempDir(), "cache"))
	var ids []index.ID
	var blobs [][]byte
	for i := range 30 {
		b := wimtest.RandomBytes(uint64(i), 100)
		if i == 7 {
			b = wimtest.RandomBytes(7, prefetchLimit+1)
		}
		id := objectID(b)
		must(t, store.Put(t.Context(), objectKey(indexPrefix, id), bytes.NewReader(b), int64(len(b))))
		ids, blobs = append(ids, id), append(blobs, b)
	}
	i := 0
	err := r.fetchObjects(t.Context(), indexPrefix, ids, maxIndexObject, func(id index.ID, stored []byte, err error) error {
		if err != nil || id != ids[i] || !bytes.Equal(stored, blobs[i]) {
			t.Errorf("object %d: %d bytes, %v; want its %d", i, len(stored), err, len(blobs[i]))
		}
		i++
		return nil
	})
	if err != nil || i != len(ids) {
		t.Fatalf("%d objects used, %v", i, err)
	}
	if m := store.most.Load(); m < 2 || m > objectFetchers+1 {
		t.Errorf("%d Gets at once at most; want several, up to %d", m, objectFetchers)
	}

	stop := errors.New("stop")
	i = 0
	err = r.fetchObjects(t.Context(), indexPrefix, ids, maxIndexObject, func(index.ID, []byte, error) error {
		if i++; i == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || i != 3 {
		t.Errorf("use stopped at the 3rd: %v after %d", err, i)
	}
}
