package snapshot

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// Step 1 of prune, the index: the new index objects, the retired
// objects, and the deletion of the objects they replace.

// retiredPrefix holds what a prune took out of the index and has not yet
// deleted (docs/repository.md): index objects only prune reads.
const retiredPrefix = "retired/"

func objectKey(prefix string, id index.ID) string { return prefix + hex.EncodeToString(id[:]) }

// rewriteIndex writes index objects naming what is used and retired
// objects naming the rest, then deletes the index and retired objects
// read in step 1. Until that deletion the repository holds both, which
// readers take as they take any chunk listed twice.
func (p *pruner) rewriteIndex() error {
	for h := range p.used {
		p.kept[h] = p.streams.streams[h]
	}
	used := func(c index.ID) bool { return p.usedCh[c] }
	keptStream := func(h index.SHA1) bool { return p.used[h] }
	ids, err := p.writeObjects(indexPrefix, used, keptStream)
	if err != nil {
		return err
	}
	p.res.IndexWritten += len(ids)
	p.retKeys, err = p.writeRetired()
	if err != nil {
		return err
	}
	p.progress("deleting replaced index objects", 0, int64(len(p.objects)+len(p.retired)))
	for id := range p.objects {
		deleted, err := p.deleteReplaced(indexKey(id))
		if err != nil {
			return err
		}
		if deleted {
			p.res.IndexDeleted++
			p.gone[id] = true
		}
	}
	for id := range p.retired {
		if _, err := p.deleteReplaced(objectKey(retiredPrefix, id)); err != nil {
			return err
		}
	}
	return nil
}

// writeRetired writes what the new index leaves out and returns the keys.
func (p *pruner) writeRetired() ([]string, error) {
	ids, err := p.writeObjects(retiredPrefix, func(c index.ID) bool { return !p.usedCh[c] },
		func(h index.SHA1) bool { return !p.used[h] })
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = objectKey(retiredPrefix, id)
	}
	return keys, err
}

// writeObjects stores, under prefix, index objects naming the chunks and
// streams that the selectors pick, and returns their ids. A delta recipe
// stays one when its base is picked too; otherwise it is written whole.
func (p *pruner) writeObjects(prefix string, chunk func(index.ID) bool, stream func(index.SHA1) bool) ([]index.ID, error) {
	o := &indexObject{packs: p.packsOf(chunk)}
	hashes := slices.SortedFunc(mapKeys(p.streams.streams), index.SHA1.Compare)
	for _, h := range hashes {
		if !stream(h) {
			continue
		}
		s := *p.streams.streams[h]
		if s.delta && !stream(s.base) {
			chunks, _ := p.streams.chunks(h) // settled: it resolves
			s = indexStream{hash: h, size: s.size, chunks: slices.Clone(chunks)}
		}
		o.streams = append(o.streams, s)
	}
	return p.putObjects(prefix, o)
}

// putObjects stores o under prefix, split into pieces, and returns their
// ids, noting each as stored by this run.
func (p *pruner) putObjects(prefix string, o *indexObject) ([]index.ID, error) {
	ids, err := p.r.putIndexObjects(p.ctx, prefix, o)
	for _, id := range ids {
		p.stored[objectKey(prefix, id)] = true
	}
	return ids, err
}

// packsOf groups the chunks that pick selects by pack, in offset order.
func (p *pruner) packsOf(pick func(index.ID) bool) []indexPack { return groupByPack(p.loc, pick) }

// deleteReplaced deletes an object this run replaced, unless the run
// stored an object under the same key: an old object and its replacement
// may have the same bytes, and so the same key (the new index of a
// repository that holds nothing unused is the old one's content). deleted
// says whether it deleted.
func (p *pruner) deleteReplaced(key string) (deleted bool, err error) {
	if p.stored[key] {
		return false, nil
	}
	return true, p.deleteObject(key)
}

// deleteObject deletes key; one gone already is fine.
func (p *pruner) deleteObject(key string) error {
	if err := p.r.store.Delete(p.ctx, key); err != nil && !errors.Is(err, remote.ErrNotFound) {
		return fmt.Errorf("prune: deleting %s: %w", key, err)
	}
	return nil
}
