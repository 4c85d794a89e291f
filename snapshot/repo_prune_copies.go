package snapshot

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// Step 1 of prune, the copies of a chunk stored twice. A chunk may be in
// two packs: a snapshot beside a prune salts its packs, two machines that
// take the same data at once each store it, and a snapshot after an index
// object was lost stores its chunks again. Prune keeps one copy and
// deletes a pack whose chunks are all kept elsewhere, so the copy it keeps
// must be sound: it reads each used chunk that has another copy and keeps
// the first copy that expands to the chunk's id. Only chunks stored twice
// are read, a pack at a time: whole when many of its chunks are to be
// read (one request rather than one per chunk), else chunk by chunk.

// addCopy records l as another copy of chunk c when it is not the one
// p.loc holds.
func (p *pruner) addCopy(c index.ID, l index.Location) {
	if first := p.loc[c]; first.Pack != l.Pack || first.Offset != l.Offset {
		p.copies[c] = append(p.copies[c], l)
	}
}

// pickCopies points p.loc, for every used chunk with other copies, at a
// copy that reads back as the chunk, preferring copies outside the packs
// found damaged, so that a damaged pack whose chunks all have sound
// copies is left unused and deleted. When no copy of a chunk is sound,
// p.loc stays as it is (check and repair report the chunk) and nothing
// is lost by the choice.
func (p *pruner) pickCopies() error {
	c := &copyPicker{p: p, bad: map[index.ID]bool{}, decs: &decoders{}}
	byPack := map[index.ID][]index.ID{}
	for id := range p.copies {
		if p.usedCh[id] {
			byPack[p.loc[id].Pack] = append(byPack[p.loc[id].Pack], id)
		}
	}
	packs := slices.SortedFunc(mapKeys(byPack), index.ID.Compare)
	for i, pack := range packs {
		p.progress("checking chunks stored twice", int64(i), int64(len(packs)))
		if err := c.checkPack(pack, byPack[pack]); err != nil {
			return err
		}
	}
	// Chunks in packs found damaged move to copies elsewhere, until no
	// more packs are found damaged.
	for seen := 0; len(c.bad) > seen; {
		seen = len(c.bad)
		for id, others := range p.copies {
			if l := p.loc[id]; p.usedCh[id] && c.bad[l.Pack] {
				if err := c.pick(id, append(slices.Clone(others), l), nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// copyPicker is the state of pickCopies: the packs found to hold a
// damaged copy, and the buffers of the reads.
type copyPicker struct {
	p    *pruner
	bad  map[index.ID]bool
	decs *decoders
	raw  []byte
}

// checkPack checks the copies in pack of the chunks ids, which p.loc
// places there, and points p.loc at another copy of each that is not
// sound.
func (c *copyPicker) checkPack(pack index.ID, ids []index.ID) error {
	data, err := c.wholePack(pack, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := c.pick(id, append([]index.Location{c.p.loc[id]}, c.p.copies[id]...), data); err != nil {
			return err
		}
	}
	return nil
}

// wholePack returns the bytes of pack when the chunks ids to check in it
// are many (a 64th of it, or 64 chunks), else nil, for them to be read
// one by one. A pack that is gone gives nil too.
func (c *copyPicker) wholePack(pack index.ID, ids []index.ID) ([]byte, error) {
	info, ok := c.p.packs[pack]
	if !ok {
		return nil, nil
	}
	var stored int64
	for _, id := range ids {
		stored += int64(c.p.loc[id].Stored)
	}
	if stored < info.Size/64 && len(ids) < 64 {
		return nil, nil
	}
	data, err := remote.ReadListed(c.p.ctx, c.p.r.store, packKey(pack), info.Size, maxPack)
	if errors.Is(err, remote.ErrNotFound) || errors.Is(err, remote.ErrTooLarge) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prune: reading pack %s: %w", hexID(pack), err)
	}
	return data, nil
}

// pick points p.loc[id] at the first sound copy among locs that is not
// in a pack found damaged, else at the first sound one, and records the
// packs of the damaged copies it read. data, when not nil, holds the
// bytes of the pack of locs[0].
func (c *copyPicker) pick(id index.ID, locs []index.Location, data []byte) error {
	first := locs[0].Pack
	slices.SortStableFunc(locs, func(a, b index.Location) int { return cmp.Compare(c.rank(a), c.rank(b)) })
	for _, l := range locs {
		var in []byte
		if l.Pack == first {
			in = data
		}
		ok, err := c.p.soundCopy(id, l, c.decs, &c.raw, in)
		if err != nil {
			return err
		}
		if ok {
			c.p.loc[id] = l
			return nil
		}
		c.bad[l.Pack] = true
	}
	return nil
}

// rank orders copies: those in packs found damaged last.
func (c *copyPicker) rank(l index.Location) int {
	if c.bad[l.Pack] {
		return 1
	}
	return 0
}

// soundCopy reports whether the copy of chunk c at l is in a listed
// pack and expands to c, reading it from data, the bytes of its pack,
// when not nil, else from the store. Only a failure to read from the
// store is an error.
func (p *pruner) soundCopy(c index.ID, l index.Location, decs *decoders, raw *[]byte, data []byte) (bool, error) {
	info, ok := p.packs[l.Pack]
	end := int64(l.Offset) + int64(l.Stored)
	if !ok || end > info.Size || data != nil && end > int64(len(data)) {
		return false, nil
	}
	var stored []byte
	var err error
	if data != nil {
		stored = data[l.Offset:end]
	} else {
		stored, err = getRange(p.ctx, p.r.store, packKey(l.Pack), int64(l.Offset), int64(l.Stored))
	}
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("prune: reading a chunk of pack %s: %w", hexID(l.Pack), err)
	}
	*raw, err = decs.checkedChunk(*raw, stored, int(l.Raw), l.Codec, c)
	return err == nil, nil
}

// putBackCopies puts back chunk c, which no snapshot used when the new
// index was written and one committed since uses, at every location it
// has (putBackChunk): which copy is sound was never checked, so none of
// their packs is deleted. The index names it twice until the next prune
// picks a copy.
func (p *pruner) putBackCopies(c index.ID) {
	p.res.KeptForRunning++
	p.putBackChunk(c, p.loc[c])
	for _, l := range p.copies[c] {
		p.putBackChunk(c, l)
	}
}
