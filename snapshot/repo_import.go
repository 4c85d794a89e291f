package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// ImportOptions configures Repo.Import.
type ImportOptions struct {
	// Images lists the 1-based images to import; empty means all. An
	// image listed twice (by number and by name, say) is imported once.
	Images []int
	// Host is recorded in the snapshots; empty means os.Hostname.
	Host string
	// Tags label the snapshots.
	Tags []string
	// Threads is the number of hashing and compression goroutines.
	Threads int
	// Progress, if set, is called with the image being imported (its
	// number in the WIM), the bytes of its streams imported so far and
	// their total: with none before the first stream, then as streams are
	// read (a stream the repository has counts whole at once), from
	// Import's goroutine. Each image counts from 0.
	Progress func(image int, done, total int64)
	// Lock configures the shared lock the import holds.
	Lock LockOptions
	// Again imports every image anew. Without it an image of which an
	// imported snapshot exists already with the same metadata (SHA-1 of
	// the metadata resource, which covers every file's names, times and
	// contents), XML fields, host and tags, is not imported again, from
	// whichever file, at whichever image number it was imported: so that
	// an import that was interrupted can be run again to complete, and an
	// import of a WIM that moved or was copied does not double the
	// snapshots of its unchanged images.
	Again bool
}

// Imported is what Import did with one image.
type Imported struct {
	Image    int       // 1-based, in the WIM
	Manifest *Manifest // the snapshot of the image
	Existing bool      // the snapshot was there already (ImportOptions.Again)
	// Dropped counts the entries of a new snapshot's image that
	// wim.ParseMetadata leaves out for their names (wim.Metadata.Dropped):
	// the image is stored as the WIM holds it, and every restore of it
	// leaves them out, as wimlib-imagex does (DroppedError).
	Dropped int
}

// Import stores images of the WIM wr (read from the file named source) as
// snapshots, one per image, each committed on its own (packs, index
// object, manifest). Streams the repository has are not stored again;
// the others are read, checked against their SHA-1 and compressed in the
// repository's codec whatever the WIM's. The image's metadata resource is
// stored as it is, and its XML fields (WINDOWS included) go into the
// manifest, so an export gives the image back.
//
// It returns what it did with each image, in order, also when it fails:
// the images before the failing one are committed.
func (r *Repo) Import(ctx context.Context, wr *wim.Reader, source string, opts ImportOptions) ([]Imported, error) {
	images := distinct(opts.Images)
	if len(images) == 0 {
		for i := 1; i <= wr.ImageCount(); i++ {
			images = append(images, i)
		}
	}
	if opts.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name: %w", err)
		}
		opts.Host = h
	}
	abs, err := filepath.Abs(PlainPath(source))
	if err != nil {
		return nil, err
	}
	var out []Imported
	err = r.withShared(ctx, opts.Lock, func(lock *Lock) error {
		var done map[string][]*Manifest // see imported
		if !opts.Again {
			if done, err = r.imported(ctx); err != nil {
				return err
			}
		}
		// Once the lock is in place: does a prune run that will not wait
		// for it (repo_pack_fresh.go)? A prune that starts later does.
		salt, err := lock.pruneSeen(ctx)
		if err != nil {
			return err
		}
		for _, i := range images {
			res, err := r.importImage(ctx, wr, i, abs, &opts, lock, salt, done)
			if err != nil {
				return fmt.Errorf("%s: %w", source, err) // as apply names the WIM
			}
			out = append(out, res)
		}
		return nil
	})
	return out, err
}

