package snapshot

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// Step 1 of prune, deciding and repacking: which packs go, which are
// repacked, and the copying of their used chunks into new packs.

// packOverhead estimates the bytes of a pack that are not chunks: its
// trailer (per chunk) and footer.
func packOverhead(chunks int) int64 { return int64(packFooterLen) + 48*int64(chunks) }

// plan condemns the packs that hold nothing used and picks those to
// repack: the ones with the largest unused shares, until the unused data
// left in kept packs is within MaxUnused of the used data.
func (p *pruner) plan() error {
	if err := p.pickCopies(); err != nil {
		return err
	}
	count := map[index.ID]int{}
	for c := range p.usedCh {
		l := p.loc[c]
		p.sizes[l.Pack] += int64(l.Stored)
		count[l.Pack]++
	}
	for pack := range p.sizes {
		if _, ok := p.packs[pack]; !ok {
			p.missing = append(p.missing, fmt.Sprintf("pack %s, which holds %d used chunks, is missing", hexID(pack), count[pack]))
		}
	}
	if len(p.missing) > 0 {
		return p.refuse()
	}
	named := p.namedPacks()
	if err := p.newerPacks(named); err != nil {
		return err
	}
	var partly []index.ID
	unused := map[index.ID]int64{}
	for id, info := range p.packs {
		u := p.sizes[id]
		if u == 0 {
			p.doomed[id] = true
			continue
		}
		// The trailer's entries of the used chunks, and the footer, are
		// used too: a repack would write them again.
		p.res.UsedBytes += min(info.Size, u+packOverhead(count[id]))
		if waste := info.Size - u - packOverhead(count[id]); waste > 0 {
			unused[id] = waste
			partly = append(partly, id)
		}
	}
	p.res.UnusedBytes = p.res.Bytes - p.res.UsedBytes
	p.pickRepacks(partly, unused)
	p.res.PacksRepacked = len(p.moved)
	if p.opts.DryRun {
		return p.countDry(named)
	}
	return nil
}

// countDry counts, for a dry run, the packs the prune would delete and
// the bytes it would free. A pack that no index object names while
// another process holds a shared lock, now or when the dry run began (one
// that committed and went meanwhile), may be a running snapshot's, which
// the prune would wait for and keep when the snapshot names it: the dry
// run counts it pending (packs_pending) rather than deleted, with a
// warning. It said it would delete the packs of the snapshot running.
func (p *pruner) countDry(named map[index.ID]bool) error {
	others, err := p.lock.holders(p.ctx)
	if err != nil {
		return err
	}
	holder := oldest(append(others, p.heldBefore...), func(e *lockEntry) bool { return !e.rec.Exclusive && e.rec.Kind != kindPrune })
	for id := range p.doomed {
		if holder != nil && !named[id] {
			p.res.Pending++
			continue
		}
		p.res.PacksDeleted++
		p.res.BytesFreed += p.packs[id].Size
	}
	for id := range p.moved {
		p.res.BytesFreed -= p.sizes[id]
	}
	if p.res.Pending > 0 {
		h := holder.info()
		p.res.PendingWhy = fmt.Sprintf("no index object names them yet, and host %s (pid %d) has held a lock since %s: "+
			"they may be a running snapshot's, which the prune would wait for", h.Host, h.PID, h.Since.UTC().Format(time.DateTime+" UTC"))
		p.opts.Warn(fmt.Errorf("%d packs would be left for a later prune: %s", p.res.Pending, p.res.PendingWhy))
	}
	return nil
}

// namedPacks returns the packs that an index object names.
func (p *pruner) namedPacks() map[index.ID]bool {
	named := map[index.ID]bool{}
	for _, l := range p.loc {
		named[l.Pack] = true
	}
	for _, ls := range p.copies {
		for _, l := range ls {
			named[l.Pack] = true
		}
	}
	return named
}

// newerPacks returns an error wrapping ErrNewerFormat when a pack that no
// index object names (not in named) is a newer wimsnap's (its footer or its
// trailer says so): prune would delete it as a killed run's leftover, while
// that wimsnap may be about to name it. It reads the trailers of those
// packs alone, few; one damaged otherwise is a leftover like any.
func (p *pruner) newerPacks(named map[index.ID]bool) error {
	for id, info := range p.packs {
		if named[id] {
			continue
		}
		_, err := p.r.readPackTrailer(p.ctx, id, info.Size)
		switch {
		case errors.Is(err, ErrNewerFormat):
			return fmt.Errorf("%w: pack %s", err, hexID(id))
		case err == nil, damage(err): // damage includes a pack gone meanwhile
		default:
			return fmt.Errorf("prune: reading the trailer of pack %s, which no index object names: %w", hexID(id), err)
		}
	}
	return nil
}

