package snapshot

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// Step 1 of prune, the copies of a chunk stored twice. A chunk may be in
// two packs: a snapshot beside a prune salts its packs, and a snapshot
// after an index object was lost stores its chunks again. Prune keeps one
// copy and deletes a pack whose chunks are all kept elsewhere, so the
// copy it keeps must be sound: it reads each used chunk that has another
// copy and keeps the first copy that expands to the chunk's id. Only
// chunks stored twice are read.

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
	done := int64(0)
	for id, others := range p.copies {
		p.progress("checking chunks stored twice", done, int64(len(p.copies)))
		done++
		if p.usedCh[id] {
			if err := c.pick(id, append([]index.Location{p.loc[id]}, others...)); err != nil {
				return err
			}
		}
	}
	if len(c.bad) == 0 {
		return nil
	}
	for id, others := range p.copies {
		if l := p.loc[id]; p.usedCh[id] && c.bad[l.Pack] {
			if err := c.pick(id, append(slices.Clone(others), l)); err != nil {
				return err
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

// pick points p.loc[id] at the first sound copy among locs that is not
// in a pack found damaged, else at the first sound one, and records the
// packs of the damaged copies it read.
func (c *copyPicker) pick(id index.ID, locs []index.Location) error {
	slices.SortStableFunc(locs, func(a, b index.Location) int { return cmp.Compare(c.rank(a), c.rank(b)) })
	for _, l := range locs {
		ok, err := c.p.soundCopy(id, l, c.decs, &c.raw)
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
// pack and expands to c. Only a failure to read from the store is an
// error.
func (p *pruner) soundCopy(c index.ID, l index.Location, decs *decoders, raw *[]byte) (bool, error) {
	info, ok := p.packs[l.Pack]
	if !ok || int64(l.Offset)+int64(l.Stored) > info.Size {
		return false, nil
	}
	stored, err := getRange(p.ctx, p.r.store, packKey(l.Pack), int64(l.Offset), int64(l.Stored))
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("prune: reading a chunk of pack %s: %w", hexID(l.Pack), err)
	}
	*raw, err = decs.expandChunk(*raw, stored, int(l.Raw), l.Codec)
	return err == nil && sha256.Sum256(*raw) == c, nil
}
