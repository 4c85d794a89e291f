package snapshot

import (
	"crypto/sha1"
	"io"
	"os"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// sameImage returns the parent's image as stored when image m encodes to
// exactly it and the metadata cache holds its copy: a snapshot of an
// unchanged tree then stores nothing for its image, and the cached copy
// (touched, as recently used) serves the next snapshot. Only a capture
// that read no file is worth the check, since a file read has a new
// signature and so mostly a new entry; the check, encoding and hashing the
// image, costs half of storing it, and a size that differs ends it at once.
func (r *Repo) sameImage(m *wim.Metadata, parent *Manifest, cst CaptureStats) (storedImage, bool) {
	if parent == nil || cst.Read != 0 {
		return storedImage{}, false
	}
	h, err := parent.hash()
	if err != nil {
		return storedImage{}, false
	}
	path := r.metaCache().path(h)
	if _, err := os.Stat(path); err != nil {
		return storedImage{}, false // stored the usual way, which caches it
	}
	enc, size, err := m.Encoder()
	if err != nil || size != parent.Metadata.Size {
		return storedImage{}, false
	}
	sum := sha1.New()
	if _, err := io.Copy(sum, enc); err != nil || wim.Hash(sum.Sum(nil)) != h {
		return storedImage{}, false
	}
	touch := func(index.Generation) { _ = os.Chtimes(path, time.Now(), time.Now()) }
	return storedImage{ref: parent.Metadata, cache: touch, drop: func() {}}, true
}
