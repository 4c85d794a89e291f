package snapshot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// A pack's id is the hash of its bytes, so a snapshot can build a pack
// byte for byte like one the store holds unknown to its index: a pack that
// a prune has condemned (its data was only forgotten snapshots'), a pack
// of a run that died before its index object, or one another machine
// stored a moment ago from the same big file (packs of a stream of their
// own depend on the stream alone). Storing it overwrites that key with the
// same bytes. That is safe unless a prune that listed the key in its first
// step, before this run's lock was there, deletes it in its second: the
// prune does not wait for this run, and the run would commit a manifest
// naming a pack that is gone. (A prune whose first step comes after this
// run's lock waits for the lock and keeps what the run's index object
// names.) So a run that finds a prune lock when its own lock is in place
// salts every pack it stores: it adds a salt chunk, saltLen random bytes
// stored raw under their SHA-256, which no stream uses (prune counts it
// among the pack's unused data), so that no pack of the run can have a
// key the prune condemned.
// Without a prune lock, packs are stored as they are: machines that back
// up the same new file at the same time share its packs, and a run taken
// again after an interruption stores its packs under the same keys.

// saltLen is the size of a salt chunk.
const saltLen = 32

// addSalt adds a salt chunk to p.
func addSalt(p *packBuilder) {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read does not fail
	p.add(sha256.Sum256(salt), salt, saltLen, 0)
}

// pruneSeen reports whether the store holds a prune lock, l being in
// place: whether a prune may be between its two steps without waiting for
// l (see above). A stale prune lock counts too (its prune may be slow, not
// dead; salting costs 32 bytes a pack), and so does a lock object that
// cannot be parsed, which lockers take for an exclusive one. A run that
// holds no lock (l nil) salts its packs: no prune waits for it.
func (l *Lock) pruneSeen(ctx context.Context) (bool, error) {
	if l == nil {
		return true, nil
	}
	infos, err := listLockObjects(ctx, l.store)
	if err != nil {
		return false, err
	}
	for _, i := range infos {
		if !validID(strings.TrimPrefix(i.Key, lockPrefix)) || i.Key == l.key {
			continue
		}
		e, err := l.read(ctx, i)
		if err != nil {
			return false, err
		}
		if e != nil && (e.bad || e.rec.Kind == kindPrune) {
			return true, nil
		}
	}
	return false, nil
}
