package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrTargetInRepo is the error for a restore target that lies inside the
// repository or its local index: restored files would land among the
// repository's objects, and --delete would remove those objects.
var ErrTargetInRepo = errors.New("the restore target lies inside the repository or its local index")

// checkTarget returns an error wrapping ErrTargetInRepo when target, or
// the directory it would be made in, is one of dirs or lies below one,
// by the file system's identity of directories: a symbolic link or a bind
// mount leading into a repository is no way round it. Directories of dirs
// that do not exist are ignored.
func checkTarget(target string, dirs []string) error {
	var kept []os.FileInfo
	var names []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			kept, names = append(kept, fi), append(names, d)
		}
	}
	p, err := existingAncestor(target)
	if err != nil || len(kept) == 0 {
		return nil //nolint:nilerr // making the target reports a path that cannot be resolved
	}
	for {
		if fi, err := os.Stat(p); err == nil {
			for i, k := range kept {
				if os.SameFile(fi, k) {
					return fmt.Errorf("%w: %s is in %s; restore somewhere else", ErrTargetInRepo, target, names[i])
				}
			}
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// existingAncestor returns target, or its nearest ancestor that exists,
// as an absolute path with symbolic links resolved.
func existingAncestor(target string) (string, error) {
	p, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(p); err == nil {
			return filepath.EvalSymlinks(p)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p, nil
		}
		p = parent
	}
}
