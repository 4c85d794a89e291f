package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// ExportOptions configures Repo.Export.
type ExportOptions struct {
	// Threads compresses streams that must be recompressed; 0 means
	// GOMAXPROCS.
	Threads int
	// Check writes an integrity table.
	Check bool
	// BootIndex marks image BootIndex (1-based) bootable. 0 marks the
	// first snapshot imported as the boot image of its WIM (Image.Boot),
	// if any, so that an import and export give a boot WIM back whole;
	// a negative BootIndex marks none.
	BootIndex int
	// Progress, if set, is called with the stream bytes written so far
	// and the total of every snapshot's distinct streams: with none done
	// first, then as chunks are written, from Export's goroutine.
	Progress func(done, total int64)
	// IntegrityProgress, if set, is called as Progress is while the
	// integrity table is computed (Check), after the last stream: a read
	// of the whole WIM, counted in bytes of it from none to the total.
	IntegrityProgress func(done, total int64)
	// Lock configures the shared lock the export holds.
	Lock LockOptions
	// CreateTemp, if set, creates the file the WIM is written to, in the
	// directory of the export's path, before it is renamed to that path;
	// by default an os.CreateTemp file named after the path.
	CreateTemp func(path string) (*os.File, error)
	// PlaceTemp, if set, gives the complete and synced file that
	// CreateTemp made its final name, path, and closes it; by default the
	// file is closed, then renamed.
	PlaceTemp func(tmp *os.File, path string) error
}

// ExportStats counts how an export wrote its streams.
type ExportStats struct {
	Images       int   `json:"images"`
	Streams      int64 `json:"streams"`
	Bytes        int64 `json:"bytes"`
	CopiedChunks int64 `json:"chunks_copied"`
	Recompressed int64 `json:"streams_recompressed"`
	// Expanded counts the streams copied that were expanded to check
	// them, rather than vouched for by their packs (packSeals): those
	// resolved from deltas, and those with chunks in a damaged pack.
	Expanded int64 `json:"streams_expanded"`
	Size     int64 `json:"wim_size"`
	// BootIndex is the image marked bootable (1-based), 0 for none.
	BootIndex int `json:"boot_index"`
}

// Export writes the snapshots, in order, as the images of a new WIM file
// at path, in the repository's codec. Stored chunks are copied byte for
// byte; only a stream with chunks in another codec (from an import) is
// decompressed and compressed again. The WIM is written to a temporary
// file beside path and renamed into place when complete.
func (r *Repo) Export(ctx context.Context, snaps []*Manifest, path string, opts ExportOptions) (ExportStats, error) {
	var res ExportStats
	err := r.withShared(ctx, opts.Lock, func(*Lock) error {
		return r.retryCorrupt(ctx, func() (err error) {
			res, err = r.export(ctx, snaps, path, opts)
			if _, local := r.store.(remote.Opener); errors.Is(err, errStreamDamaged) && !local && ctx.Err() == nil {
				// The damage may have been on the wire, as restore
				// allows: the export runs once more, fetching afresh.
				if r.warn != nil {
					r.warn(fmt.Errorf("%w; exporting again, reading the packs afresh", err))
				}
				res, err = r.export(ctx, snaps, path, opts)
			}
			return err
		})
	})
	return res, err
}

func (r *Repo) export(ctx context.Context, snaps []*Manifest, path string, opts ExportOptions) (ExportStats, error) {
	var st ExportStats
	db, err := r.syncedIndex(ctx)
	if err != nil {
		return st, err
	}
	defer closeIndex(db)
	db.ReadAhead() // an export looks up every chunk it copies
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return st, fmt.Errorf("export: %s is a directory", path)
	} else if err == nil && !fi.Mode().IsRegular() {
		return st, fmt.Errorf("export: %s is not a regular file", path) // renaming over it would destroy it
	}
	create := opts.CreateTemp
	if create == nil {
		create = func(path string) (*os.File, error) {
			return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
		}
	}
	tmp, err := create(path)
	if err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	ex := &exporter{ctx: ctx, r: r, src: r.newSource(ctx, db), opts: opts, stats: &st}
	defer ex.src.close()
	if ex.chunks, err = db.ChunkView(); err != nil {
		return st, err
	}
	defer func() { _ = ex.chunks.Close() }() // a read transaction: nothing to lose
	ex.check = newStreamChecker(ex.src, newPackSeals(ex.src.packs, r.zstd))
	out := &WritebackFile{File: tmp}
	err = ex.write(out, snaps)
	if cerr := ex.check.wait(); err == nil {
		err = cerr
	}
	if serr := out.Settle(); err == nil && serr != nil {
		err = fmt.Errorf("export: %w", serr)
	}
	st.Expanded = ex.check.expanded.Load()
	if err != nil {
		return st, err
	}
	if err := tmp.Sync(); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	if fi, err := tmp.Stat(); err == nil {
		st.Size = fi.Size()
	}
	place := opts.PlaceTemp
	if place == nil {
		place = closeRename
	}
	if err := place(tmp, path); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	ok = true
	if err := remote.SyncDir(filepath.Dir(path)); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	return st, nil
}

