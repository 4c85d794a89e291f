package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// Step 2 of prune: waiting for the shared locks older than the new index,
// putting back what the snapshots committed meanwhile use, and deleting.

// errWaitedOut ends a settle that cannot delete safely now: the wait for
// older locks ran past PruneOptions.Wait, or a snapshot committed during
// the prune could not be read; PendingWhy says which.
var errWaitedOut = errors.New("prune: waited out")

// settle finishes the prune: wait, put back, delete.
func (p *pruner) settle() error {
	if len(p.doomed) == 0 && len(p.retKeys) == 0 {
		return nil
	}
	t1, err := storeTime(p.ctx, p.r.store)
	if err != nil {
		return err
	}
	if err := p.putBackEarly(); err != nil {
		return err
	}
	err = p.waitOlder(t1)
	if err == nil {
		err = p.putBack()
	}
	if errors.Is(err, errWaitedOut) {
		p.res.Pending = len(p.doomed)
		p.opts.Warn(fmt.Errorf("%d packs are left for a later prune: %s", p.res.Pending, p.res.PendingWhy))
		return nil
	}
	if err != nil {
		return err
	}
	if err := p.lock.Err(); err != nil {
		return err
	}
	p.deletePacks()
	for _, key := range p.retKeys {
		if err := p.deleteObject(key); err != nil {
			return err
		}
	}
	return nil
}

// waitOlder waits until no shared lock that is not stale was taken at or
// before t1 (by the store's clock), removing stale locks as lockers do. It
// returns errWaitedOut, with PendingWhy set, when Wait runs out first.
func (p *pruner) waitOlder(t1 time.Time) error {
	sleep := p.opts.Lock.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	start := time.Now()
	var waited time.Duration
	for told := false; ; told = true {
		// The store's clock has moved on about as far as ours since t1.
		_, others, err := p.lock.scan(p.ctx, t1.Add(time.Since(start)))
		if err != nil {
			return err
		}
		blocker := oldest(others, func(e *lockEntry) bool {
			return !e.rec.Exclusive && e.rec.Kind != kindPrune && !e.since().After(t1)
		})
		if blocker == nil {
			return nil
		}
		h := blocker.info()
		why := fmt.Sprintf("a lock taken before this prune's new index, by host %s (pid %d) since %s, is still held "+
			"(a lock whose process died goes stale after 30 minutes; 'wimsnap unlock --remove-all' removes it sooner once that process is surely gone)",
			h.Host, h.PID, h.Since.UTC().Format(time.DateTime+" UTC"))
		if waited >= p.opts.Wait {
			p.res.PendingWhy = why
			return errWaitedOut
		}
		if !told {
			p.opts.Warn(fmt.Errorf("waiting up to %v before deleting: %s", p.opts.Wait, why))
		}
		d := min(lockPoll, p.opts.Wait-waited)
		if err := sleep(p.ctx, d); err != nil {
			return err
		}
		waited += d
	}
}

// putBackEarly puts back, before the wait, what the snapshots committed
// during step 1 use of the retired data. One that stored its manifest
// after step 1 read the manifests, and listed the index again before step
// 1 deleted the objects it read, found nothing replaced and named nothing
// again: without this, it would not restore until the end of the wait,
// and not at all if the wait runs out or the prune is stopped before it
// ends. One that commits later finds the objects gone and names the data
// itself. A local index another process is writing leaves the put-back
// to the end of the wait, as before (the snapshots of this machine).
func (p *pruner) putBackEarly() error {
	err := p.putBack()
	if errors.Is(err, errWaitedOut) {
		p.res.PendingWhy = ""
		return nil
	}
	return err
}

