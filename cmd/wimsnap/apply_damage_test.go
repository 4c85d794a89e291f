package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

// TestApplyDamageError: an apply whose failed files all lacked their data
// says that the data is missing (wim.ErrNotFound) and, for a WIM that is
// not split, that a delta WIM needs --ref; damage is a checksum mismatch.
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
