package snapshot

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// Step 1 of prune, reading: what the store holds, what the index names,
// and what the snapshots use.

// read fills p.packs, p.loc, p.streams and the used sets.
func (p *pruner) read() error {
	// Manifests are listed first: a snapshot committed meanwhile stored its
	// packs and index object before its manifest, so they are in the
	// listings that follow; one committed after this listing is settle's
	// (newSnapshots). Listed last, such a snapshot's data looked missing,
	// and the prune refused to run.
	snaps, err := listIDs(p.ctx, p.r.store, snapPrefix)
	if err != nil {
		return err
	}
	if err := p.listPacks(); err != nil {
		return err
	}
	if err := p.readObjects(indexPrefix, p.objects); err != nil {
		return err
	}
	// Retired data counts below the index's: a chunk both name is taken
	// from the index. Of a stream's recipes, settle keeps one that
	// resolves (a whole one first); a delta recipe's base may be in either.
	if err := p.readObjects(retiredPrefix, p.retired); err != nil {
		return err
	}
	p.streams.settle() // a stream a snapshot uses whose delta was dropped shows as missing
	if err := p.readSnapshots(snaps); err != nil {
		return err
	}
	if len(p.missing) > 0 {
		return p.refuse()
	}
	return nil
}

// listPacks lists the packs in the store.
func (p *pruner) listPacks() error {
	p.packs = map[index.ID]remote.Info{}
	err := p.r.store.List(p.ctx, packPrefix, func(info remote.Info) error {
		if id, ok := keyID(packPrefix, info.Key); ok {
			p.packs[id] = info
			p.res.Packs++
			p.res.Bytes += info.Size
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing packs: %w", err)
	}
	return nil
}

// readObjects reads the index objects (or retired objects) under prefix
// into p.loc and p.streams, recording their ids in read. A damaged one
// makes the used data possibly incomplete.
func (p *pruner) readObjects(prefix string, read map[index.ID]bool) error {
	ids, err := listIDs(p.ctx, p.r.store, prefix)
	if err != nil {
		return err
	}
	done := int64(0)
	return p.r.fetchObjects(p.ctx, prefix, slices.Collect(maps.Keys(ids)), maxIndexObject, func(id index.ID, stored []byte, err error) error {
		p.progress("reading "+prefix, done, int64(len(ids)))
		done++
		o, err := p.r.indexObjectOf(prefix, id, stored, err)
		if err != nil {
			if !damage(err) {
				return err
			}
			p.missing = append(p.missing, err.Error())
			return nil
		}
		read[id] = true
		p.merge(o)
		return nil
	})
}

// merge adds the chunk locations o names and p lacks, the others as
// further copies (addCopy), and o's recipes.
func (p *pruner) merge(o *indexObject) {
	for _, pk := range o.packs {
		for _, e := range pk.entries {
			l := index.Location{Pack: pk.id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
			if _, ok := p.loc[e.id]; !ok {
				p.loc[e.id] = l
			} else {
				p.addCopy(e.id, l)
			}
		}
	}
	for i := range o.streams {
		p.streams.add(&o.streams[i]) // settle keeps one that resolves
	}
}

// readSnapshots reads the manifests ids, listed, and their images and
// marks the streams and chunks they use.
func (p *pruner) readSnapshots(ids map[index.ID]int64) error {
	db, err := p.r.syncedIndex(p.ctx)
	if err != nil {
		return err
	}
	defer closeIndex(db)
	src := p.r.newSource(p.ctx, db)
	defer src.close()
	images := map[wim.Hash]bool{}
	done := int64(0)
	for _, m := range p.opts.Forgotten {
		delete(ids, objectIDFromHex(m.ID))
	}
	return p.r.fetchObjects(p.ctx, snapPrefix, slices.Collect(maps.Keys(ids)), maxManifest, func(id index.ID, stored []byte, err error) error {
		p.progress("reading snapshots", done, int64(len(ids)))
		done++
		m, _, err := p.r.manifestOf(id, stored, err)
		if err != nil {
			if errors.Is(err, remote.ErrNotFound) {
				return nil // forgotten since it was listed: forget runs beside prune
			}
			if !damage(err) {
				return err
			}
			p.missing = append(p.missing, fmt.Sprintf("snapshot %s: %v", hexID(id), err))
			return nil
		}
		p.snaps[id] = true
		p.res.Snapshots++
		return p.useImage(src, m, images)
	})
}

// useImage marks the metadata stream of m and every stream its image
// names as used, once per distinct image.
func (p *pruner) useImage(src *repoSource, m *Manifest, images map[wim.Hash]bool) error {
	h, err := m.hash()
	if err != nil {
		p.missing = append(p.missing, fmt.Sprintf("snapshot %s: %v", m.ShortID(), err))
		return nil
	}
	if images[h] {
		return nil
	}
	images[h] = true
	p.use(h, func() string { return "snapshot " + m.ShortID() + ": metadata" })
	md, err := p.r.readImage(src, m, false)
	if err != nil {
		if !damage(err) || p.suspectIndex && errors.Is(err, errIndexMiss) {
			return err
		}
		p.missing = append(p.missing, err.Error())
		return nil
	}
	return md.Visit(func(e *wim.Entry, path func() string) error {
		for _, s := range entryStreams(e) {
			if !s.Hash.IsZero() {
				p.use(s.Hash, func() string { return "snapshot " + m.ShortID() + ": " + path() })
			}
		}
		return nil
	})
}

// use marks stream h and its chunks as used; what is not there makes the
// used data incomplete, named by what (called only then).
func (p *pruner) use(h wim.Hash, what func() string) {
	sh := index.SHA1(h)
	if p.used[sh] {
		return
	}
	chunks, ok := p.streams.chunks(sh)
	if !ok {
		p.missing = append(p.missing, fmt.Sprintf("%s: stream %x is in no index object", what(), h))
		return
	}
	p.used[sh] = true
	for _, c := range chunks {
		if _, ok := p.loc[c]; !ok {
			p.missing = append(p.missing, fmt.Sprintf("%s: chunk %s of stream %x is in no index object", what(), hexID(c)[:16], h))
			return
		}
		p.usedCh[c] = true
	}
}
