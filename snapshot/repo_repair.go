package snapshot

import (
	"context"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// Repair makes a damaged repository consistent again, keeping all that is
// intact. It holds the exclusive lock, reads every pack, and trusts only
// chunks that expand to their ids:
//
//   - chunk locations come from the packs' own trailers (or, for a pack
//     whose trailer is damaged, from the index), so a lost index object
//     loses no chunk; of the stream recipes lost with it, those of streams
//     of one chunk (files up to 32 KiB) are rebuilt, since such a stream's
//     SHA-1 is its chunk's, and the others are taken from the local index
//     when it holds them (or from those that a sync which found the
//     object gone dropped: index.DB.DroppedStreams), with all their chunks
//     intact and of the stream's size; larger files whose recipe is lost
//     otherwise are lost;
//   - the intact chunks of a damaged pack are copied into a new pack, and
//     the damaged pack deleted;
//   - a snapshot some of whose files lost data is written again without
//     those files (tagged "repaired"); one whose image is lost is written
//     again from the local cache of recent images when that holds it, and
//     removed otherwise; the result names each snapshot and file;
//   - the index objects are replaced by ones naming exactly the intact
//     chunks and streams.
//
// Writes come before deletions, so a repair stopped at any point can be
// run again. Lost data is not in the new index: the next snapshot of a
// machine that still has the files stores them again.

// RepairOptions configures Repo.Repair.
type RepairOptions struct {
	// DryRun finds and reports the damage, changing nothing.
	DryRun bool
	// Lock configures the exclusive lock.
	Lock LockOptions
	// Progress, if set, is told the stage and how far it got.
	Progress func(stage string, done, total int64)
	// Warn receives problems that do not stop the repair.
	Warn func(error)
}

// RepairResult reports what Repair found and did.
type RepairResult struct {
	PacksRead     int      `json:"packs_read"`
	DamagedPacks  []string `json:"damaged_packs"`
	MissingPacks  []string `json:"missing_packs"`
	DamagedIndex  []string `json:"damaged_index_objects"`
	LostChunks    int      `json:"lost_chunks"`
	LostStreams   int      `json:"lost_streams"`
	SalvagedPacks int      `json:"packs_written"`
	IndexWritten  int      `json:"index_objects_written"`
	// Retired counts the retired objects of a prune that did not finish:
	// a snapshot that committed after it may use their data, which the
	// new index names again.
	Retired int `json:"retired_objects"`
	// Manifests lists the snapshots whose manifest, damaged or missing in
	// the repository, was put back from the local index's copy.
	Manifests []string `json:"manifests_restored"`
	// Recipes counts the stream recipes no index object named that were
	// taken from the local index.
	Recipes int `json:"recipes_restored"`
	// Rebuilt counts the recipes of streams of one chunk that no index
	// object named (lost with one), made again from the chunk found in a
	// pack whose bytes have the stream's SHA-1.
	Rebuilt int `json:"recipes_rebuilt"`
	// Misplaced counts the index entries that gave a chunk a place in a
	// sound pack that its trailer does not: the new index takes the
	// trailer's.
	Misplaced int `json:"misplaced_index_entries"`
	// Snapshots lists the snapshots that lost data.
	Snapshots []RepairedSnapshot `json:"snapshots"`
}

// RepairedSnapshot is a snapshot that lost files (or all of them).
type RepairedSnapshot struct {
	ID        string   `json:"id"`
	NewID     string   `json:"new_id,omitempty"` // the snapshot written without the lost files
	Removed   bool     `json:"removed"`          // its image itself was lost
	LostFiles []string `json:"lost_files"`
	Why       string   `json:"why,omitempty"`
}

// Damaged reports whether repair found anything to mend.
func (res *RepairResult) Damaged() bool {
	return len(res.DamagedPacks)+len(res.MissingPacks)+len(res.DamagedIndex)+res.LostChunks+res.LostStreams+len(res.Snapshots)+
		len(res.Manifests)+res.Retired+res.Recipes+res.Rebuilt+res.Misplaced > 0
}

// Repair mends the repository as described above.
func (r *Repo) Repair(ctx context.Context, opts RepairOptions) (RepairResult, error) {
	if opts.Warn == nil {
		opts.Warn = func(error) {}
	}
	if opts.Lock.Warn == nil {
		opts.Lock.Warn = opts.Warn
	}
	lock, err := r.LockExclusive(ctx, opts.Lock)
	if err != nil {
		return RepairResult{}, err
	}
	defer lock.release(ctx, opts.Warn)
	p := newPruner(ctx, r, PruneOptions{Progress: opts.Progress, Warn: opts.Warn}, lock)
	rp := &repairer{pruner: p, opts: opts, res: &RepairResult{DamagedPacks: []string{}, MissingPacks: []string{},
		DamagedIndex: []string{}, Manifests: []string{}, Snapshots: []RepairedSnapshot{}},
		good: map[index.ID]index.Location{}, damaged: map[index.ID]bool{}, replaced: map[index.ID]bool{},
		unknown: map[index.SHA1]bool{},
		single:  map[index.SHA1]singleChunk{}}
	err = rp.run()
	return *rp.res, err
}

// repairer is the state of one Repair; it reads the index as prune does.
type repairer struct {
	*pruner
	opts     RepairOptions
	res      *RepairResult
	good     map[index.ID]index.Location // chunks that expand to their ids
	damaged  map[index.ID]bool           // packs to delete once salvaged
	replaced map[index.ID]bool           // manifests to delete
	single   map[index.SHA1]singleChunk  // intact chunks by the SHA-1 of their bytes
	salvage  *packWriter
	// unknown holds the streams snapshots use that no index object names
	// (one was damaged): lost too, beside those countLost counts.
	unknown map[index.SHA1]bool
	// cached holds the recipes of the local index that no index object
	// names, for streams whose recipe was lost with one (cachedRecipes).
	cached map[index.SHA1]index.Recipe
	// rewritten counts the packs that the rewritten snapshots' images
	// took (rewrite), beside the salvage's.
	rewritten int
}

// singleChunk is an intact chunk that is also the whole of any stream
// whose SHA-1 is its bytes'.
type singleChunk struct {
	id  index.ID
	raw uint32
}

func (rp *repairer) run() error {
	if err := rp.readObjects(indexPrefix, rp.objects); err != nil {
		return err
	}
	if err := rp.readObjects(retiredPrefix, rp.retired); err != nil {
		return err
	}
	rp.res.Retired = len(rp.retired)
	rp.streams.settle()
	rp.cachedRecipes()
	rp.res.DamagedIndex = append(rp.res.DamagedIndex, rp.missing...)
	if err := rp.listPacks(); err != nil {
		return err
	}
	if err := rp.scanPacks(); err != nil {
		return err
	}
	rp.countLost()
	if err := rp.snapshots(); err != nil {
		return err
	}
	rp.res.LostStreams += len(rp.unknown)
	if rp.opts.DryRun || !rp.res.Damaged() {
		return nil
	}
	return rp.commit()
}

// countLost counts the chunks and streams the index names that are not
// intact.
func (rp *repairer) countLost() {
	for c := range rp.loc {
		if _, ok := rp.good[c]; !ok {
			rp.res.LostChunks++
		}
	}
	for h := range rp.streams.streams {
		if !rp.intact(h) {
			rp.res.LostStreams++
		}
	}
}

// intact reports whether stream h has a recipe whose chunks are all good,
// rebuilding the recipe of a stream of one chunk.
func (rp *repairer) intact(h index.SHA1) bool {
	if rp.streams.streams[h] == nil && rp.single[h].raw == 0 && !rp.recipeFromCache(h) {
		rp.unknown[h] = true
	}
	chunks, ok := rp.streams.chunks(h)
	if !ok && rp.single[h].raw > 0 {
		one := rp.single[h]
		rp.streams.streams[h] = &indexStream{hash: h, size: int64(one.raw), chunks: []index.ID{one.id}}
		rp.res.Rebuilt++ // once: the recipe is there from now on
		chunks, ok = rp.streams.chunks(h)
	}
	if !ok {
		return false
	}
	for _, c := range chunks {
		if _, ok := rp.good[c]; !ok {
			return false
		}
	}
	return sizeMismatch(chunks, rp.streams.streams[h].size, rp.rawSize) == ""
}

// rawSize is the size the intact chunk id expands to.
func (rp *repairer) rawSize(id index.ID) (int64, bool) {
	l, ok := rp.good[id]
	return int64(l.Raw), ok
}

// commit writes the new index, then deletes what it replaces: the old
// index and retired objects, the damaged packs, the rewritten manifests.
func (rp *repairer) commit() error {
	if err := rp.salvage.flush(); err != nil {
		return err
	}
	rp.res.SalvagedPacks = rp.pruner.res.PacksWritten + rp.rewritten
	// Every index and retired object there now is replaced, damaged ones
	// and those the rewritten snapshots wrote included.
	var keys []string
	for _, prefix := range []string{indexPrefix, retiredPrefix} {
		ids, err := listIDs(rp.ctx, rp.r.store, prefix)
		if err != nil {
			return err
		}
		for id := range ids {
			keys = append(keys, objectKey(prefix, id))
		}
	}
	rp.loc = rp.good
	for h := range rp.streams.streams {
		if rp.intact(h) {
			rp.used[h] = true
		}
	}
	ids, err := rp.writeObjects(indexPrefix, func(index.ID) bool { return true }, func(h index.SHA1) bool { return rp.used[h] })
	rp.res.IndexWritten = len(ids)
	if err != nil {
		return err
	}
	if err := rp.lock.Err(); err != nil {
		return err
	}
	for id := range rp.damaged {
		keys = append(keys, packKey(id))
	}
	for id := range rp.replaced {
		keys = append(keys, snapKey(id))
	}
	slices.Sort(keys)
	for i, key := range keys {
		rp.progress("deleting what was replaced", int64(i), int64(len(keys)))
		if _, err := rp.deleteReplaced(key); err != nil {
			return fmt.Errorf("%w (run repair again)", err)
		}
	}
	return nil
}

// cachedRecipes reads the full recipes of the local index that no index
// object names into rp.cached: those of the streams of a lost index
// object, when this machine synced it, or those the sync that found it
// lost dropped (index.DB.DroppedStreams). A local index that does not
// open or read gives none.
func (rp *repairer) cachedRecipes() {
	rp.cached = map[index.SHA1]index.Recipe{}
	db, err := index.Open(rp.r.cache, rp.r.cfg.ID, index.Options{ReadOnly: true, Timeout: writeWait})
	if err != nil {
		return
	}
	defer closeIndex(db)
	keep := func(h index.SHA1, r index.Recipe) error {
		if rp.streams.streams[h] == nil {
			rp.cached[h] = index.Recipe{Size: r.Size, Chunks: slices.Clone(r.Chunks)}
		}
		return nil
	}
	err = db.DroppedStreams(keep)
	if err == nil {
		err = db.ForEachStream(func(h index.SHA1, r index.Recipe, full bool) error {
			if !full {
				return nil
			}
			return keep(h, r)
		})
	}
	if err != nil {
		rp.cached = map[index.SHA1]index.Recipe{}
	}
}

// recipeFromCache takes the recipe of stream h from the local index's
// (rp.cached) when every chunk of it is intact and their sizes add up to
// the stream's, and reports whether it did. Restore checks the stream's
// SHA-1 as it reads it.
func (rp *repairer) recipeFromCache(h index.SHA1) bool {
	r, ok := rp.cached[h]
	if !ok || r.Size <= 0 {
		return false
	}
	var size int64
	for _, c := range r.Chunks {
		l, ok := rp.good[c]
		if !ok {
			return false
		}
		size += int64(l.Raw)
	}
	if size != r.Size {
		return false
	}
	delete(rp.cached, h)
	rp.streams.streams[h] = &indexStream{hash: h, size: r.Size, chunks: r.Chunks}
	rp.res.Recipes++
	return true
}
