package snapshot

import (
	"sync"

	"github.com/wimsnap/wimsnap/index"
)

// sharedBudget bounds the stored bytes sharedChunks holds.
const sharedBudget = 128 << 20

// sharedChunks keeps the stored bytes of chunks that several streams of a
// restore read, between their reads. Apply writes files pack by pack (see
// SolidOrder), but a chunk that files of other packs share (a run of
// zeros, a common header) would otherwise cost a read of its whole pack
// window each time one of them comes. The uses of each chunk are counted
// as SolidOrder ranks the streams; a chunk read with uses left is kept
// until its last use, within sharedBudget. Safe for concurrent use.
type sharedChunks struct {
	mu    sync.Mutex
	uses  map[index.ID]int32  // reads to come
	data  map[index.ID][]byte // stored bytes of chunks kept
	bytes int64
}

func newSharedChunks() *sharedChunks {
	return &sharedChunks{uses: map[index.ID]int32{}, data: map[index.ID][]byte{}}
}

// expect counts one read to come of each of chunks.
func (s *sharedChunks) expect(chunks []index.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range chunks {
		s.uses[id]++
	}
}

// get appends the kept bytes of chunk id to dst, and reports whether it
// had them; a hit counts as a use.
func (s *sharedChunks) get(dst []byte, id index.ID) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[id]
	if !ok {
		return dst, false
	}
	dst = append(dst, b...)
	s.use(id)
	return dst, true
}

// has reports whether the bytes of chunk id are kept.
func (s *sharedChunks) has(id index.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[id]
	return ok
}

// read records a use of chunk id read from its pack as stored, keeping a
// copy when more uses are to come and the budget allows.
func (s *sharedChunks) read(id index.ID, stored []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uses[id] > 1 && s.data[id] == nil && s.bytes+int64(len(stored)) <= sharedBudget {
		s.data[id] = append([]byte(nil), stored...)
		s.bytes += int64(len(stored))
	}
	s.use(id)
}

// use counts one use of id and lets its bytes go after the last.
func (s *sharedChunks) use(id index.ID) {
	n, ok := s.uses[id]
	if !ok {
		return // a read SolidOrder did not announce (a metadata stream)
	}
	if n > 1 {
		s.uses[id] = n - 1
		return
	}
	delete(s.uses, id)
	s.drop(id)
}

// cancel counts off one announced use of each of chunks: reads that will
// not come (a stream closed before its end).
func (s *sharedChunks) cancel(chunks []index.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range chunks {
		s.use(id)
	}
}

// forget drops the kept bytes of id (they did not decode).
func (s *sharedChunks) forget(id index.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(id)
}

func (s *sharedChunks) drop(id index.ID) {
	if b, ok := s.data[id]; ok {
		s.bytes -= int64(len(b))
		delete(s.data, id)
	}
}