// pickRepacks marks for repacking the packs with the largest unused
// shares until the unused bytes left are within MaxUnused.
func (p *pruner) pickRepacks(partly []index.ID, unused map[index.ID]int64) {
	if p.opts.MaxUnused < 0 {
		return
	}
	var left int64
	for _, id := range partly {
		left += unused[id]
	}
	limit := int64(p.opts.MaxUnused * float64(p.res.UsedBytes))
	share := func(id index.ID) float64 { return float64(unused[id]) / float64(p.packs[id].Size) }
	slices.SortFunc(partly, func(a, b index.ID) int {
		if c := cmp.Compare(share(b), share(a)); c != 0 {
			return c
		}
		return a.Compare(b)
	})
	for _, id := range partly {
		if left <= limit {
			break
		}
		p.doomed[id], p.moved[id] = true, true
		left -= unused[id]
	}
}

// repack copies the used chunks of the packs to repack, as stored, into
// new packs, checking each against its id on the way, and points p.loc
// at the copies. The old packs stay until step 2 deletes them.
func (p *pruner) repack() error {
	if len(p.moved) == 0 {
		return nil
	}
	inPack := map[index.ID][]index.ID{}
	for c := range p.usedCh {
		if l := p.loc[c]; p.moved[l.Pack] {
			inPack[l.Pack] = append(inPack[l.Pack], c)
		}
	}
	ids := slices.SortedFunc(mapKeys(p.moved), index.ID.Compare)
	w := newPackWriter(p, p.loc)
	for i, id := range ids {
		p.progress("repacking", int64(i), int64(len(ids)))
		if err := w.copyFrom(id, inPack[id]); err != nil {
			w.discard()
			return err
		}
	}
	p.progress("repacking", int64(len(ids)), int64(len(ids)))
	return w.flush()
}

// packWriter fills new packs with chunks copied from old ones.
type packWriter struct {
	p    *pruner
	locs map[index.ID]index.Location // where the copies are recorded
	b    *packBuilder                // the pack being filled, nil before its first chunk
	decs *decoders
	raw  []byte
}

func newPackWriter(p *pruner, locs map[index.ID]index.Location) *packWriter {
	return &packWriter{p: p, locs: locs, decs: &decoders{}}
}

// copyFrom reads pack id and copies the chunks listed into new packs.
func (w *packWriter) copyFrom(id index.ID, chunks []index.ID) error {
	p := w.p
	data, err := p.r.readPack(p.ctx, id, p.packs[id].Size)
	if err != nil {
		return fmt.Errorf("prune: reading pack %s: %w", hexID(id), err)
	}
	if objectID(data) != id {
		return fmt.Errorf("%w: prune: pack %s does not match its id; nothing was deleted: run 'wimsnap check --read-data' and 'wimsnap repair'",
			ErrRepoFormat, hexID(id))
	}
	slices.SortFunc(chunks, func(a, b index.ID) int { return cmp.Compare(p.loc[a].Offset, p.loc[b].Offset) })
	for _, c := range chunks {
		l := p.loc[c]
		end := l.Offset + uint64(l.Stored)
		if end > uint64(len(data)) {
			return fmt.Errorf("%w: prune: pack %s is shorter than its index says", ErrRepoFormat, hexID(id))
		}
		stored := data[l.Offset:end]
		if w.raw, err = w.decs.checkedChunk(w.raw, stored, int(l.Raw), l.Codec, c); err != nil {
			return fmt.Errorf("%w: prune: chunk %s in pack %s is damaged; nothing was deleted: run 'wimsnap repair'",
				ErrRepoFormat, hexID(c), hexID(id))
		}
		if err := w.add(c, stored, l); err != nil {
			return err
		}
	}
	return nil
}

// add appends a checked chunk, storing the pack once it is full.
func (w *packWriter) add(c index.ID, stored []byte, l index.Location) error {
	if w.b == nil {
		w.b = w.p.r.newRepoPack()
	}
	w.b.add(c, stored, int(l.Raw), l.Codec)
	if w.b.err != nil || w.b.size() >= w.p.r.packSize {
		return w.flush()
	}
	return nil
}

// discard drops the pack being filled, after a failure.
func (w *packWriter) discard() {
	if w.b != nil {
		w.b.discard()
		w.b = nil
	}
}

// flush stores the pack being filled and moves its chunks' locations.
func (w *packWriter) flush() error {
	b := w.b
	if b == nil {
		return nil
	}
	w.b = nil
	p := w.p
	f, id, err := b.finish(p.r.zstd)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // a spool file: nothing to lose
	if err := f.put(p.ctx, p.r.store, packKey(id)); err != nil {
		return fmt.Errorf("prune: storing a pack: %w", err)
	}
	p.stored[packKey(id)] = true
	for _, e := range b.entries {
		w.locs[e.id] = index.Location{Pack: id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
	}
	p.res.PacksWritten++
	p.res.BytesFreed -= f.Size()
	return nil
}
