package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

const repoHelp = `
The repository is --repo, else $WIMSNAP_REPOSITORY, else the default local
repository $XDG_DATA_HOME/wimsnap/repository (~/.local/share/wimsnap/repository),
which 'snapshot' creates on first use. A repository is a local directory
path; s3: URLs come with the S3 store. The local index (a cache of the
repository's index, rebuilt when missing) lives in $WIMSNAP_CACHE_DIR, else
$XDG_CACHE_HOME/wimsnap/index (~/.cache/wimsnap/index).`

// repoFlags are the flags every repository command has.
type repoFlags struct {
	repo string
}

func addRepoFlags(cmd *cobra.Command, f *repoFlags) {
	cmd.Flags().StringVar(&f.repo, "repo", "", "repository location (default: $"+envRepository+", else the default local repository)")
}

// repoLocation resolves where the repository is and whether it is the
// default one.
func (a *app) repoLocation(f *repoFlags) (string, bool, error) {
	if f.repo != "" {
		return f.repo, false, nil
	}
	if v, ok := a.lookup(envRepository); ok && v != "" {
		return v, false, nil
	}
	dir, err := a.userDir("XDG_DATA_HOME", ".local/share")
	if err != nil {
		return "", false, err
	}
	return filepath.Join(dir, "wimsnap", "repository"), true, nil
}

// userDir returns $env, else $HOME/fallback.
func (a *app) userDir(env, fallback string) (string, error) {
	if v, ok := a.lookup(env); ok && filepath.IsAbs(v) {
		return v, nil
	}
	home, ok := a.lookup("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for the default repository: %w", err)
		}
		home = h
	}
	return filepath.Join(home, fallback), nil
}

func (a *app) cacheDir() (string, error) {
	if v, ok := a.lookup(envCacheDir); ok && v != "" {
		return v, nil
	}
	dir, err := a.userDir("XDG_CACHE_HOME", ".cache")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wimsnap", "index"), nil
}

// openStore opens the store at loc.
func openStore(loc string) (remote.Store, error) {
	if strings.HasPrefix(loc, "s3:") {
		return nil, fmt.Errorf("repository %s: S3 repositories are not supported yet: %w", loc, wim.ErrUnsupported)
	}
	return remote.NewLocal(loc)
}

// openRepo opens the repository of f. With create set and the default
// location, a missing repository is created (XPRESS chunks).
func (a *app) openRepo(ctx context.Context, f *repoFlags, create bool) (*snapshot.Repo, error) {
	loc, isDefault, err := a.repoLocation(f)
	if err != nil {
		return nil, err
	}
	if !create || !isDefault {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) && !strings.HasPrefix(loc, "s3:") {
			return nil, fmt.Errorf("%w: %s (run 'wimsnap init --repo %s')", snapshot.ErrNoRepository, loc, loc)
		}
	}
	store, err := openStore(loc)
	if err != nil {
		return nil, err
	}
	cache, err := a.cacheDir()
	if err != nil {
		return nil, err
	}
	r, err := snapshot.OpenRepo(ctx, store, snapshot.RepoOptions{CacheDir: cache, Now: a.now})
	if errors.Is(err, snapshot.ErrNoRepository) && create && isDefault {
		if _, err := snapshot.InitRepo(ctx, store, wim.CompressXPRESS); err != nil && !errors.Is(err, snapshot.ErrRepositoryExists) {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "wimsnap: created the default repository %s\n", loc)
		return snapshot.OpenRepo(ctx, store, snapshot.RepoOptions{CacheDir: cache, Now: a.now})
	}
	return r, err
}

// syncWarn returns a Warn function for index sync problems.
func (a *app) syncWarn(w *warnings) func(error) {
	return func(err error) { w.warn("repository", err) }
}