// distinct returns list without repeats, in the order of first appearance.
func distinct(list []int) []int {
	var out []int
	for _, v := range list {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// imported returns the imported snapshots keyed by their metadata SHA-1,
// each key's in the order of time.
func (r *Repo) imported(ctx context.Context) (map[string][]*Manifest, error) {
	list, err := r.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	done := map[string][]*Manifest{}
	for _, m := range list {
		if m.IsImport() {
			done[m.Metadata.SHA1] = append(done[m.Metadata.SHA1], m)
		}
	}
	return done, nil
}

// sameImport reports whether the snapshot m is what importing again would
// store: the same host, tags and image fields (the metadata matched). The
// fields compare as the manifest stores them, in JSON.
func sameImport(m *Manifest, host string, tags []string, img ImageFields) bool {
	a, b := slices.Sorted(slices.Values(m.Tags)), slices.Sorted(slices.Values(tags))
	if m.Host != host || !slices.Equal(slices.Compact(a), slices.Compact(b)) {
		return false
	}
	x, err1 := json.Marshal(m.Image)
	y, err2 := json.Marshal(img)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// sameImported returns the snapshot of list (of one metadata SHA-1, in the
// order of time) that importing the image with fields img from source
// would store again (sameImport): the latest of source, else the latest of
// another; nil for none.
func sameImported(list []*Manifest, source string, opts *ImportOptions, img ImageFields) *Manifest {
	var other *Manifest
	for _, m := range slices.Backward(list) {
		if !sameImport(m, opts.Host, opts.Tags, img) {
			continue
		}
		if sameSource(m.Source, source) {
			return m
		}
		if other == nil {
			other = m
		}
	}
	return other
}

// importImage imports image i, unless done (see imported) holds a snapshot
// of it that sameImport takes for the same: the latest from the same
// source if there is one, else the latest. Its errors name the image.
func (r *Repo) importImage(ctx context.Context, wr *wim.Reader, i int, source string, opts *ImportOptions, lock *Lock,
	salt bool, done map[string][]*Manifest) (Imported, error) {
	start := time.Now()
	raw, err := wr.RawMetadata(i)
	if err != nil {
		return Imported{}, err // "image N metadata: ..."
	}
	info := wr.Image(i)
	img := imageFields(&info)
	img.Boot = int(wr.Header().BootIndex) == i
	src, sum := fmt.Sprintf("%s#%d", source, i), fmt.Sprintf("%x", sha1.Sum(raw))
	if m := sameImported(done[sum], src, opts, img); m != nil {
		return Imported{Image: i, Manifest: m, Existing: true}, nil
	}
	man := &Manifest{Host: opts.Host, Source: src, Kind: KindImport, Tags: opts.Tags, Image: img,
		Metadata: StreamRef{SHA1: sum, Size: int64(len(raw))}}
	dropped, err := r.importNew(ctx, wr, i, raw, man, opts, lock, salt, start)
	if err != nil {
		return Imported{}, fmt.Errorf("image %d: %w", i, err)
	}
	return Imported{Image: i, Manifest: man, Dropped: dropped}, nil
}

// importNew stores the streams of image i, whose metadata resource is
// raw, and commits man as its snapshot, setting its time and its summary
// (the run began at start); with salt, its packs get salt chunks. It
// returns the entries of the image that ParseMetadata left out.
func (r *Repo) importNew(ctx context.Context, wr *wim.Reader, i int, raw []byte, man *Manifest, opts *ImportOptions, lock *Lock,
	salt bool, start time.Time) (int, error) {
	md, err := wim.ParseMetadata(raw)
	if err != nil {
		return 0, err
	}
	return md.Dropped, r.storeImport(ctx, wr, i, raw, md, man, opts, lock, salt, start)
}

// storeImport is importNew once raw is parsed into md.
func (r *Repo) storeImport(ctx context.Context, wr *wim.Reader, i int, raw []byte, md *wim.Metadata, man *Manifest, opts *ImportOptions,
	lock *Lock, salt bool, start time.Time) error {
	db, err := r.syncedIndex(ctx)
	if err != nil {
		return err
	}
	if err := importSizes(wr, db, md); err != nil {
		closeIndex(db)
		return err
	}
	sink := newRepoSink(ctx, r, db, opts.Threads, salt)
	var progress func(done, total int64)
	if opts.Progress != nil {
		progress = func(done, total int64) { opts.Progress(i, done, total) }
	}
	counts, err := importStreams(ctx, wr, md, sink, progress)
	if err == nil {
		_, err = sink.AddStream(bytes.NewReader(raw), int64(len(raw)))
	}
	if err != nil {
		sink.abort()
		closeIndex(db)
		return err
	}
	obj, err := sink.finish()
	if err != nil {
		closeIndex(db)
		return err
	}
	man.Time = r.now().UTC()
	man.Summary = summary(counts, &sink.counts, time.Since(start))
	if err := lock.Err(); err != nil {
		closeIndex(db)
		return err
	}
	held := func() error { return lock.Confirm(ctx) }
	stored, id, err := r.commit(ctx, obj, man, r.redeclarer(ctx, db, obj, md, man), held)
	closeIndex(db)
	if err != nil {
		return err
	}
	r.recordSnapshot(obj, id, stored, encodeInfo(man), fileSet{}, nil)
	return nil
}

// importSizes sets the sizes of md's streams: wr's, and for a stream wr
// lacks (a delta WIM's, whose base holds it) the repository's, when its
// index db knows the stream; one that neither holds stays 0 (its import
// fails).
func importSizes(wr *wim.Reader, db *index.DB, md *wim.Metadata) error {
	lacking := false
	md.Streams(func(s *wim.Stream) {
		s.Size = wr.StreamSize(s.Hash)
		lacking = lacking || (!s.Hash.IsZero() && !wr.HasStream(s.Hash))
	})
	if !lacking {
		return nil
	}
	if err := setIndexSizes(db, md); err != nil {
		return err
	}
	md.Streams(func(s *wim.Stream) {
		if wr.HasStream(s.Hash) {
			s.Size = wr.StreamSize(s.Hash)
		}
	})
	return nil
}

// importStreams stores every stream of the image md, whose sizes are set
// (importSizes), from wr, counting as a capture does.
func importStreams(ctx context.Context, wr *wim.Reader, md *wim.Metadata, sink *repoSink, progress func(done, total int64)) (CaptureStats, error) {
	var st CaptureStats
	var todo []wim.Stream
	var total int64 // of the distinct streams
	seen := map[wim.Hash]bool{}
	links := map[uint64]bool{}
	_ = md.Visit(func(e *wim.Entry, _ func() string) error {
		switch {
		case e.IsDir():
			st.Dirs++
		case e.IsReparse():
			st.Symlinks++
		case unixSpecialType(e) != 0:
			st.Special++
		default:
			st.Files++
			if e.LinkID == 0 || !links[e.LinkID] { // as a capture counts: once per inode
				links[e.LinkID] = true
				st.Bytes += e.Data.Size
			}
		}
		for _, s := range entryStreams(e) {
			if !s.Hash.IsZero() && !seen[s.Hash] {
				seen[s.Hash] = true
				total += s.Size
				todo = append(todo, s)
			}
		}
		return nil
	})
	solidOrder(wr, todo)
	var done int64
	report := func(n int64) {
		done += n
		progress(done, total)
	}
	if progress == nil {
		report = nil
	} else {
		report(0) // the total, before the first stream ends
	}
	for _, s := range todo {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if sink.HasStream(s.Hash) {
			st.Reused++
			if report != nil {
				report(s.Size)
			}
			continue
		}
		if err := importStream(wr, sink, s, report); err != nil {
			return st, fmt.Errorf("%s (stream %x): %w", streamPath(md, s.Hash), s.Hash, err)
		}
		st.Read++
		st.BytesRead += s.Size
	}
	return st, nil
}

// solidOrder sorts streams so that those in solid resources come last, in
// the order of their bytes there (wim.Reader.SolidOrder), the others
// staying in their order: read in the tree's order, a solid WIM's streams
// would decompress its 64 MiB chunks again and again (minutes for what
// takes seconds).
func solidOrder(wr *wim.Reader, streams []wim.Stream) {
	slices.SortStableFunc(streams, func(a, b wim.Stream) int {
		ra, sa := wr.SolidOrder(a.Hash)
		rb, sb := wr.SolidOrder(b.Hash)
		if sa != sb {
			if sa {
				return 1
			}
			return -1
		}
		return cmp.Compare(ra, rb)
	})
}

// importStream stores the stream s of wr through sink, telling report (if
// not nil) the bytes read as it goes.
func importStream(wr *wim.Reader, sink *repoSink, s wim.Stream, report func(int64)) error {
	rc, err := wr.OpenStream(s.Hash)
	if err != nil {
		return err
	}
	defer closeRead(rc)
	var r io.Reader = rc
	if report != nil {
		r = &progressReader{r: rc, add: report}
	}
	h, err := sink.AddStream(r, s.Size)
	if err != nil {
		return err
	}
	if h != s.Hash {
		// The stream's reader, read to its end, says so naming the file
		// the stream lies in (a part of a split WIM, a --ref WIM).
		var one [1]byte
		if _, err := rc.Read(one[:]); err != nil && err != io.EOF {
			return err
		}
		return fmt.Errorf("%w: reads back as %x", wim.ErrChecksum, h)
	}
	return nil
}

// errFound stops a walk or a listing that found what it looked for.
var errFound = errors.New("found")

// streamPath returns the path of the first entry of md that holds the
// stream h, for a message: the walk runs only when a stream failed.
func streamPath(md *wim.Metadata, h wim.Hash) string {
	found := "?"
	_ = md.Visit(func(e *wim.Entry, path func() string) error {
		for _, s := range entryStreams(e) {
			if s.Hash == h {
				found = path()
				return errFound
			}
		}
		return nil
	})
	return found
}
