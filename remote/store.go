package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Sentinel errors. Their text has the package prefix; Store methods wrap
// them in an error that names the operation and the key without it, so
// that the prefix is read once ("get config: remote: access denied: ...").
// Test for them with errors.Is.
var (
	// ErrNotFound means that no object has the key.
	ErrNotFound = errors.New("remote: object not found")
	// ErrExists means that PutIfAbsent found an object under the key.
	ErrExists = errors.New("remote: object exists")
	// ErrInvalidKey means that a key or a List prefix breaks the rules of
	// ValidKey.
	ErrInvalidKey = errors.New("remote: invalid key")
	// ErrRange means that Get asked for bytes outside the object.
	ErrRange = errors.New("remote: range outside object")
	// ErrTooLarge means that ReadAll found an object larger than its limit.
	ErrTooLarge = errors.New("remote: object too large")
	// ErrUnavailable means a failure that may pass if the request is sent
	// again: a dropped or refused connection, a timeout, a server error
	// (HTTP 5xx) or throttling (HTTP 429, SlowDown). Retry retries exactly
	// the errors that wrap it.
	ErrUnavailable = errors.New("remote: store unavailable")
	// ErrDenied means that the store refused the credentials or the
	// operation (HTTP 403, an unknown access key, a bad signature).
	ErrDenied = errors.New("remote: access denied")
	// ErrNoBucket means that the container of the store (an S3 bucket) does
	// not exist.
	ErrNoBucket = errors.New("remote: bucket not found")
	// ErrUntrusted means that the server's TLS certificate is not trusted
	// (an unknown authority, a wrong host name, an expired certificate),
	// or that the server does not speak TLS.
	ErrUntrusted = errors.New("remote: server certificate not trusted")
	// ErrNoHost means that the server's host name does not resolve; unlike
	// ErrUnavailable it is not retried.
	ErrNoHost = errors.New("remote: server host name not found")
	// ErrCAFile means that the file of certificate authorities to trust
	// (S3Config.CAFile) cannot be read or holds no PEM certificate.
	ErrCAFile = errors.New("remote: CA file")
	// ErrCorrupt means that the bytes a store returned fail a check (a
	// length or a checksum the server sent).
	ErrCorrupt = errors.New("remote: data corrupt in transfer")
	// ErrTimeout marks an ErrUnavailable error (it always comes with one)
	// of a request that the server did not answer in time, or of a
	// transfer that stopped making progress. Retry sends such a request at
	// most RetryOptions.TimeoutAttempts times, so that a server that
	// accepts connections but never answers is reported soon.
	ErrTimeout = errors.New("remote: server did not answer in time")
	// ErrDamaged means that the place of an object holds what is no
	// object: in a local store, a symbolic link, FIFO, socket or device
	// instead of a regular file, which the store neither follows nor
	// reads. Unlike ErrNotFound it is damage, not a forgotten object.
	ErrDamaged = errors.New("remote: not an object")
	// ErrForeign means that a local store refused a write because the
	// directory is another user's and not shared with a group: what this
	// user made there, its owner could not read (see Local).
	ErrForeign = errors.New("remote: another user's repository")
)

// Info describes one stored object.
type Info struct {
	Key     string    // the object's key
	Size    int64     // length in bytes
	ModTime time.Time // when the object was last written, as the store records it
}

