package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// ErrCheckFailed is returned by Check when it found damage.
var ErrCheckFailed = errors.New("snapshot: repository check found problems")

// maxPack bounds a pack read whole by check --read-data.
const maxPack = 1 << 30

// CheckOptions configures Repo.Check.
type CheckOptions struct {
	// ReadData reads every pack, checking its id, its trailer and every
	// chunk's id after decompression.
	ReadData bool
	// Progress, if set, is called with the packs read so far.
	Progress func(done, total int64)
}

// CheckResult is what Check found. Problems name the object (and for
// snapshots the file) concerned.
type CheckResult struct {
	Snapshots    int      `json:"snapshots"`
	Packs        int      `json:"packs"`
	Chunks       int      `json:"chunks"`
	Streams      int      `json:"streams_checked"`
	PacksRead    int      `json:"packs_read"`
	Unreferenced int      `json:"unreferenced_packs"`
	Problems     []string `json:"problems"`
	// Damaged lists the snapshots (ids) that cannot be restored whole.
	Damaged []string `json:"damaged_snapshots"`
}

// checker is the state of one Check.
type checker struct {
	ctx   context.Context
	r     *Repo
	db    *index.DB
	res   *CheckResult
	packs map[index.ID]int64  // packs in the store, with sizes
	bad   map[index.ID]string // chunks known damaged, with why
	seen  map[wim.Hash]string // streams checked: "" ok, else why not
}

func (c *checker) problem(format string, args ...any) {
	c.res.Problems = append(c.res.Problems, fmt.Sprintf(format, args...))
}

// Check verifies the repository's structure: every index object and
// manifest reads and parses, every chunk the index names lies inside a
// pack that exists, every snapshot's metadata reads and every stream it
// uses resolves to chunks; with ReadData every pack's bytes are checked
// too. The error wraps ErrCheckFailed when problems were found.
func (r *Repo) Check(ctx context.Context, opts CheckOptions) (CheckResult, error) {
	res := CheckResult{Problems: []string{}, Damaged: []string{}}
	c := &checker{ctx: ctx, r: r, res: &res, bad: map[index.ID]string{}, seen: map[wim.Hash]string{}}
	if _, err := r.Sync(ctx, func(err error) { c.problem("%v", err) }); err != nil {
		return res, err
	}
	db, err := r.openIndex(true)
	if err != nil {
		return res, err
	}
	defer closeIndex(db)
	c.db = db
	if c.packs, err = listIDs(ctx, r.store, packPrefix); err != nil {
		return res, err
	}
	res.Packs = len(c.packs)
	steps := []func() error{c.chunks}
	if opts.ReadData {
		steps = append(steps, func() error { return c.readPacks(opts.Progress) })
	}
	steps = append(steps, c.snapshots)
	for _, step := range steps {
		if err := step(); err != nil {
			return res, err
		}
	}
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("%w: %d problems", ErrCheckFailed, len(res.Problems))
	}
	return res, nil
}

