package index

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Delta is a stream stored as the recipe of another stream, its base, with
// some chunks changed: position i of its ChunkCount chunks is the patch at
// i if there is one, else the base's chunk i. Every position at or past
// the base's chunk count must be patched.
type Delta struct {
	Size       int64
	ChunkCount int64
	Base       SHA1
	Patches    []Patch // by ascending position, each below ChunkCount
}

// Patch is a chunk of a Delta that differs from its base's.
type Patch struct {
	Pos   int64
	Chunk ID
}

// A delta's value: size u64 | chunk count u64 | base SHA-1 (20) |
// (position u64 | chunk id (32)) per patch.
const (
	deltaHead  = 8 + 8 + 20
	patchBytes = 8 + 32
)

func (d Delta) marshal() []byte {
	b := make([]byte, deltaHead, deltaHead+patchBytes*len(d.Patches))
	binary.BigEndian.PutUint64(b, uint64(d.Size))
	binary.BigEndian.PutUint64(b[8:], uint64(d.ChunkCount))
	copy(b[16:], d.Base[:])
	for _, p := range d.Patches {
		b = binary.BigEndian.AppendUint64(b, uint64(p.Pos))
		b = append(b, p.Chunk[:]...)
	}
	return b
}

// deltaValue is a stored delta, read in place: valid while its
// transaction is.
type deltaValue []byte

func (v deltaValue) ok() bool {
	return len(v) >= deltaHead && (len(v)-deltaHead)%patchBytes == 0
}

// check is ok as an error: ErrCorrupt for a value of the wrong length.
func (v deltaValue) check() error {
	if !v.ok() {
		return fmt.Errorf("%w: delta recipe of %d bytes", ErrCorrupt, len(v))
	}
	return nil
}
func (v deltaValue) size() int64       { return int64(binary.BigEndian.Uint64(v)) }
func (v deltaValue) chunkCount() int64 { return int64(binary.BigEndian.Uint64(v[8:])) }
func (v deltaValue) base() SHA1        { return SHA1(v[16:deltaHead]) }
func (v deltaValue) patches() int      { return (len(v) - deltaHead) / patchBytes }
func (v deltaValue) patch(i int) (int64, ID) {
	p := v[deltaHead+i*patchBytes:]
	return int64(binary.BigEndian.Uint64(p)), ID(p[8:patchBytes])
}

// apply turns chunks, the base's, into the delta's, in place when it
// shrinks or keeps its length. A delta that does not fit its base (a
// position out of order, past its count, or an unpatched position past
// the base's end) is ErrCorrupt; nothing is allocated beyond what the
// base and the patches account for.
func (v deltaValue) apply(chunks []ID) ([]ID, error) {
	n, old := v.chunkCount(), int64(len(chunks))
	if n < 0 || n > old+int64(v.patches()) {
		return nil, fmt.Errorf("%w: delta of %d chunks on a base of %d with %d patches", ErrCorrupt, n, old, v.patches())
	}
	if n > old {
		chunks = append(chunks, make([]ID, n-old)...)
	}
	chunks = chunks[:n]
	next, past := int64(0), int64(0) // past counts patches at or past the base's end
	for i := range v.patches() {
		pos, id := v.patch(i)
		if pos < next || pos >= n {
			return nil, fmt.Errorf("%w: delta patch at %d of %d chunks", ErrCorrupt, pos, n)
		}
		chunks[pos], next = id, pos+1
		if pos >= old {
			past++
		}
	}
	if n > old && past != n-old {
		return nil, fmt.Errorf("%w: delta leaves chunks past its base's end unset", ErrCorrupt)
	}
	return chunks, nil
}

// maxChain bounds the deltas one stream resolves through: ten years of
// nightly versions of one file are 3650, and a chain longer than this is
// a cycle, which no index this package writes holds.
const maxChain = 1 << 16

// resolve returns the recipe of stream h: its full recipe, or its delta
// applied to its base's recipe, down the chain. ok is false when h is
// unknown; a delta whose base is unknown is ErrCorrupt.
func resolve(tx *bolt.Tx, h SHA1) (r Recipe, ok bool, err error) {
	streams, deltas := data(tx, streamsBucket), deltasOf(tx)
	var chain []deltaValue
	for cur := h; ; {
		if v := streams.Get(cur[:]); v != nil {
			if r, err = unmarshalRecipe(v); err != nil {
				return Recipe{}, false, err
			}
			break
		}
		var v deltaValue
		if deltas != nil {
			v = deltas.Get(cur[:])
		}
		switch {
		case v == nil && len(chain) == 0:
			return Recipe{}, false, nil
		case v == nil:
			return Recipe{}, false, fmt.Errorf("%w: stream %x: its delta base %x is not in the index", ErrCorrupt, h, cur)
		case v.check() != nil:
			return Recipe{}, false, v.check()
		case len(chain) == maxChain:
			return Recipe{}, false, fmt.Errorf("%w: stream %x: a delta chain of over %d links", ErrCorrupt, h, maxChain)
		}
		chain = append(chain, v)
		cur = v.base()
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if r.Chunks, err = chain[i].apply(r.Chunks); err != nil {
			return Recipe{}, false, fmt.Errorf("stream %x: %w", h, err)
		}
		r.Size = chain[i].size()
	}
	r.Deltas = len(chain)
	return r, true, nil
}

// deltasOf returns the deltas bucket, nil in a version 1 file opened
// read-only (which has none).
func deltasOf(tx *bolt.Tx) *bolt.Bucket { return data(tx, deltasBucket) }
