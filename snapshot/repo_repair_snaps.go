package snapshot

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// Repair's snapshots: which lost files, written again without them.

// repairedTag marks a snapshot written again without its lost files.
const repairedTag = "repaired"

// snapshots looks at every snapshot: one whose manifest or image is lost
// is removed, one that lost files is written again without them.
func (rp *repairer) snapshots() error {
	ids, err := listIDs(rp.ctx, rp.r.store, snapPrefix)
	if err != nil {
		return err
	}
	sorted := slices.SortedFunc(mapKeys(ids), index.ID.Compare)
	for i, id := range sorted {
		rp.progress("reading snapshots", int64(i), int64(len(sorted)))
		m, _, err := rp.r.readManifest(rp.ctx, id)
		if err != nil {
			if !damage(err) {
				return err
			}
			if m, err = rp.putBackManifest(id, err); err != nil {
				if !damage(err) {
					return err
				}
				rp.lose(id, RepairedSnapshot{ID: hexID(id), Removed: true, LostFiles: []string{}, Why: err.Error()})
				continue
			}
		}
		if err := rp.snapshot(id, m); err != nil {
			return err
		}
	}
	return nil
}

// putBackManifest returns manifest id, damaged in the repository (lost),
// from the local index's copy when that hashes to id, and stores the copy
// over the damaged one unless a dry run. Without such a copy it returns
// lost.
func (rp *repairer) putBackManifest(id index.ID, lost error) (*Manifest, error) {
	stored := rp.cachedManifest(id)
	if stored == nil {
		return nil, lost
	}
	m, err := rp.r.decodeManifest(id, stored)
	if err != nil {
		return nil, lost
	}
	if !rp.opts.DryRun {
		if err := putBytes(rp.ctx, rp.r.store, snapKey(id), stored); err != nil {
			return nil, fmt.Errorf("putting back manifest %s: %w", hexID(id), err)
		}
	}
	rp.res.Manifests = append(rp.res.Manifests, hexID(id))
	return m, nil
}

// cachedManifest returns the local index's copy of manifest id when it
// hashes to id, or nil. The index is only read, and a failure to open it
// (none, busy, damaged) is a miss.
func (rp *repairer) cachedManifest(id index.ID) []byte {
	db, err := index.Open(rp.r.cache, rp.r.cfg.ID, index.Options{ReadOnly: true, Timeout: writeWait})
	if err != nil {
		return nil
	}
	defer closeIndex(db)
	return cachedManifest(db, id)
}

// cachedManifest returns db's copy of manifest id when it hashes to id,
// or nil (a failure to read db is a miss).
func cachedManifest(db *index.DB, id index.ID) []byte {
	var stored []byte
	_ = db.Snapshots(func(got index.ID, b []byte) error {
		if got == id && objectID(b) == id {
			stored = slices.Clone(b) // b lives as long as the transaction
		}
		return nil
	})
	return stored
}

// lose records a snapshot that lost data, to be deleted unless a dry run.
func (rp *repairer) lose(id index.ID, rs RepairedSnapshot) {
	rp.res.Snapshots = append(rp.res.Snapshots, rs)
	rp.replaced[id] = true
}

// snapshot checks one snapshot's image and files. A snapshot whose image
// came from the local cache is written again even when it lost no file,
// so that the repository holds its image once more.
func (rp *repairer) snapshot(id index.ID, m *Manifest) error {
	h, err := m.hash()
	var md *wim.Metadata
	var cached bool
	size := m.Metadata.Size
	resized := false // the manifest's size is not the index's: the image is read by the index's
	if s := rp.streams.streams[index.SHA1(h)]; err == nil && s != nil && s.size != size {
		size, resized = s.size, true
	}
	if err == nil {
		md, cached, err = rp.image(h, size)
	}
	if err != nil {
		if !damage(err) {
			return err
		}
		rp.lose(id, RepairedSnapshot{ID: m.ID, Removed: true, LostFiles: []string{}, Why: "its image: " + err.Error()})
		return nil
	}
	lost := []string{}
	sum := m.Summary
	rp.dropLost(md.Root, "", &lost, &sum)
	if len(lost) == 0 && !cached && !resized {
		return nil
	}
	sum.Bytes = rp.keptBytes(md.Root) // an image read alone has no sizes
	m.Summary = sum                   // what the rewritten image holds
	rs := RepairedSnapshot{ID: m.ID, LostFiles: lost}
	switch {
	case cached:
		rs.Why = "its image was lost and is stored again from the local cache"
	case resized:
		rs.Why = fmt.Sprintf("its manifest gave its image %d bytes, which are %d", m.Metadata.Size, size)
	}
	if !rp.opts.DryRun {
		if rs.NewID, err = rp.rewrite(m, md); err != nil {
			return err
		}
	}
	rp.lose(id, rs)
	return nil
}

