//go:build !unix

package remote

import "os"

// fileOwner is unused here.
type fileOwner struct{}

// repoOwnership returns nil, nil: a Windows directory's access is its
// ACL's, which new files inherit.
func repoOwnership(string, os.FileMode) (giveTo *fileOwner, foreign error) { return nil, nil }

func (l *Local) own(*os.File) error { return nil }

func (l *Local) ownDir(string) error { return nil }
