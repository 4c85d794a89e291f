package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// Environment variables of the repository commands.
const (
	envRepository = "WIMSNAP_REPOSITORY" // --repo
	envCacheDir   = "WIMSNAP_CACHE_DIR"  // where the local index files live
)

// requestsHelp describes the "requests" member of the --json documents
// of the commands that count the requests they send to an S3 repository.
const requestsHelp = `
"requests" (an S3 repository only) counts the requests sent, by kind:
{"put", "get", "head", "list", "delete", "other"}.`

const repoHelp = `
The repository is --repo, else $WIMSNAP_REPOSITORY, else the default local
repository $XDG_DATA_HOME/wimsnap/repository (~/.local/share/wimsnap/repository),
which 'snapshot' creates on first use. A repository is a local directory
path or an s3: URL (see below). The local index (a cache of the
repository's index, rebuilt when missing) lives in $WIMSNAP_CACHE_DIR, else
$XDG_CACHE_HOME/wimsnap/index (~/.cache/wimsnap/index); where that cannot
be written, a command warns and uses a temporary one it removes at the end.
On Windows both default to %LOCALAPPDATA%\wimsnap\repository and
...\wimsnap\index.
` + s3Help

// repoFlags are the flags every repository command has.
type repoFlags struct {
	repo string
	s3   s3Flags
	// filter is --host, --tag and --path, of the commands that pick
	// "latest" or list snapshots (addSnapFilterFlags).
	filter snapFilter
}

// addNoLockFlag adds --no-lock to a command that only reads the
// repository.
func addNoLockFlag(cmd *cobra.Command, noLock *bool) {
	cmd.Flags().BoolVar(noLock, "no-lock", false,
		"take no lock, for a repository on read-only media or with read-only credentials (a prune running meanwhile may delete what is read)")
}

// noLockHint points a failure to take a lock in a repository that cannot
// be written to --no-lock.
func noLockHint(err error) error {
	if errors.Is(err, snapshot.ErrReadOnly) {
		return fmt.Errorf("%w (--no-lock reads it without one)", err)
	}
	return err
}

func addRepoFlags(cmd *cobra.Command, f *repoFlags) {
	fl := cmd.Flags()
	// Never empty (nonEmpty): a script's unset variable (--repo "$REPO")
	// is refused rather than taken for the default repository, which
	// snapshot would create.
	fl.Var((*nonEmpty)(&f.repo), "repo", "repository location (default: $"+envRepository+", else the default local repository)")
	fl.Var((*nonEmpty)(&f.s3.caCert), "cacert", "S3: PEM file of a certificate authority to trust (default: $"+envCACert+")")
	fl.IntVar(&f.s3.connections, "connections", defaultS3Conns, "S3: at most this many requests at once (a listing of keys aside)")
	fl.Int64Var(&f.s3.upKiB, "limit-upload", 0, "S3: upload at most this many KiB/s (0: no limit)")
	fl.Int64Var(&f.s3.downKiB, "limit-download", 0, "S3: download at most this many KiB/s (0: no limit)")
}

// repoLocation resolves where the repository is and whether it is the
// default one. It checks the S3 flags first, whatever the repository, so
// that a script tried on a local one does not fail on S3 alone.
func (a *app) repoLocation(f *repoFlags) (string, bool, error) {
	if err := f.s3.check(); err != nil {
		return "", false, err
	}
	if f.repo != "" {
		return f.repo, false, nil
	}
	if v, ok := a.lookup(envRepository); ok && v != "" {
		return v, false, nil
	}
	dir, err := a.userDir("XDG_DATA_HOME", ".local/share", "the default repository")
	if err != nil {
		return "", false, err
	}
	return filepath.Join(dir, "wimsnap", "repository"), true, nil
}

// userDir returns $env, else $HOME/fallback. On Windows, where per-user
// data, caches and state all go to one folder, it returns $env, else
// %LOCALAPPDATA%, else %USERPROFILE%/fallback. What the folder is for
// ("the default repository") names it in the error when there is no home.
func (a *app) userDir(env, fallback, what string) (string, error) {
	if v, ok := a.lookup(env); ok && filepath.IsAbs(v) {
		return v, nil
	}
	if v, ok := a.lookup("LOCALAPPDATA"); ok && env != "" && runtime.GOOS == "windows" && filepath.IsAbs(v) {
		return v, nil
	}
	home, ok := a.lookup("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for %s: %w", what, err)
		}
		home = h
	}
	return filepath.Join(home, fallback), nil
}

func (a *app) cacheDir() (string, error) {
	if v, ok := a.lookup(envCacheDir); ok && v != "" {
		return v, nil
	}
	dir, err := a.userDir("XDG_CACHE_HOME", ".cache", "the index cache (or set "+envCacheDir+")")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wimsnap", "index"), nil
}

// repoArg is the --repo flag for loc as a command line to type takes it:
// "--repo=-h", not "--repo -h", and quoted when the shell would split it.
func repoArg(loc string) string { return quoteArgs([]string{"--repo=" + loc}) }