// Store is a flat byte store of immutable-in-place objects named by keys
// (see ValidKey). Objects are written whole and replaced whole; there is no
// append and no partial write.
//
// All methods are safe for concurrent use by several goroutines. Every
// method checks its key (ErrInvalidKey) and its context before doing any
// work; a done context gives an error wrapping ctx.Err().
type Store interface {
	// Put stores size bytes from r under key, replacing any object. The
	// object becomes visible whole or not at all (never half-written), also
	// after a crash, and a reader of the old object sees the old bytes or the
	// new ones, never a mix. If r yields fewer or more than size bytes, or
	// fails, Put fails, nothing new is visible and an old object under key is
	// intact; the error wraps r's error, or io.ErrUnexpectedEOF when r ends
	// early. When Put returns nil the object is durable, unless ctx is
	// Ephemeral (then a crash may lose it, whole). A negative size is
	// an error. Put reads r to at most size+1 bytes and does not close it.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// PutIfAbsent stores data under key only if no object has that key;
	// otherwise it returns an error wrapping ErrExists and leaves the object
	// unchanged. It is atomic against concurrent callers (for the local store
	// also in other processes): of several calls for one key exactly one
	// succeeds. Visibility and durability are as for Put. The store keeps no
	// reference to data.
	PutIfAbsent(ctx context.Context, key string, data []byte) error

	// Get returns a reader of length bytes of key starting at off; a
	// negative length means to the end of the object. A missing object gives
	// an error wrapping ErrNotFound. Get checks the range against the
	// object's size before it returns a reader: off < 0, off > size, or
	// off+length > size give an error wrapping ErrRange. off == size with
	// length 0 or negative is an empty read, not an error.
	//
	// The reader yields exactly the requested bytes and then io.EOF; should
	// the data end early it returns io.ErrUnexpectedEOF. It reads the object
	// as it was when Get was called, even if it is replaced meanwhile. Reads
	// after ctx is done may fail with ctx.Err(). The caller must Close it.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)

	// Stat returns the Info of key, or an error wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)

	// List calls fn for every object whose key starts with prefix (see the
	// package doc for valid prefixes; "" lists everything), in no particular
	// order. It stops at the first error fn returns and returns that error
	// unwrapped. Temporary files of in-progress Puts are never listed.
	// Objects put or deleted while List runs may or may not be reported. fn
	// may call the store's methods.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Delete removes key; deleting a missing key returns an error wrapping
	// ErrNotFound, so of two concurrent Deletes of one key one fails.
	Delete(ctx context.Context, key string) error

	// Location is a human-readable name of the store (a path, or a URL
	// without secrets), for messages and logs.
	Location() string
}

// KeyLister is implemented by stores that list keys alone more cheaply
// than List lists them with their Info (Local, which stats every file
// for a size and time).
type KeyLister interface {
	// ListKeys is List reporting keys alone: the same objects, by the
	// same rules.
	ListKeys(ctx context.Context, prefix string, fn func(key string) error) error
}

// ListKeys lists the keys under prefix as List does, through s's ListKeys
// when it has one (KeyLister).
func ListKeys(ctx context.Context, s Store, prefix string, fn func(key string) error) error {
	if kl, ok := s.(KeyLister); ok {
		return kl.ListKeys(ctx, prefix, fn)
	}
	return s.List(ctx, prefix, func(i Info) error { return fn(i.Key) })
}

// Opener is implemented by stores whose objects can be opened as files
// and read at any offset, each read costing no request (Local). A reader
// of many small ranges then reads each directly, rather than whole
// objects into a cache of its own to save requests.
type Opener interface {
	// Open opens key for reading. A missing object gives an error
	// wrapping ErrNotFound.
	Open(ctx context.Context, key string) (Object, error)
}

// Object is an object open for reading at any offset; Size is its size
// when it was opened. ReadAt may be called concurrently.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ReadListed reads the whole object under key, listed as size bytes,
// into one buffer of that size (ReadAll's grows as it reads, to about
// twice the object). It refuses an object listed or found larger than
// limit, or found longer than listed, with an error wrapping ErrTooLarge,
// reading none of it when the listing says so. An object found shorter
// than listed is returned as read, for the caller's checks to reject.
func ReadListed(ctx context.Context, s Store, key string, size, limit int64) ([]byte, error) {
	if size < 0 || size > limit {
		return nil, fmt.Errorf("read %s: listed as %d bytes, more than %d: %w", key, size, limit, ErrTooLarge)
	}
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size+1)
	n, err := io.ReadFull(rc, buf)
	cerr := rc.Close()
	switch {
	case err == nil: // size+1 bytes
		return nil, fmt.Errorf("read %s: longer than the %d bytes listed: %w", key, size, ErrTooLarge)
	case !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("read %s: %w", key, err)
	case cerr != nil:
		return nil, fmt.Errorf("read %s: %w", key, cerr)
	}
	return buf[:n:n], nil
}

// ReadAll reads the whole object under key into memory. It refuses an
// object larger than limit bytes with an error wrapping ErrTooLarge, reading
// at most limit+1 bytes of it, so the caller's memory stays bounded by limit
// whatever the store holds. limit must not be negative.
func ReadAll(ctx context.Context, s Store, key string, limit int64) ([]byte, error) {
	if limit < 0 {
		return nil, fmt.Errorf("remote: read %s: negative limit %d", key, limit)
	}
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	n := limit
	if n < math.MaxInt64 {
		n++
	}
	data, err := io.ReadAll(io.LimitReader(rc, n))
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: more than %d bytes: %w", key, limit, ErrTooLarge)
	}
	return data, nil
}
