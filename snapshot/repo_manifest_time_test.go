package snapshot

import (
	"encoding/json"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

// TestImageFieldsFarCreationTime: an image whose XML creation time is
// past the year 9999 (HIGHPART 0xFFFFFFFF reads as the year 60056, as
// wimlib reads it) imports without it, rather than making a manifest
// whose JSON cannot be written; a real time is kept.
func TestImageFieldsFarCreationTime(t *testing.T) {
	far := imageFields(&wim.ImageInfo{Name: "far", CreationTime: wim.Filetime(0xFFFFFFFF) << 32})
	if !far.Created.IsZero() {
		t.Errorf("creation time %v kept", far.Created)
	}
	if _, err := json.Marshal(&Manifest{Image: far}); err != nil {
		t.Errorf("manifest: %v", err)
	}
	real := imageFields(&wim.ImageInfo{CreationTime: wim.Filetime(133000000000000000)})
	if real.Created.Year() != 2022 {
		t.Errorf("a creation time of 2022 came out as %v", real.Created)
	}
}
