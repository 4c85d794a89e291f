package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrTargetInRepo is the error for a restore target that lies inside the
// repository or its local index: restored files would land among the
// repository's objects, and --delete would remove those objects.
var ErrTargetInRepo = errors.New("snapshot: the restore target lies inside the repository or its local index")

// checkTarget returns an error wrapping ErrTargetInRepo when target, or
// the directory it would be made in, is one of the directories of dirs or
// of a repository among them (config, packs/ab...), or lies below one. It
// goes by the file system's identity of directories, and walks up from
// the target through "..", as the kernel resolves it: a symbolic link, a
// ".." after one, or a bind mount of the repository or of one of its
// directories is no way round it. Directories of dirs that do not exist
// are ignored.
func checkTarget(target string, dirs []string) error {
	kept, names := repoDirs(dirs)
	p := existingAncestor(target)
	if p == "" || len(kept) == 0 {
		return nil // making the target reports a path that cannot be resolved
	}
	for range 4096 { // deeper than any path
		fi, err := os.Stat(p)
		if err != nil {
			return nil //nolint:nilerr // as above
		}
		for i, k := range kept {
			if os.SameFile(fi, k) {
				return fmt.Errorf("%w: %s is in %s; restore somewhere else", ErrTargetInRepo, target, names[i])
			}
		}
		up := p + string(filepath.Separator) + ".."
		if parent, err := os.Stat(up); err != nil || os.SameFile(parent, fi) {
			return nil // the root
		}
		p = up
	}
	return nil
}

// repoDirs returns the directories of dirs that exist, and for a
// repository among them (a directory holding config) its directories, and
// those of packs/ (packs/ab): not its objects, which may be 100,000 files,
// and no symbolic link found there, which leads out of the repository.
func repoDirs(dirs []string) (kept []os.FileInfo, names []string) {
	add := func(d string) {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			kept, names = append(kept, fi), append(names, d)
		}
	}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			kept, names = append(kept, fi), append(names, d)
		}
		if _, err := os.Stat(filepath.Join(d, "config")); err != nil {
			continue
		}
		subs, _ := filepath.Glob(filepath.Join(d, "*"))
		deeper, _ := filepath.Glob(filepath.Join(d, "packs", "*"))
		for _, s := range append(subs, deeper...) {
			add(s)
		}
	}
	return kept, names
}

// existingAncestor returns target, or the nearest ancestor of it that
// exists, cutting names off its end as written ("a/../b/new" gives
// "a/../b", which the kernel resolves through a's link), "" when none
// does.
func existingAncestor(target string) string {
	p := target
	for {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		i := strings.LastIndexAny(p, `/`+string(filepath.Separator))
		switch {
		case i > 0 && i == len(filepath.VolumeName(p)): // C:\x: C:\, not C: (the working directory there)
			if i+1 == len(p) {
				return "" // the volume itself is missing: a drive or share that is not there
			}
			p = p[:i+1]
		case i > 0:
			p = p[:i]
		case i == 0:
			return p[:1]
		case filepath.IsAbs(p) || p == ".":
			return ""
		default:
			p = "."
		}
	}
}
