package snapshot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// A pack's id is the hash of its bytes, so a snapshot can build a pack
// whose key the store holds already, though the snapshot's local index
// does not know it (else the snapshot would not have stored its chunks):
// a pack a prune has condemned (its data was only forgotten snapshots'),
// a pack of a run that died before its index object, or one another
// machine stored a moment ago from the same big file (packs of a stream
// of their own depend on the stream alone). Overwriting the first two
// loses data: a prune running beside the snapshot deletes the condemned
// key after the snapshot stored its bytes there, and the snapshot
// commits a manifest naming them. So a pack whose key exists is stored
// under another key: the same chunks plus a salt chunk (saltLen random
// bytes under their own SHA-256, raw), which nothing uses and prune
// drops. A key that does not exist is safe to take: a prune condemns
// only packs it listed, and deletes each once, so one absent now is one
// it has done with. Two machines that store the same pack at the same
// moment still share one key; a third that comes after them stores a
// salted copy.

// saltLen is the size of a salt chunk.
const saltLen = 32

// freshPack returns the pack to store for the finished pack f, whose id
// is id and whose chunks are entries: f itself when the store has no
// object under its key, else a salted copy, in a new spool file. The
// caller closes the spool file returned; f is closed unless it is the one
// returned.
func (r *Repo) freshPack(ctx context.Context, f *spoolFile, id index.ID, entries []packEntry) (*spoolFile, index.ID, []packEntry, error) {
	_, err := r.store.Stat(ctx, packKey(id))
	if errors.Is(err, remote.ErrNotFound) {
		return f, id, entries, nil
	}
	defer func() { _ = f.Close() }() // a spool file: nothing to lose
	if err != nil {
		return nil, index.ID{}, nil, fmt.Errorf("looking for pack %s: %w", hexID(id)[:16], err)
	}
	p := r.newRepoPack()
	var buf []byte
	for _, e := range entries {
		buf = slices.Grow(buf[:0], int(e.stored))[:e.stored]
		if _, err := f.ReadAt(buf, int64(e.offset)); err != nil {
			p.discard()
			return nil, index.ID{}, nil, fmt.Errorf("reading a pack from the spool: %w", err)
		}
		p.add(e.id, buf, int(e.raw), e.codec)
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read does not fail
	p.add(sha256.Sum256(salt), salt, saltLen, 0)
	salted, sid, err := p.finish(r.zstd)
	if err != nil {
		return nil, index.ID{}, nil, err
	}
	return salted, sid, p.entries, nil
}
