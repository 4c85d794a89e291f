package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// Prune removes what no snapshot needs while snapshots from other machines
// go on: they hold shared locks, which a prune lock allows.
//
// The danger is a snapshot that started before the prune: it deduplicated
// against the index as it then was, so it may name chunks and streams that
// no committed snapshot uses and that the prune is about to delete. Prune
// therefore works in two steps.
//
//  1. It reads every index object, every manifest and the images they
//     name, and works out which streams and chunks are used. Packs that
//     hold nothing used are condemned; packs that hold much unused data are
//     repacked (their used chunks copied, as stored, into new packs) and
//     condemned. It writes index objects naming only what is used, records
//     everything else it took out in a retired/<id> object (an index
//     object that nothing but prune reads), and deletes the old index
//     objects. Other machines then rebuild their local index without the
//     condemned data, so their new snapshots store such data again.
//  2. It waits until every shared lock older than the new index is gone
//     (snapshots, restores and checks that may still use the old one);
//     reads the index objects and manifests committed meanwhile and puts
//     back into the index what they use of the retired data, whose packs
//     are then kept; and deletes the condemned packs, then the retired
//     object.
//
// A prune stopped at any point (a crash, SIGKILL, a wait that ran out)
// leaves a repository whose snapshots all restore: each step writes before
// it deletes, and the next prune reads the retired objects left behind and
// finishes their work by the same rules.

// DefaultPruneWait bounds how long Prune waits for snapshots that started
// before its new index.
const DefaultPruneWait = 30 * time.Minute

// DefaultMaxUnused is the share of unused data tolerated in kept packs.
const DefaultMaxUnused = 0.05

// ErrPruneRefused means that prune found snapshots it cannot account for
// (damaged or missing objects) and changed nothing.
var ErrPruneRefused = errors.New("prune refused")

// PruneOptions configures Repo.Prune.
type PruneOptions struct {
	// MaxUnused is the unused data tolerated in kept packs, as a share of
	// the used data: packs with the largest unused shares are repacked
	// until the rest is within it. 0 means DefaultMaxUnused; a negative
	// value tolerates any (only packs holding nothing used go).
	MaxUnused float64
	// DryRun works out and reports what would be done, changing nothing.
	DryRun bool
	// Forgotten (with DryRun only) are snapshots to count as gone, for the
	// preview of a prune after a forget that has not run (forget --prune
	// --dry-run).
	Forgotten []*Manifest
	// Wait bounds how long step 2 waits for older shared locks; when it
	// runs out the condemned packs stay for a later prune. 0 means
	// DefaultPruneWait.
	Wait time.Duration
	// Lock configures the prune lock (Lock.Sleep also times the polls of
	// the wait).
	Lock LockOptions
	// Progress, if set, is told the stage and how far it got.
	Progress func(stage string, done, total int64)
	// Warn receives problems that do not stop the prune.
	Warn func(error)
}

// PruneResult reports what Prune found and did (or, with DryRun, would do).
type PruneResult struct {
	Snapshots     int   `json:"snapshots"`
	Packs         int   `json:"packs"`
	Bytes         int64 `json:"bytes"`
	UsedBytes     int64 `json:"used_bytes"`
	UnusedBytes   int64 `json:"unused_bytes"`
	PacksDeleted  int   `json:"packs_deleted"`
	PacksRepacked int   `json:"packs_repacked"`
	PacksWritten  int   `json:"packs_written"`
	BytesFreed    int64 `json:"bytes_freed"`
	IndexWritten  int   `json:"index_objects_written"`
	IndexDeleted  int   `json:"index_objects_deleted"`
	// KeptForRunning counts chunks put back into the index because
	// snapshots that ran during the prune use them.
	KeptForRunning int `json:"chunks_kept_for_concurrent_snapshots"`
	// Pending counts condemned packs left for a later prune because
	// older shared locks outlasted Wait, or because deleting them failed;
	// PendingWhy names one reason.
	Pending    int    `json:"packs_pending"`
	PendingWhy string `json:"pending_reason,omitempty"`
	// TempFiles counts the temporary files of killed writers removed
	// from a local repository (see tempSweeper).
	TempFiles int `json:"temp_files_removed"`
}

// tempSweeper is a store that can remove what killed writers left, as
// remote.Local does; prune asks it to.
type tempSweeper interface {
	SweepTemps(before time.Time) int
}