// repoIsFile returns an error when the local repository location loc, or
// the nearest of its parents that exists, is a file.
func repoIsFile(loc string) error {
	for p := filepath.Clean(loc); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p) // "file/sub" is ENOTDIR, not ENOENT: go up on any error
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s is a file; a repository is a directory (or s3:...)", p)
		case err == nil || filepath.Dir(p) == p:
			return nil
		}
	}
}

// isS3 reports whether loc names an S3 repository.
func isS3(loc string) bool { return strings.HasPrefix(loc, "s3:") }

// openStore opens the store at loc. An S3 store is remembered in a.s3 for
// its request counts. A local loc that is a file (a WIM given as --repo)
// is no repository, where the store's mkdir said "not a directory".
func (a *app) openStore(loc string, f *repoFlags) (remote.Store, error) {
	if !isS3(loc) {
		if err := repoIsFile(loc); err != nil {
			return nil, fmt.Errorf("%w: %w", snapshot.ErrNoRepository, err)
		}
		return remote.NewLocal(loc)
	}
	if err := f.s3.check(); err != nil {
		return nil, err
	}
	store, s3, err := a.openS3(loc, &f.s3)
	if err != nil {
		return nil, err
	}
	a.s3 = s3
	return store, nil
}

// openRepo opens the repository of f. With create set and the default
// location, a missing repository is created (XPRESS chunks).
func (a *app) openRepo(ctx context.Context, f *repoFlags, create bool) (*snapshot.Repo, error) {
	return a.openRepoWarn(ctx, f, create, nil)
}

// openRepoWarn is openRepo for a command that tells the user, through
// warn, of a damaged local index that it rebuilt (snapshot.RepoOptions.Warn).
func (a *app) openRepoWarn(ctx context.Context, f *repoFlags, create bool, warn func(error)) (*snapshot.Repo, error) {
	loc, isDefault, err := a.repoLocation(f)
	if err != nil {
		return nil, err
	}
	if !create || !isDefault {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) && !isS3(loc) {
			return nil, fmt.Errorf("%w: %s (run 'wimsnap init %s')", snapshot.ErrNoRepository, loc, repoArg(loc))
		}
	}
	store, err := a.openStore(loc, f)
	if err != nil {
		return nil, err
	}
	cache, err := a.cacheDir()
	if err != nil {
		return nil, err
	}
	cache = a.usableCache(cache, warn)
	opts := snapshot.RepoOptions{CacheDir: cache, Now: a.now, Warn: warn}
	r, err := snapshot.OpenRepo(ctx, store, opts)
	if err == nil && a.tempCache == "" {
		if uerr := a.repoCacheUsable(r, warn); uerr != nil { // this repository's files there
			opts.CacheDir = a.tempCacheFor(cache, uerr, warn)
			r, err = snapshot.OpenRepo(ctx, store, opts)
		}
	}
	if errors.Is(err, remote.ErrNoBucket) {
		return nil, fmt.Errorf("%w: %s: the bucket does not exist (run 'wimsnap init %s' to create it and the repository)",
			snapshot.ErrNoRepository, loc, repoArg(loc))
	}
	if errors.Is(err, snapshot.ErrConfigMissing) {
		return nil, configMissing(err)
	}
	if errors.Is(err, snapshot.ErrNoRepository) && a.s3 != nil {
		return nil, a.noS3Repo(ctx, loc, err)
	}
	if errors.Is(err, snapshot.ErrNoRepository) && create && isDefault {
		if _, err := snapshot.InitRepo(ctx, store, wim.CompressXPRESS); err != nil && !errors.Is(err, snapshot.ErrRepositoryExists) {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "wimsnap: created the default repository %s\n", loc)
		return snapshot.OpenRepo(ctx, store, opts)
	}
	return r, err
}

// configMissing says what to do about a repository without its config
// (err wraps snapshot.ErrConfigMissing).
func configMissing(err error) error {
	return fmt.Errorf("%w; put back the object 'config' from a backup of the repository ('wimsnap init' does not write a new one over its data)", err)
}

// noS3Repo explains a missing S3 repository: the bucket is missing, or it
// holds no repository at the prefix.
func (a *app) noS3Repo(ctx context.Context, loc string, err error) error {
	if berr := a.s3.BucketExists(ctx); errors.Is(berr, remote.ErrNoBucket) {
		return fmt.Errorf("%w: %s: the bucket does not exist (run 'wimsnap init %s' to create it and the repository)",
			snapshot.ErrNoRepository, loc, repoArg(loc))
	}
	return fmt.Errorf("%w (run 'wimsnap init %s')", err, repoArg(loc))
}

// syncWarn returns a Warn function for index sync problems.
func (a *app) syncWarn(w *warnings) func(error) {
	return func(err error) { w.warn("repository", err) }
}

// lockWarn returns a LockOptions.Warn (or a RepoOptions.Warn, through
// openRepoWarn) for the commands whose JSON document has no warnings: the
// lock problems that do not end the command (a lock left behind because it
// could not be removed, a refresh that failed and is retried), and a
// damaged local index that was rebuilt, are printed on stderr as
// "wimsnap: warning: repository: ...", in JSON mode too, so that nobody is
// left wondering why the next prune waits for a stale lock, or why the
// command took long. status may be nil.
func (a *app) lockWarn(status *statusLine) func(error) {
	return a.syncWarn(&warnings{status: status, stderr: a.stderr})
}
