package main

import (
	"fmt"
	"os"

	"github.com/wimsnap/wimsnap/snapshot"
)

// commitWriteback settles f, then makes its file durable at target with
// commit (commitTemp or commitNewTemp).
func commitWriteback(f *snapshot.WritebackFile, target string, commit func(*os.File, string) error) error {
	if err := f.Settle(); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return commit(f.File, target)
}

// discardWriteback settles f, then closes and removes its file
// (discardTemp).
func discardWriteback(f *snapshot.WritebackFile) {
	_ = f.Settle()
	discardTemp(f.File)
}