// dropLost removes from dir's tree the files whose data is not intact,
// adding their paths to lost and taking them out of sum's counts; a
// directory whose own streams are lost stays, and is listed.
func (rp *repairer) dropLost(dir *wim.Entry, path string, lost *[]string, sum *RunSummary) {
	kept := dir.Children[:0]
	for _, c := range dir.Children {
		p := path + "/" + c.Name
		switch {
		case c.IsDir():
			if rp.entryLost(c) {
				*lost = append(*lost, p+"/ (its named streams or reparse data)")
			}
			rp.dropLost(c, p, lost, sum)
		case rp.entryLost(c):
			*lost = append(*lost, p)
			switch {
			case c.IsReparse():
				sum.Symlinks--
			case unixSpecialType(c) != 0:
				sum.Special--
			default:
				sum.Files--
			}
			continue
		}
		kept = append(kept, c)
	}
	dir.Children = kept
}

// keptBytes sums the sizes of the regular files in dir's tree (each name
// of a hard-linked one, as a capture counts them), as the index gives them:
// every file left is intact.
func (rp *repairer) keptBytes(dir *wim.Entry) int64 {
	var n int64
	for _, c := range dir.Children {
		switch {
		case c.IsDir():
			n += rp.keptBytes(c)
		case c.IsReparse(), unixSpecialType(c) != 0, c.Data.Hash.IsZero():
		default:
			if s := rp.streams.streams[index.SHA1(c.Data.Hash)]; s != nil {
				n += s.size
			}
		}
	}
	return n
}

// entryLost reports whether a stream of e is not intact.
func (rp *repairer) entryLost(e *wim.Entry) bool {
	for _, s := range entryStreams(e) {
		if !s.Hash.IsZero() && !rp.intact(index.SHA1(s.Hash)) {
			return true
		}
	}
	return false
}

// image returns the image h, of size bytes, read from its intact chunks
// or, when they are lost, from the local cache of recent images (cached),
// whose files are used only when they hash to their names.
func (rp *repairer) image(h wim.Hash, size int64) (md *wim.Metadata, cached bool, err error) {
	b, err := rp.readStream(h, size)
	if err == nil {
		md, err = wim.ParseMetadata(b)
		return md, false, err
	}
	if !damage(err) {
		return nil, false, err
	}
	if cmd, _, hit, cerr := rp.r.metaCache().load(h, size, index.Generation{}); hit && cerr == nil {
		return cmd, true, nil
	}
	return nil, false, err
}

// readStream reads stream h, of size bytes, from its intact chunks.
func (rp *repairer) readStream(h wim.Hash, size int64) ([]byte, error) {
	if size > maxMetadata {
		return nil, fmt.Errorf("%w: stream %x: %d bytes", ErrRepoFormat, h, size)
	}
	if !rp.intact(index.SHA1(h)) {
		return nil, fmt.Errorf("%w: stream %x is lost", ErrRepoFormat, h)
	}
	decs := &decoders{}
	out := make([]byte, 0, size)
	var raw []byte
	chunks, _ := rp.streams.chunks(index.SHA1(h)) // intact: it resolves
	for _, c := range slices.Clone(chunks) {
		l := rp.good[c]
		stored, err := getRange(rp.ctx, rp.r.store, packKey(l.Pack), int64(l.Offset), int64(l.Stored))
		if err != nil {
			return nil, err
		}
		if raw, err = decs.expandChunk(raw, stored, int(l.Raw), l.Codec); err != nil {
			return nil, err
		}
		out = append(out, raw...)
	}
	if int64(len(out)) != size || wim.Hash(sha1.Sum(out)) != h {
		return nil, fmt.Errorf("%w: stream %x does not match its SHA-1", ErrRepoFormat, h)
	}
	return out, nil
}

// rewrite stores md as the image of a new snapshot that is m without its
// lost files, tagged "repaired", and returns the new snapshot's id.
func (rp *repairer) rewrite(m *Manifest, md *wim.Metadata) (string, error) {
	meta, err := md.Marshal()
	if err != nil {
		return "", err
	}
	sink := newRepoSink(rp.ctx, rp.r, nil, 0, false) // under an exclusive lock: no prune runs
	h, err := sink.AddStream(bytes.NewReader(meta), int64(len(meta)))
	if err != nil {
		sink.abort()
		return "", err
	}
	obj, err := sink.finish()
	if err != nil {
		return "", err
	}
	nm := *m
	nm.ID = ""
	nm.Tags = append(slices.DeleteFunc(slices.Clone(m.Tags), func(t string) bool { return t == repairedTag }), repairedTag)
	nm.Metadata = StreamRef{SHA1: fmt.Sprintf("%x", h), Size: int64(len(meta))}
	if err := rp.lock.Err(); err != nil {
		return "", err
	}
	_, id, err := rp.r.commit(rp.ctx, obj, &nm, nil, rp.lock.Err) // the exclusive lock: no prune runs
	if err != nil {
		return "", err
	}
	// What the new image took is intact, for the new index.
	rp.rewritten += len(obj.packs)
	for _, pk := range obj.packs {
		for _, e := range pk.entries {
			rp.good[e.id] = index.Location{Pack: pk.id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
		}
	}
	for i := range obj.streams {
		rp.streams.streams[obj.streams[i].hash] = &obj.streams[i] // their chunks are set
	}
	return hexID(id), nil
}