// putBack reads the index objects and manifests committed since step 1
// and puts back into the index what they use of the retired data, keeping
// the packs that hold it. It notes what it read as read in step 1, so that
// a second putBack reads only what was committed after it.
func (p *pruner) putBack() error {
	known, err := p.newObjects()
	if err != nil {
		return err
	}
	snaps, err := p.newSnapshots()
	if err != nil {
		return err
	}
	if len(snaps) == 0 && len(p.back.packs) == 0 && len(p.back.streams) == 0 {
		p.noteRead(known, nil)
		return nil
	}
	// Metadata first: reading the images needs their streams indexed.
	for _, m := range snaps {
		if h, err := m.hash(); err == nil {
			p.keep(h, known)
		}
	}
	if err := p.writeBack(); err != nil {
		return err
	}
	db, err := p.freshIndex()
	if err != nil {
		return err
	}
	defer closeIndex(db)
	for _, m := range snaps {
		md, err := p.r.loadMetadata(p.ctx, db, m)
		if err != nil {
			// What it uses is unknown: delete nothing now.
			p.res.PendingWhy = fmt.Sprintf("snapshot %s, committed during the prune, could not be read: %v", m.ShortID(), err)
			return errWaitedOut
		}
		_ = md.Visit(func(e *wim.Entry, _ func() string) error {
			for _, s := range entryStreams(e) {
				if !s.Hash.IsZero() {
					p.keep(s.Hash, known)
				}
			}
			return nil
		})
	}
	if err := p.writeBack(); err != nil {
		return err
	}
	p.noteRead(known, snaps)
	return nil
}

// noteRead marks the index objects and manifests a putBack read, and
// whose data it put back, as read in step 1.
func (p *pruner) noteRead(known *knownNow, snaps []*Manifest) {
	for _, id := range known.objects {
		p.objects[id] = true
		delete(p.gone, id)
	}
	for _, m := range snaps {
		if id, ok := parseID(m.ID); ok {
			p.snaps[id] = true
		}
	}
}

// freshIndex brings the local index up to date and opens it; one that
// another process is writing, and so may lack what the snapshots
// committed meanwhile use, defers the deletion (errWaitedOut).
func (p *pruner) freshIndex() (*index.DB, error) {
	st, err := p.r.Sync(p.ctx, nil)
	if err != nil {
		return nil, err
	}
	if st.Busy {
		p.res.PendingWhy = "another process on this machine is writing the local index"
		return nil, errWaitedOut
	}
	return p.r.openIndex(true)
}

// knownNow is what the repository's index names beside the new index:
// the objects committed during the prune, and what was put back. It
// carries over from one putBack to the next.
type knownNow struct {
	chunks  map[index.ID]bool
	streams map[index.SHA1]*indexStream
	objects []index.ID // the index objects read
}

// newObjects reads the index objects committed since step 1 (or since the
// last putBack): their packs are kept, and the bases of their delta
// recipes put back.
func (p *pruner) newObjects() (*knownNow, error) {
	known := p.known
	if known == nil {
		known = &knownNow{chunks: map[index.ID]bool{}, streams: map[index.SHA1]*indexStream{}}
		p.known = known
	}
	known.objects = known.objects[:0]
	ids, err := listIDs(p.ctx, p.r.store, indexPrefix)
	if err != nil {
		return nil, err
	}
	var objs []*indexObject
	for id := range ids {
		// One that step 1 read and deleted and that is there again was
		// stored again since (a snapshot naming again what this prune
		// retired, in the same bytes): it is new.
		if p.stored[indexKey(id)] || p.objects[id] && !p.gone[id] {
			continue
		}
		o, err := p.r.readIndexObjectAt(p.ctx, indexPrefix, id)
		if err != nil {
			return nil, fmt.Errorf("prune: reading an index object committed during the prune: %w", err)
		}
		objs = append(objs, o)
		known.objects = append(known.objects, id)
		for _, pk := range o.packs {
			delete(p.doomed, pk.id)
			for _, e := range pk.entries {
				known.chunks[e.id] = true
			}
		}
		for i := range o.streams {
			known.streams[o.streams[i].hash] = &o.streams[i]
		}
	}
	lookup := func(h index.SHA1) ([]index.ID, bool) {
		if s := known.streams[h]; s != nil && s.chunks != nil {
			return s.chunks, true
		}
		return p.streams.chunks(h) // resolve copies what it takes
	}
	for _, o := range objs {
		for i := range o.streams {
			if s := &o.streams[i]; s.delta {
				p.keep(wim.Hash(s.base), known)
				s.resolve(lookup) // its chunks are checked when a snapshot uses it
			}
		}
	}
	return known, nil
}

