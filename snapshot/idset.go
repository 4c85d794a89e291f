package snapshot

import (
	"encoding/binary"

	"github.com/wimsnap/wimsnap/index"
)

// idSet is a set of chunk ids: the list of them and a posIndex into it,
// about 40 bytes an id (32 of them the id itself) where the list with a
// map of id prefixes it had before took about 70, for the hundreds of
// thousands of new chunks a first snapshot of a large tree claims. The
// zero value is an empty set; newIDSet returns one. Not safe for
// concurrent use.
type idSet struct {
	ids []index.ID
	at  posIndex
}

func newIDSet() *idSet { return new(idSet) }

// add puts id in the set and reports whether it was not there.
func (s *idSet) add(id index.ID) bool {
	if s.at.get(idHash(id), func(p int32) bool { return s.ids[p] == id }) >= 0 {
		return false
	}
	s.at.put(idHash(id), int32(len(s.ids)), func(p int32) uint64 { return idHash(s.ids[p]) })
	s.ids = append(s.ids, id)
	return true
}

// idHash is the posIndex hash of a chunk id: its first 8 bytes.
func idHash(id index.ID) uint64 { return binary.LittleEndian.Uint64(id[:8]) }
