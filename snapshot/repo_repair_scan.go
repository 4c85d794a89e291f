package snapshot

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// Repair's reading of the packs: which chunks are intact, and the copying
// of a damaged pack's intact chunks into new packs.

// scanPacks reads every pack and records its intact chunks in rp.good. The
// intact chunks of a damaged pack (one whose bytes do not match its id, or
// holding a chunk that does not expand to its id) are copied into new
// packs at once (unless a sound pack read before has them), so that at
// most one pack is held in memory.
func (rp *repairer) scanPacks() error {
	rp.salvage = newPackWriter(rp.pruner, rp.good)
	byIndex := map[index.ID][]packEntry{}
	for c, l := range rp.loc {
		byIndex[l.Pack] = append(byIndex[l.Pack], entryAt(c, l))
	}
	for c, ls := range rp.copies {
		for _, l := range ls {
			byIndex[l.Pack] = append(byIndex[l.Pack], entryAt(c, l))
		}
	}
	for pack := range byIndex {
		if _, ok := rp.packs[pack]; !ok {
			rp.res.MissingPacks = append(rp.res.MissingPacks, hexID(pack))
		}
	}
	slices.Sort(rp.res.MissingPacks)
	ids := slices.SortedFunc(mapKeys(rp.packs), index.ID.Compare)
	decs := &decoders{}
	for i, id := range ids {
		rp.progress("reading packs", int64(i), int64(len(ids)))
		d, err := rp.scanPack(id, byIndex[id], decs)
		if err == nil && d != nil {
			err = rp.salvagePack(*d)
		}
		if err != nil {
			return err
		}
	}
	if rp.opts.DryRun {
		return nil
	}
	return rp.salvage.flush()
}

// damagedPack is a damaged pack's bytes and its intact chunks.
type damagedPack struct {
	id     index.ID
	data   []byte
	intact []packEntry
}

// scanPack reads pack id and records its intact chunks, or returns it as
// damaged. indexed lists what the index places in it, for a pack whose
// trailer is unreadable.
func (rp *repairer) scanPack(id index.ID, indexed []packEntry, decs *decoders) (*damagedPack, error) {
	rp.res.PacksRead++
	data, err := rp.r.readPack(rp.ctx, id, rp.packs[id].Size)
	if errors.Is(err, remote.ErrNotFound) {
		rp.res.MissingPacks = append(rp.res.MissingPacks, hexID(id))
		return nil, nil
	}
	if err != nil && !damage(err) {
		return nil, err
	}
	entries, terr := parsePackBytes(rp.r.zstd, data)
	if errors.Is(terr, ErrNewerFormat) && objectID(data) == id {
		return nil, fmt.Errorf("pack %s: %w", hexID(id), terr) // a newer wimsnap's, not damage
	}
	if terr != nil {
		entries = indexed
	} else {
		rp.res.Misplaced += misplaced(entries, indexed)
	}
	sound := err == nil && terr == nil && objectID(data) == id
	var intact []packEntry
	var raw []byte
	for _, e := range entries {
		if e.offset+uint64(e.stored) > uint64(len(data)) {
			sound = false
			continue
		}
		raw, err = decs.checkedChunk(raw, data[e.offset:e.offset+uint64(e.stored)], int(e.raw), e.codec, e.id)
		if err != nil {
			sound = false
			continue
		}
		intact = append(intact, e)
		rp.single[index.SHA1(sha1.Sum(raw))] = singleChunk{id: e.id, raw: e.raw}
	}
	if !sound {
		rp.damaged[id] = true
		rp.res.DamagedPacks = append(rp.res.DamagedPacks, hexID(id))
		return &damagedPack{id: id, data: data, intact: intact}, nil
	}
	for _, e := range intact {
		if _, ok := rp.good[e.id]; !ok {
			rp.good[e.id] = index.Location{Pack: id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
		}
	}
	return nil, nil
}

// salvagePack copies the intact chunks of a damaged pack that no sound
// pack holds into new packs (in a dry run it only counts them as good).
func (rp *repairer) salvagePack(d damagedPack) error {
	for _, e := range d.intact {
		if _, ok := rp.good[e.id]; ok {
			continue
		}
		l := index.Location{Pack: d.id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
		if rp.opts.DryRun {
			rp.good[e.id] = l
			continue
		}
		if err := rp.salvage.add(e.id, d.data[e.offset:e.offset+uint64(e.stored)], l); err != nil {
			return err
		}
	}
	return nil
}

// misplaced counts the entries of indexed, the index's places of chunks in
// a pack, that the pack's own trailer, entries, does not give: another
// offset or length, or a chunk it does not hold. Such an entry (an index
// object's bytes matching its id, its contents wrong) makes a restore read
// the wrong bytes; repair writes the index again from the trailers.
func misplaced(entries, indexed []packEntry) int {
	at := make(map[index.ID]packEntry, len(entries))
	for _, e := range entries {
		at[e.id] = e
	}
	n := 0
	for _, e := range indexed {
		if t, ok := at[e.id]; !ok || t.offset != e.offset || t.stored != e.stored {
			n++
		}
	}
	return n
}