// closeRename closes tmp, then renames it to path: ExportOptions.PlaceTemp
// by default.
func closeRename(tmp *os.File, path string) error {
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// exporter is the state of one Export.
type exporter struct {
	ctx   context.Context
	r     *Repo
	src   *repoSource
	opts  ExportOptions
	stats *ExportStats
	done  int64
	total int64
	// planned says total holds every image's streams (plan), not only
	// those of the images begun.
	planned bool
	check   *streamChecker
	chunks  *index.ChunkView // the export's look-ups of chunks, in one read transaction
	cur     chunkCursor      // the stream being copied
}

func (ex *exporter) write(f io.WriteSeeker, snaps []*Manifest) error {
	wopts := []wim.WriterOption{wim.WithCompression(ex.r.codec), wim.WithIntegrity(ex.opts.Check)}
	if ex.opts.IntegrityProgress != nil {
		wopts = append(wopts, wim.WithIntegrityProgress(ex.opts.IntegrityProgress))
	}
	if ex.opts.Threads > 0 {
		wopts = append(wopts, wim.WithThreads(ex.opts.Threads))
	}
	if boot := bootIndex(ex.opts.BootIndex, snaps); boot > 0 {
		wopts = append(wopts, wim.WithBootIndex(boot))
		ex.stats.BootIndex = boot
	}
	w, err := wim.NewWriter(f, wopts...)
	if err != nil {
		return err
	}
	if ex.opts.Progress != nil && len(snaps) > 1 {
		if err := ex.plan(snaps); err != nil {
			_ = w.Abort()
			return err
		}
	}
	names := map[string]bool{}
	for _, m := range snaps {
		if err := ex.image(w, m, names); err != nil {
			_ = w.Abort()
			return err
		}
	}
	return w.CloseContext(ex.ctx)
}

// bootIndex returns the image of an export of snaps to mark bootable, 0
// for none, from ExportOptions.BootIndex opt.
func bootIndex(opt int, snaps []*Manifest) int {
	if opt != 0 {
		return max(opt, 0)
	}
	return slices.IndexFunc(snaps, func(m *Manifest) bool { return m.Image.Boot }) + 1
}

// image adds one snapshot as an image: its streams, then its metadata.
func (ex *exporter) image(w *wim.Writer, m *Manifest, names map[string]bool) error {
	md, err := ex.r.loadMetadata(ex.ctx, ex.src.db, m)
	if err != nil {
		return err
	}
	var hashes []wim.Hash
	seen := map[wim.Hash]bool{} // a hard link's or copy's stream is written once
	_ = md.Visit(func(e *wim.Entry, _ func() string) error {
		for _, s := range entryStreams(e) {
			if !s.Hash.IsZero() && !seen[s.Hash] && !w.HasStream(s.Hash) {
				seen[s.Hash] = true
				hashes = append(hashes, s.Hash)
				if !ex.planned {
					ex.total += s.Size
				}
			}
		}
		return nil
	})
	ex.progress(0) // the total, before the first stream ends
	ex.packOrder(hashes)
	for _, h := range hashes {
		if err := ex.stream(w, h); err != nil {
			return fmt.Errorf("snapshot %s: %w", m.ShortID(), err)
		}
	}
	info := m.Image.info()
	if info.CreationTime == 0 {
		info.CreationTime = wim.FiletimeFromTime(m.Time)
	}
	info.Name = uniqueName(names, info.Name, m.ShortID())
	names[info.Name] = true
	ex.stats.Images++
	return w.AddImage(md, info)
}

// uniqueName returns name when names lacks it, else name with the short
// id appended ("golden (1a2b3c4d)"), and a count after it while that is
// taken too ("golden (1a2b3c4d 2)": the same snapshot named again, or an
// imported image that bore that name). Unnamed images may be several, as
// in wimlib: "" stays "".
func uniqueName(names map[string]bool, name, id string) string {
	if name == "" || !names[name] {
		return name
	}
	unique := name + " (" + id + ")"
	for n := 2; names[unique]; n++ {
		unique = fmt.Sprintf("%s (%s %d)", name, id, n)
	}
	return unique
}

// packOrder sorts the streams hashes, from a store whose packs are
// fetched, by where their last chunks lie (repoSource.packRank), so that
// the packs are fetched once each: in the tree's order an export fetched
// each pack whole tens of times (2.2 GiB for a 201 MiB repository). Those
// the index cannot place go last, in their order (their error comes when
// they are copied).
func (ex *exporter) packOrder(hashes []wim.Hash) {
	ranks := make(map[wim.Hash]int, len(hashes))
	for _, h := range hashes {
		r, ok := ex.src.packRank(h)
		if !ok {
			if ex.src.packs.opener != nil {
				return // a local store: the tree's order costs nothing
			}
			r = math.MaxInt
		}
		ranks[h] = r
	}
	slices.SortStableFunc(hashes, func(a, b wim.Hash) int { return cmp.Compare(ranks[a], ranks[b]) })
}

// plan sets the total to the size of the distinct streams of all snaps,
// so that the progress of an export of several does not fall back as each
// image adds its own; it reads each image's metadata once more (from the
// local cache, mostly).
func (ex *exporter) plan(snaps []*Manifest) error {
	sizes := map[wim.Hash]int64{}
	for _, m := range snaps {
		md, err := ex.r.loadMetadata(ex.ctx, ex.src.db, m)
		if err != nil {
			return err
		}
		md.Streams(func(s *wim.Stream) {
			if !s.Hash.IsZero() {
				sizes[s.Hash] = s.Size
			}
		})
	}
	for _, n := range sizes {
		ex.total += n
	}
	ex.planned = true
	return nil
}

// entryStreams lists the streams of an entry: data, named, reparse.
func entryStreams(e *wim.Entry) []wim.Stream {
	out := append([]wim.Stream{e.Data}, e.NamedStreams()...)
	return append(out, e.ReparseStream())
}

// stream adds the stream h: copied when every chunk is raw or in the
// WIM's codec, recompressed otherwise.
func (ex *exporter) stream(w *wim.Writer, h wim.Hash) error {
	if w.HasStream(h) {
		return nil
	}
	if err := ex.ctx.Err(); err != nil {
		return err
	}
	rec, ok, err := ex.src.db.Stream(index.SHA1(h))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: stream %x is not in the repository's index", errIndexMiss, h)
	}
	ex.stats.Streams++
	ex.stats.Bytes += rec.Size
	locs, err := ex.locate(rec)
	if err != nil {
		return err
	}
	if locs == nil {
		ex.stats.Recompressed++
		rc, err := ex.src.OpenStream(h)
		if err != nil {
			return err
		}
		defer closeRead(rc)
		_, err = w.AddStream(&progressReader{r: rc, add: ex.progress}, rec.Size)
		return err
	}
	c := &ex.cur // its buffers kept for the next stream
	*c = chunkCursor{src: ex.src, hash: h, chunks: rec.Chunks, known: locs, run: c.run[:0], locs: c.locs[:0]}
	var check *streamCheck
	if rec.Deltas > 0 {
		check = ex.check.start(h) // no pack vouches for a delta's positions
	} else {
		ex.check.vouch(h, rec, locs)
	}
	err = w.AddRawStream(h, rec.Size, func(buf []byte) ([]byte, error) {
		stored, _, l, err := c.nextStored()
		if err != nil {
			return nil, err
		}
		if check != nil {
			check.add(stored, l)
		}
		ex.stats.CopiedChunks++
		ex.progress(int64(l.Raw))
		return append(buf, stored...), nil
	})
	if check != nil {
		check.done()
	}
	if err != nil {
		return err
	}
	return ex.check.failed() // an earlier stream's, to stop early
}

// locate returns the locations of rec's chunks, in order, or nil when a
// chunk is stored in another codec than the WIM's, so that the stream
// cannot be copied as stored.
func (ex *exporter) locate(rec index.Recipe) ([]index.Location, error) {
	locs := ex.check.spareLocs(len(rec.Chunks))
	for _, id := range rec.Chunks {
		l, ok, err := ex.chunks.Chunk(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: chunk %x is not in the repository's index", errIndexMiss, id[:8])
		}
		if l.Stored != l.Raw && wim.Compression(l.Codec) != ex.r.codec {
			return nil, nil
		}
		locs = append(locs, l)
	}
	return locs, nil
}

func (ex *exporter) progress(n int64) {
	ex.done += n
	if ex.opts.Progress != nil {
		ex.opts.Progress(ex.done, ex.total)
	}
}
