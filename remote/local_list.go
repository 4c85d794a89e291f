package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// List implements Store. It walks the directory tree below the prefix's
// directory part, following symbolic links, and reports the other files
// (regular ones; FIFOs, devices and links that lead nowhere, which Get
// refuses) whose path is a valid key starting with prefix. Names starting
// with '.' (the temporary files of Put among them) and other names that
// are not valid key components are skipped, as are files that vanish
// during the walk. A missing prefix directory lists nothing. The walk
// holds one open directory per level of depth.
func (l *Local) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return l.list(ctx, &lister{ctx: ctx, root: l.root, prefix: prefix, fn: fn})
}

// ListKeys implements KeyLister: List without a stat of each file. A
// file that vanishes after its directory entry was read may be reported.
func (l *Local) ListKeys(ctx context.Context, prefix string, fn func(key string) error) error {
	return l.list(ctx, &lister{ctx: ctx, root: l.root, prefix: prefix, keysOnly: true,
		fn: func(i Info) error { return fn(i.Key) }})
}

// list runs the walk w.
func (l *Local) list(ctx context.Context, w *lister) error {
	prefix := w.prefix
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
	}
	err := w.walk(dir)
	if w.fnErr != nil {
		return w.fnErr
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return nil
}

// lister is the state of one Local.List walk.
type lister struct {
	ctx    context.Context
	root   string
	prefix string
	fn     func(Info) error
	fnErr  error // fn's error, returned unwrapped
	// keysOnly leaves Size and ModTime zero, sparing each file's stat.
	keysOnly bool
}

// walk reports the objects in the directory of key prefix rel ("" for the
// root) and below it.
func (w *lister) walk(rel string) error {
	f, err := os.Open(filepath.Join(w.root, filepath.FromSlash(rel)))
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // read-only directory: nothing to lose
	for {
		ents, err := f.ReadDir(256)
		for _, e := range ents {
			if err := w.entry(rel, e); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || gone(err) { // gone: rel is a file
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// entry handles one directory entry of the directory rel.
func (w *lister) entry(rel string, e fs.DirEntry) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	name := e.Name()
	key := name
	if rel != "" {
		key = rel + "/" + name
	}
	if componentProblem(name) != "" || len(key) > MaxKeyLen {
		return nil // a temporary file, or not made by a Store
	}
	p := filepath.Join(w.root, filepath.FromSlash(key))
	typ := e.Type()
	var fi fs.FileInfo
	if typ&fs.ModeSymlink != 0 {
		var err error
		if fi, err = os.Stat(p); err == nil {
			typ = fi.Mode().Type() // a directory or a file elsewhere, which a repository may use
		} else if fi, err = os.Lstat(p); gone(err) {
			return nil
		} else if err != nil {
			return err
		}
	}
	switch {
	case typ.IsDir():
		if strings.HasPrefix(key+"/", w.prefix) {
			return w.walk(key)
		}
	default:
		// A regular file; or a FIFO, a device, a link that leads nowhere:
		// a damaged object, listed so that reading it fails (Local.open)
		// instead of its key passing for one forgotten.
		if !strings.HasPrefix(key, w.prefix) {
			return nil
		}
		if fi == nil && !w.keysOnly {
			var err error
			if fi, err = e.Info(); gone(err) {
				return nil
			} else if err != nil {
				return err
			}
		}
		info := Info{Key: key}
		if fi != nil {
			info.Size, info.ModTime = fi.Size(), fi.ModTime()
		}
		if err := w.fn(info); err != nil {
			w.fnErr = err
			return err
		}
	}
	return nil
}

// gone reports whether err says that a file or directory is not there (any
// more).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
