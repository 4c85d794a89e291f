package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// FilePutter is implemented by stores that can take an object's bytes
// straight from a file, without copying them where the system allows
// (Local on Linux, for a file on the store's file system).
type FilePutter interface {
	// PutFile stores the first size bytes of f under key, as Put does.
	// The store may make f's file the object itself, so the caller must
	// not write to f afterwards; it still closes f.
	PutFile(ctx context.Context, key string, f *os.File, size int64) error
}

var _ FilePutter = (*Local)(nil)

// PutFile implements FilePutter. When f holds exactly size bytes and can
// be linked into the key's directory (an anonymous file made with
// O_TMPFILE, or a file with a name, on the store's file system, and the
// directory gives its files no group or default ACL that f's file lacks),
// the object is f's file, given the mode of the store's files (see Local):
// it is fsynced, linked under a temporary name and
// renamed into place, so a crash leaves it whole or absent as Put does.
// Otherwise the bytes are copied as Put copies them.
func (l *Local) PutFile(ctx context.Context, key string, f *os.File, size int64) error {
	if err := l.checkWrite(ctx, "put", key); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return l.Put(ctx, key, io.NewSectionReader(f, 0, size), size)
	}
	dir, err := l.mkdirs(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if f.Chmod(l.fileMode) != nil || l.own(f) != nil {
		return l.Put(ctx, key, io.NewSectionReader(f, 0, size), size)
	}
	tmp, err := linkTemp(f, fi, dir)
	if errors.Is(err, errors.ErrUnsupported) {
		return l.Put(ctx, key, io.NewSectionReader(f, 0, size), size)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return l.place(ctx, tmp, dir, key)
}
