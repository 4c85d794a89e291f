package main

import (
	"fmt"
	"os"

	"github.com/wimsnap/wimsnap/snapshot"
)

// usableCache returns dir, the index cache directory, if the command can
// create files in it (making it if missing). Otherwise (a read-only home,
// a cache owned by another user, a path through a file) it warns (through
// warn when not nil, else on stderr) and returns a temporary directory,
// removed when the command ends, so that the command still runs: the
// index is a cache that every command rebuilds from the repository when
// it is missing, at the cost of reading the repository's index objects
// once more.
func (a *app) usableCache(dir string, warn func(error)) string {
	err := probeDir(dir)
	if err == nil {
		return dir
	}
	return a.tempCacheFor(dir, err, warn)
}

// tempCacheFor warns, as usableCache does, that the cache dir is not usable
// for err, and returns the temporary directory the command uses instead;
// dir itself when none can be made.
func (a *app) tempCacheFor(dir string, err error, warn func(error)) string {
	tmp, terr := os.MkdirTemp("", "wimsnap-index-")
	if terr != nil {
		return dir // the command reports what fails in dir
	}
	a.tempCache = tmp
	a.cacheWarn(warn, fmt.Errorf("the index cache %s is not usable (%w); this run rebuilds the index in a temporary directory (set $%s to a writable directory to keep it)",
		dir, err, envCacheDir))
	return tmp
}

// cacheWarn tells of a problem with the cache through warn when not nil
// (with --json, into the document's warnings), else on stderr.
func (a *app) cacheWarn(warn func(error), err error) {
	if warn != nil {
		warn(err)
	} else {
		fmt.Fprintf(a.stderr, "wimsnap: warning: %v\n", err)
	}
}

// repoCacheUsable reports why the command cannot write the files of r in
// the cache directory (snapshot.Repo.CachePaths) that exist already, if it
// cannot, once the directory itself was probed (usableCache). In this
// user's own cache directory, an index file of this user's or root's that
// it cannot write (one made through sudo, or made read-only) is removed,
// with a warning, to be rebuilt: it is a cache, and in a temporary
// directory every later run would rebuild it again. Another user's index,
// in a cache directory several users share, is left alone.
func (a *app) repoCacheUsable(r *snapshot.Repo, warn func(error)) error {
	var indexErr error // of an index file this user may remove
	for _, p := range r.CachePaths() {
		err := writablePath(p)
		switch {
		case err == nil:
		case p == r.IndexPath() && ownCacheFile(p):
			indexErr = err // removed once the directories are known usable
		default:
			return err
		}
	}
	if indexErr != nil {
		if err := os.Remove(r.IndexPath()); err != nil {
			return indexErr
		}
		a.cacheWarn(warn, fmt.Errorf("the local index could not be written (%w); removed it, to be rebuilt", indexErr))
	}
	return nil
}

// probeDir makes dir if missing and checks that files can be created in
// it, without changing it: the cache may lie inside the tree a snapshot
// captures.
func probeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writableDir(dir)
}

// ownPaths are the files and directories of r on this machine, which a
// snapshot leaves out: the repository's (see snapshot.Repo.LocalPaths),
// and the temporary cache directory itself when the run uses one.
func (a *app) ownPaths(r *snapshot.Repo) []string {
	paths := r.LocalPaths()
	if a.tempCache != "" {
		paths = append(paths, a.tempCache)
	}
	return paths
}

// dropTempCache removes the temporary cache of a command, if it made one.
func (a *app) dropTempCache() {
	if a.tempCache != "" {
		_ = os.RemoveAll(a.tempCache) // in the temporary directory: nothing to tell
		a.tempCache = ""
	}
}
