package snapshot

import (
	"crypto/sha1"
	"io"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// sameImage returns the parent's image as stored when image m encodes to
// exactly it and the parent's image came from the metadata cache with its
// stream sizes under the index's generation (cached): a snapshot of an
// unchanged tree then stores nothing for its image, and that cache file,
// which loading the parent marked as recently used, serves the next
// snapshot as it is. Without cached, the image is stored the usual way,
// which writes the cache file afresh. Only a capture that read no file is
// worth the check, since a file read has a new signature and so mostly a
// new entry; the check, encoding and hashing the image, costs half of
// storing it, and a size that differs ends it at once.
func sameImage(m *wim.Metadata, parent *Manifest, cached bool, cst CaptureStats) (storedImage, bool) {
	if parent == nil || !cached || cst.Read != 0 {
		return storedImage{}, false
	}
	h, err := parent.hash()
	if err != nil {
		return storedImage{}, false
	}
	enc, size, err := m.Encoder()
	if err != nil || size != parent.Metadata.Size {
		return storedImage{}, false
	}
	sum := sha1.New()
	if _, err := io.Copy(sum, enc); err != nil || wim.Hash(sum.Sum(nil)) != h {
		return storedImage{}, false
	}
	return storedImage{ref: parent.Metadata, cache: func(index.Generation) {}, drop: func() {}}, true
}