// Prune deletes the packs no snapshot needs and repacks those mostly
// unneeded, in the two steps described above, holding a prune lock
// (ErrLocked when another prune or an exclusive lock holds the
// repository). It refuses (ErrPruneRefused, nothing changed) when a
// snapshot's objects are damaged or missing: check and repair come first.
func (r *Repo) Prune(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	if len(opts.Forgotten) > 0 && !opts.DryRun {
		// A prune that ignored snapshots still there would delete their data.
		return PruneResult{}, errors.New("prune: Forgotten needs DryRun")
	}
	if opts.MaxUnused == 0 {
		opts.MaxUnused = DefaultMaxUnused
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultPruneWait
	}
	if opts.Warn == nil {
		opts.Warn = func(error) {}
	}
	if opts.Lock.Warn == nil {
		opts.Lock.Warn = opts.Warn
	}
	var lock *Lock
	var err error
	if opts.DryRun {
		lock, err = r.LockShared(ctx, opts.Lock)
	} else {
		lock, err = r.LockPrune(ctx, opts.Lock)
	}
	if err != nil {
		return PruneResult{}, err
	}
	defer lock.release(ctx, opts.Warn)
	// An image the local index lacks the data of, when the local index
	// may be at fault, has it rebuilt and the reading done again, rather
	// than the prune refused for damage the repository need not have.
	// A dry run notes the other locks before it reads anything: a snapshot
	// that holds one then and commits meanwhile wrote packs that the index
	// read may not name (countDry).
	var before []lockEntry
	if opts.DryRun {
		if before, err = lock.holders(ctx); err != nil {
			return PruneResult{}, err
		}
	}
	var p *pruner
	err = r.retryRebuilt(ctx, func(rebuiltFor error) error {
		p = newPruner(ctx, r, opts, lock)
		p.suspectIndex = rebuiltFor == nil
		p.heldBefore = before
		return p.read()
	})
	if err == nil {
		err = p.run()
	}
	return *p.res, err
}

// run is Prune's work under its lock, after read.
func (p *pruner) run() error {
	if err := p.plan(); err != nil {
		return err
	}
	if s, ok := p.r.store.(tempSweeper); ok && !p.opts.DryRun {
		p.res.TempFiles = s.SweepTemps(p.r.now().Add(-remote.StaleTempAge))
	}
	if p.opts.DryRun || len(p.doomed) == 0 && len(p.retired) == 0 {
		// Nothing to delete or finish: unused index entries stay, harmless.
		return nil
	}
	steps := []func() error{p.repack, p.rewriteIndex, p.settle}
	for _, step := range steps {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if err := p.lock.Err(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// pruner is the state of one Prune.
type pruner struct {
	heldBefore []lockEntry     // a dry run's: the other locks before it read the index
	ctx        context.Context //nolint:containedctx // one run's context, for its many steps
	r          *Repo
	opts       PruneOptions
	lock       *Lock
	res        *PruneResult

	packs   map[index.ID]remote.Info      // in the store, as listed in step 1
	loc     map[index.ID]index.Location   // one location of every chunk named (by the index first, else a retired object)
	copies  map[index.ID][]index.Location // the other locations of a chunk stored twice or more
	streams *recipes                      // every recipe named that resolves
	objects map[index.ID]bool             // index objects read in step 1
	gone    map[index.ID]bool             // of those, the ones step 1 deleted
	retired map[index.ID]bool             // retired objects read in step 1
	snaps   map[index.ID]bool             // manifests read in step 1
	used    map[index.SHA1]bool           // streams the snapshots use
	usedCh  map[index.ID]bool             // chunks of used streams
	sizes   map[index.ID]int64            // bytes of used chunks in each pack
	missing []string                      // why the used data is incomplete
	// suspectIndex says that a stream the local index lacks may be
	// there: read fails, for the index to be rebuilt, rather than count
	// it missing.
	suspectIndex bool

	doomed  map[index.ID]bool           // packs to delete
	moved   map[index.ID]bool           // packs repacked (doomed too)
	kept    map[index.SHA1]*indexStream // recipes in the new index
	stored  map[string]bool             // keys of the packs, index and retired objects this run wrote
	retKeys []string                    // retired objects this prune wrote
	back    *indexObject                // retired data being put back (step 2)
	known   *knownNow                   // what putBack found named beside the new index
}

func newPruner(ctx context.Context, r *Repo, opts PruneOptions, lock *Lock) *pruner {
	return &pruner{ctx: ctx, r: r, opts: opts, lock: lock, res: &PruneResult{},
		loc: map[index.ID]index.Location{}, copies: map[index.ID][]index.Location{}, streams: newRecipes(),
		objects: map[index.ID]bool{}, gone: map[index.ID]bool{}, retired: map[index.ID]bool{}, snaps: map[index.ID]bool{},
		used: map[index.SHA1]bool{}, usedCh: map[index.ID]bool{}, doomed: map[index.ID]bool{},
		moved: map[index.ID]bool{}, stored: map[string]bool{}, kept: map[index.SHA1]*indexStream{},
		back: &indexObject{}, sizes: map[index.ID]int64{}}
}

func (p *pruner) progress(stage string, done, total int64) {
	if p.opts.Progress != nil {
		p.opts.Progress(stage, done, total)
	}
}

// refuse ends a prune that found the used data incomplete.
func (p *pruner) refuse() error {
	n := len(p.missing)
	if n == 1 {
		return fmt.Errorf("%w: 1 problem, %q; nothing was changed: run 'wimsnap check' and 'wimsnap repair' first",
			ErrPruneRefused, p.missing[0])
	}
	return fmt.Errorf("%w: %d problems, such as %q; nothing was changed: run 'wimsnap check' and 'wimsnap repair' first",
		ErrPruneRefused, n, p.missing[:min(n, 5)])
}