// newSnapshots reads the manifests committed since step 1.
func (p *pruner) newSnapshots() ([]*Manifest, error) {
	ids, err := listIDs(p.ctx, p.r.store, snapPrefix)
	if err != nil {
		return nil, err
	}
	var list []*Manifest
	var toRead []index.ID
	for id := range ids {
		if !p.snaps[id] {
			toRead = append(toRead, id)
		}
	}
	err = p.r.fetchObjects(p.ctx, snapPrefix, toRead, maxManifest, func(id index.ID, stored []byte, err error) error {
		m, _, err := p.r.manifestOf(id, stored, err)
		if errors.Is(err, remote.ErrNotFound) {
			return nil // forgotten since it was listed: forget runs beside prune
		}
		if err != nil {
			return fmt.Errorf("prune: reading a snapshot committed during the prune: %w", err)
		}
		list = append(list, m)
		return nil
	})
	return list, err
}

// keep makes sure stream h and its chunks are in the index, putting back
// what the new index left out (and keeping its packs).
func (p *pruner) keep(h wim.Hash, known *knownNow) {
	sh := index.SHA1(h)
	var chunks []index.ID
	if s := known.streams[sh]; p.kept[sh] == nil && s != nil {
		chunks = s.chunks
	} else {
		var ok bool
		if chunks, ok = p.streams.chunks(sh); !ok {
			return // not the prune's doing: check reports it
		}
		if p.kept[sh] == nil {
			s := p.streams.streams[sh]
			p.back.streams = append(p.back.streams, indexStream{hash: sh, size: s.size, chunks: slices.Clone(chunks)})
			p.kept[sh] = s
		}
	}
	for _, c := range chunks {
		if p.usedCh[c] || known.chunks[c] {
			continue
		}
		if _, ok := p.loc[c]; !ok {
			continue
		}
		p.putBackCopies(c)
		known.chunks[c] = true
	}
}

// putBackChunk adds chunk c at l to the put-back object and keeps its
// pack; the caller counts the chunk.
func (p *pruner) putBackChunk(c index.ID, l index.Location) {
	delete(p.doomed, l.Pack)
	e := entryAt(c, l)
	for i := range p.back.packs {
		if p.back.packs[i].id == l.Pack {
			p.back.packs[i].entries = append(p.back.packs[i].entries, e)
			return
		}
	}
	p.back.packs = append(p.back.packs, indexPack{id: l.Pack, entries: []packEntry{e}})
}

// writeBack stores the put-back object, if it names anything.
func (p *pruner) writeBack() error {
	if len(p.back.packs) == 0 && len(p.back.streams) == 0 {
		return nil
	}
	ids, err := p.putObjects(indexPrefix, p.back)
	p.res.IndexWritten += len(ids)
	if err != nil {
		return err
	}
	p.back = &indexObject{}
	return nil
}

// deletePacks deletes the condemned packs, a few at a time, but for one a
// repack wrote again byte for byte (deleteReplaced). A pack that cannot be
// deleted is warned about and counted pending: the next prune finds it
// unused.
func (p *pruner) deletePacks() {
	ids := make(chan index.ID)
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := int64(0)
	for range 8 {
		wg.Go(func() {
			for id := range ids {
				deleted, err := p.deleteReplaced(packKey(id))
				mu.Lock()
				switch {
				case err != nil:
					p.opts.Warn(err)
					p.res.Pending++
					if p.res.PendingWhy == "" {
						p.res.PendingWhy = "deleting them failed (see the warnings)"
					}
				case deleted:
					p.res.PacksDeleted++
					p.res.BytesFreed += p.packs[id].Size
				default:
					// Repacked into the very same bytes: the copy counted
					// as written is this pack, which stays.
					p.res.BytesFreed += p.packs[id].Size
				}
				done++
				p.progress("deleting packs", done, int64(len(p.doomed)))
				mu.Unlock()
			}
		})
	}
	for id := range p.doomed {
		if p.ctx.Err() != nil {
			break
		}
		ids <- id
	}
	close(ids)
	wg.Wait()
}
