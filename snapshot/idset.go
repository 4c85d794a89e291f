package snapshot

import (
	"encoding/binary"

	"github.com/wimsnap/wimsnap/index"
)

// idSet is a set of chunk ids in about half the memory of a map keyed by
// whole ids, which matters for the hundreds of thousands of new chunks a
// first snapshot of a large tree claims. The map is keyed by an id's
// first 8 bytes and points into a list of whole ids; an id whose prefix
// another id has already (a chance of about n²/2⁶⁵ in a run of n new
// chunks) goes into a map of whole ids instead. The zero value is not
// usable; see newIDSet. Not safe for concurrent use.
type idSet struct {
	byPrefix map[uint64]int32
	ids      []index.ID
	more     map[index.ID]struct{}
}

func newIDSet() *idSet { return &idSet{byPrefix: map[uint64]int32{}} }

// add puts id in the set and reports whether it was not there.
func (s *idSet) add(id index.ID) bool {
	p := binary.LittleEndian.Uint64(id[:8])
	i, ok := s.byPrefix[p]
	if !ok {
		s.byPrefix[p] = int32(len(s.ids))
		s.ids = append(s.ids, id)
		return true
	}
	if s.ids[i] == id {
		return false
	}
	if _, ok := s.more[id]; ok {
		return false
	}
	if s.more == nil {
		s.more = map[index.ID]struct{}{}
	}
	s.more[id] = struct{}{}
	return true
}
