//go:build unix

package snapshot

import (
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

func TestSameFile(t *testing.T) {
	base := index.Sig{Size: 10, MtimeNs: 1, CtimeNs: 2, Ino: 3, Dev: 4, Mode: 0o100644}
	tests := []struct {
		name   string
		change func(*index.Sig)
		same   bool
	}{
		{"identical", func(*index.Sig) {}, true},
		{"new device number (a snapshot mounted afresh)", func(s *index.Sig) { s.Dev = 99 }, true},
		{"size", func(s *index.Sig) { s.Size++ }, false},
		{"mtime", func(s *index.Sig) { s.MtimeNs++ }, false},
		{"ctime", func(s *index.Sig) { s.CtimeNs++ }, false},
		{"inode", func(s *index.Sig) { s.Ino++ }, false},
		{"mode", func(s *index.Sig) { s.Mode = 0o100600 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := base
			tt.change(&other)
			if got := sameFile(base, other); got != tt.same {
				t.Errorf("sameFile = %v, want %v", got, tt.same)
			}
		})
	}
}