// chunks checks that every chunk lies inside an existing pack.
func (c *checker) chunks() error {
	used := map[index.ID]bool{}
	err := c.db.ForEachChunk(func(id index.ID, l index.Location) error {
		c.res.Chunks++
		used[l.Pack] = true
		size, ok := c.packs[l.Pack]
		switch {
		case !ok:
			c.bad[id] = "pack " + hexID(l.Pack) + " is missing"
		case int64(l.Offset)+int64(l.Stored) > size:
			c.bad[id] = "pack " + hexID(l.Pack) + " is truncated"
		}
		return nil
	})
	if err != nil {
		return err
	}
	missing := map[string]int{}
	for _, why := range c.bad {
		missing[why]++
	}
	for _, why := range slices.Sorted(mapKeys(missing)) {
		c.problem("%s (%d chunks)", why, missing[why])
	}
	for id := range c.packs {
		if !used[id] {
			c.res.Unreferenced++
		}
	}
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func hexID(id index.ID) string { return hex.EncodeToString(id[:]) }

// readPacks reads every pack whole and checks it.
func (c *checker) readPacks(progress func(done, total int64)) error {
	ids := slices.SortedFunc(mapKeys(c.packs), func(a, b index.ID) int { return bytes.Compare(a[:], b[:]) })
	decs := &decoders{}
	for i, id := range ids {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if progress != nil {
			progress(int64(i), int64(len(ids)))
		}
		c.res.PacksRead++
		if err := c.readPack(id, decs); err != nil {
			if !errors.Is(err, ErrRepoFormat) && !errors.Is(err, remote.ErrNotFound) {
				return err
			}
			c.problem("pack %s: %v", hexID(id), err)
		}
	}
	if progress != nil {
		progress(int64(len(ids)), int64(len(ids)))
	}
	return nil
}

// readPack checks one pack: its id, its trailer, each chunk's id. Chunks
// found damaged are marked in c.bad.
func (c *checker) readPack(id index.ID, decs *decoders) error {
	data, err := remote.ReadAll(c.ctx, c.r.store, packKey(id), maxPack)
	if err != nil {
		return err
	}
	if sha256.Sum256(data) != id {
		c.markPack(id, "pack "+hexID(id)+" is corrupt")
	}
	entries, err := parsePackBytes(c.r.zstd, data)
	if err != nil {
		c.markPack(id, "pack "+hexID(id)+" is unreadable")
		return err
	}
	var raw []byte
	for _, e := range entries {
		raw, err = decs.expandChunk(raw, data[e.offset:e.offset+uint64(e.stored)], int(e.raw), e.codec)
		if err == nil && (len(raw) != int(e.raw) || sha256.Sum256(raw) != e.id) {
			err = fmt.Errorf("%w: contents do not match the id", ErrRepoFormat)
		}
		if err != nil {
			c.bad[e.id] = "chunk " + hexID(e.id)[:16] + " in pack " + hexID(id)[:16] + " is corrupt"
			c.problem("pack %s: chunk %s: %v", hexID(id), hexID(e.id), err)
		}
	}
	return nil
}

// markPack marks every chunk the index places in pack id as damaged.
func (c *checker) markPack(id index.ID, why string) {
	_ = c.db.ForEachChunk(func(cid index.ID, l index.Location) error {
		if l.Pack == id {
			c.bad[cid] = why
		}
		return nil
	})
	c.problem("%s", why)
}

// parsePackBytes parses the trailer of a whole pack in memory.
func parsePackBytes(z *zcodec, data []byte) ([]packEntry, error) {
	if len(data) < packFooterLen || string(data[len(data)-len(packMagic):]) != packMagic {
		return nil, fmt.Errorf("%w: no pack footer", ErrRepoFormat)
	}
	tl := uint64(binary.LittleEndian.Uint32(data[len(data)-packFooterLen:]))
	if tl > uint64(len(data)-packFooterLen) {
		return nil, fmt.Errorf("%w: trailer of %d bytes", ErrRepoFormat, tl)
	}
	dataLen := uint64(len(data)-packFooterLen) - tl
	t, err := z.expand(data[dataLen:dataLen+tl], "pack trailer")
	if err != nil {
		return nil, err
	}
	return parsePackTrailer(t, dataLen)
}

// snapshots checks that every snapshot's metadata and streams resolve.
func (c *checker) snapshots() error {
	list, err := c.r.Snapshots(c.ctx)
	if err != nil {
		return err
	}
	c.res.Snapshots = len(list)
	for _, m := range list {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if !c.snapshot(m) {
			c.res.Damaged = append(c.res.Damaged, m.ID)
		}
	}
	return nil
}

// snapshot checks one snapshot and reports whether it is whole.
func (c *checker) snapshot(m *Manifest) bool {
	h, err := m.hash()
	if err == nil {
		if why := c.stream(h); why != "" {
			err = errors.New(why)
		}
	}
	var md *wim.Metadata
	if err == nil {
		md, err = c.r.loadMetadata(c.ctx, c.db, m)
	}
	if err != nil {
		c.problem("snapshot %s: metadata: %v", m.ShortID(), err)
		return false
	}
	ok := true
	_ = md.Walk(func(p string, e *wim.Entry) error {
		for _, s := range entryStreams(e) {
			if s.Hash.IsZero() {
				continue
			}
			if why := c.stream(s.Hash); why != "" {
				c.problem("snapshot %s: %s: %s", m.ShortID(), p, why)
				ok = false
			}
		}
		return nil
	})
	return ok
}

// stream reports why stream h cannot be read, "" when it can.
func (c *checker) stream(h wim.Hash) string {
	if why, ok := c.seen[h]; ok {
		return why
	}
	c.res.Streams++
	why := c.streamProblem(h)
	c.seen[h] = why
	return why
}

func (c *checker) streamProblem(h wim.Hash) string {
	rec, ok, err := c.db.Stream(index.SHA1(h))
	if err != nil {
		return err.Error()
	}
	if !ok {
		return fmt.Sprintf("stream %x is in no index object", h)
	}
	for _, id := range rec.Chunks {
		if why := c.bad[id]; why != "" {
			return why
		}
		if _, ok, err := c.db.Chunk(id); err != nil || !ok {
			return fmt.Sprintf("chunk %s of stream %x is in no index object", hexID(id)[:16], h)
		}
	}
	return ""
}
