package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// TestApplyDamageError: an apply whose failed files all lacked their data
// says that the data is missing (wim.ErrNotFound) and, for a WIM that is
// not split, that a delta WIM needs --ref; damage is a checksum mismatch,
// or a malformed file when some data did not decompress (it said
// "checksum mismatch" of a solid resource whose header was damaged).
func TestApplyDamageError(t *testing.T) {
	tests := []struct {
		name    string
		dmg     applyDamage
		split   bool
		is      error
		want    []string
		wantNot []string
	}{
		{name: "all missing", dmg: applyDamage{files: 2, missing: 2}, is: wim.ErrNotFound,
			want:    []string{"wim: stream not found: 2 files could not be applied: their data is missing from x.wim", "--ref"},
			wantNot: []string{"checksum", "damaged", "verify"}},
		{name: "all missing, split", dmg: applyDamage{files: 1, missing: 1}, split: true, is: wim.ErrNotFound,
			want: []string{"their data is missing from x.wim (see 'wimsnap verify')"}, wantNot: []string{"--ref"}},
		{name: "damaged", dmg: applyDamage{files: 3}, is: wim.ErrChecksum,
			want:    []string{"wim: checksum mismatch: 3 files could not be applied: their data in x.wim is damaged (see 'wimsnap verify')"},
			wantNot: []string{"missing", "--ref"}},
		{name: "malformed", dmg: applyDamage{files: 3, malformed: 1}, is: wim.ErrFormat,
			want:    []string{"wim: malformed file: 3 files could not be applied: their data in x.wim is damaged"},
			wantNot: []string{"checksum"}},
		{name: "both", dmg: applyDamage{files: 3, missing: 2}, is: wim.ErrChecksum,
			want: []string{"the data of 1 is damaged in x.wim and that of 2 missing from it (see 'wimsnap verify'; a delta WIM", "--ref"}},
		{name: "damaged in parts", dmg: applyDamage{files: 3, missing: 1, in: map[string]bool{"x3.swm (part 3 of 3)": true, "x.wim": true}},
			split: true, is: wim.ErrChecksum,
			want: []string{"the data of 2 is damaged in x.wim, x3.swm (part 3 of 3) and that of 1 missing from x.wim (see 'wimsnap verify')"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.dmg.err("x.wim", tt.split)
			if !errors.Is(err, tt.is) {
				t.Errorf("%v: not %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(err.Error(), w) {
					t.Errorf("%q has %q", err, w)
				}
			}
		})
	}
}

// TestApplyDamageAdd: data that failed its SHA-1 and data that was
// malformed count as damaged, the second as malformed too.
func TestApplyDamageAdd(t *testing.T) {
	var d applyDamage
	d.add(fmt.Errorf("%w: %w", snapshot.ErrStreamRead, wim.ErrChecksum))
	if err := d.err("x.wim", false); !errors.Is(err, wim.ErrChecksum) {
		t.Errorf("one checksum mismatch: %v", err)
	}
	d.add(fmt.Errorf("%w: %w", snapshot.ErrStreamRead, wim.ErrFormat))
	if err := d.err("x.wim", false); d.files != 2 || d.malformed != 1 || !errors.Is(err, wim.ErrFormat) {
		t.Errorf("%+v: %v", d, err)
	}
}
