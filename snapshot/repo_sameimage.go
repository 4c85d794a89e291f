package snapshot

import (
	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// sameImage returns the parent's image as stored when image m equals pm,
// the parent's image that the capture updated, and that image came from
// the metadata cache with its stream sizes under the index's generation
// (cached): a snapshot of an unchanged tree then stores nothing for its
// image, and that cache file, which loading the parent marked as recently
// used, serves the next snapshot as it is. Without cached, the image is
// stored the usual way, which writes the cache file afresh. Only a capture
// that read no file can match, since a file read has a new signature and
// so mostly a new entry. The comparison walks the two trees, not their
// encodings: the capture reuses the parent's entry for each unchanged
// file, so it costs about one pointer comparison per file. An image that
// dropped entries as it was read (see wim.Metadata.Dropped) is never the
// same: its stored form holds them.
func sameImage(m *wim.Metadata, parent *Manifest, pm *wim.Metadata, cached bool, cst CaptureStats) (storedImage, bool) {
	if parent == nil || pm == nil || !cached || cst.Read != 0 || pm.Dropped != 0 || !m.Equal(pm) {
		return storedImage{}, false
	}
	return storedImage{ref: parent.Metadata, cache: func(index.Generation) {}, drop: func() {}}, true
}
