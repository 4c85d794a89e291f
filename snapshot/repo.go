package snapshot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// Repository errors.
var (
	// ErrNoRepository: the store holds no repository config.
	ErrNoRepository = errors.New("snapshot: no repository at this location")
	// ErrConfigMissing: the store holds a repository's data (packs,
	// index objects or snapshots) but not its config. It is not
	// ErrNoRepository: no new config may be written over that data.
	ErrConfigMissing = errors.New("snapshot: the repository's config is missing")
	// ErrRepositoryExists: init found a config already.
	ErrRepositoryExists = errors.New("snapshot: a repository exists at this location")
	// ErrRepoFormat: an object of the repository is malformed or fails its
	// checksum.
	ErrRepoFormat = errors.New("snapshot: malformed repository object")
	// ErrNewerFormat: the config, a manifest, pack or index object has a format
	// version newer than this wimsnap reads. It is not damage: nothing
	// may remove it, nor delete the data it may use.
	ErrNewerFormat = errors.New("snapshot: written by a newer wimsnap")
	// ErrSnapshotNotFound: no snapshot matches the given id or prefix.
	ErrSnapshotNotFound = errors.New("snapshot: no such snapshot")
	// ErrSnapshotAmbiguous is wrapped, beside ErrSnapshotNotFound, by the
	// error for a prefix that more than one snapshot id begins with.
	ErrSnapshotAmbiguous = errors.New("snapshot: ambiguous snapshot reference")
)

// RepoVersion is the repository format version this package writes and
// reads (docs/repository.md).
const RepoVersion = 1

// RepoChunkSize is the chunk size of every repository: WIM's.
const RepoChunkSize = 32768

// Object key prefixes of the layout in docs/repository.md.
const (
	configKey    = "config"
	packPrefix   = "packs/"
	indexPrefix  = "index/"
	snapPrefix   = "snapshots/"
	lockPrefix   = "locks/"
	maxConfigLen = 64 << 10
)

// RepoConfig is the repository's config object (JSON).
type RepoConfig struct {
	Version   int    `json:"version"`
	ID        string `json:"id"`
	ChunkSize int    `json:"chunk_size"`
	Codec     string `json:"codec"`
	// Level is the compression level of new XPRESS chunks, as
	// --compress=xpress:LEVEL gives it (wimlib's scale: 20 quick, 50
	// medium, 100 high); 0, or absent, is the repository's default, the
	// fast encoder (see newChunkEncoder). Other codecs ignore it.
	Level   int       `json:"level,omitempty"`
	Created time.Time `json:"created"`
	// ConditionalWrites records whether the store refused a second
	// create-if-absent write of one key when the repository was made (S3
	// servers that ignore If-None-Match do not). Locks rely on it.
	ConditionalWrites bool `json:"conditional_writes"`
}

// Repo is an open repository. Its methods are not safe for concurrent use
// unless stated.
type Repo struct {
	store remote.Store
	cfg   RepoConfig
	codec wim.Compression
	cache string     // the index file of this repository
	spool string     // the directory of spool files (spool.go)
	reads *readSpool // where the packs reads fetch wait: spool, or the temporary directory after its disk filled
	// packSize is the size at which new packs close: packTarget, smaller
	// in tests that need many packs.
	packSize int64
	// objectEntries bounds the entries of an index object it writes:
	// maxObjectEntries, smaller in tests that need many objects.
	objectEntries int
	now           func() time.Time
	zstd          *zcodec
	warn          func(error) // RepoOptions.Warn, or nil
	leftOut       sync.Map    // the snapshots and index objects damageWarn has warned about, by id
	// damagedObjects is set once a sync found an index object damaged:
	// a stream or chunk the local index lacks is then the repository's
	// loss, not a damaged local index to rebuild (see retryRebuilt).
	damagedObjects atomic.Bool
}

// RepoOptions configures OpenRepo.
type RepoOptions struct {
	// CacheDir holds the bbolt index files, one per repository id.
	CacheDir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Warn, if set, is told, once for each rebuild, that a method found
	// the local index damaged and rebuilt it from the repository: a file
	// that did not open, or one that lacked a stream or chunk the
	// repository has (see retryRebuilt). Check says so in its result too,
	// and Snapshot to its own Warn. It is also told, once for each
	// snapshot, that a snapshot was left out of the local index because
	// its manifest cannot be read, and, once for each index object, that
	// an index object is damaged, and, once for each restore, export or
	// check, that the disk of CacheDir has no room for the packs read from
	// the store, which are then kept in the system's temporary directory.
	// It may be called from any goroutine.
	Warn func(error)
}

// InitRepo writes a new repository's config into store. codec is the
// chunk codec (none, XPRESS or LZX). It fails with ErrRepositoryExists
// when the store has one already, and with ErrConfigMissing when it holds
// a repository's data without one.
func InitRepo(ctx context.Context, store remote.Store, codec wim.Compression) (RepoConfig, error) {
	return InitRepoLevel(ctx, store, codec, 0)
}

// InitRepoLevel is InitRepo with the compression level of new chunks
// (RepoConfig.Level): 0 for the default, else positive.
func InitRepoLevel(ctx context.Context, store remote.Store, codec wim.Compression, level int) (RepoConfig, error) {
	if codec != wim.CompressNone && codec != wim.CompressXPRESS && codec != wim.CompressLZX {
		return RepoConfig{}, fmt.Errorf("repository codec %v: none, xpress or lzx", codec)
	}
	if level < 0 {
		return RepoConfig{}, fmt.Errorf("repository compression level %d: want 0 (the default) or more", level)
	}
	if err := noData(ctx, store); err != nil {
		if _, serr := store.Stat(ctx, configKey); serr != nil { // with a config: ErrRepositoryExists below
			return RepoConfig{}, fmt.Errorf("init: %w", err)
		}
	}
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return RepoConfig{}, err
	}
	cond, err := remote.ProbeConditionalWrites(ctx, store, probePrefix+hex.EncodeToString(id[:8]))
	if err != nil {
		return RepoConfig{}, fmt.Errorf("init: probing conditional writes: %w", err)
	}
	cfg := RepoConfig{Version: RepoVersion, ID: hex.EncodeToString(id[:]), ChunkSize: RepoChunkSize,
		Codec: codec.String(), Level: level, Created: time.Now().UTC().Truncate(time.Second), ConditionalWrites: cond}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return RepoConfig{}, err
	}
	err = store.PutIfAbsent(ctx, configKey, append(b, '\n'))
	if errors.Is(err, remote.ErrExists) {
		return RepoConfig{}, fmt.Errorf("%w: %s", ErrRepositoryExists, store.Location())
	}
	if err != nil {
		return RepoConfig{}, fmt.Errorf("init: %w", err)
	}
	return cfg, nil
}

// OpenRepo reads the config of the repository in store. Without one it
// fails with ErrNoRepository, or ErrConfigMissing when the store holds a
// repository's data.
func OpenRepo(ctx context.Context, store remote.Store, opts RepoOptions) (*Repo, error) {
	b, err := remote.ReadAll(ctx, store, configKey, maxConfigLen)
	if errors.Is(err, remote.ErrNotFound) {
		if err := noData(ctx, store); errors.Is(err, ErrConfigMissing) {
			return nil, err // a store that cannot be listed is taken for empty
		}
		return nil, fmt.Errorf("%w: %s", ErrNoRepository, store.Location())
	}
	if err != nil {
		return nil, fmt.Errorf("reading repository config: %w", damaged(err))
	}
	var cfg RepoConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%w: config: %w", ErrRepoFormat, err)
	}
	codec, ok := wim.ParseCompression(cfg.Codec)
	switch {
	case cfg.Version > RepoVersion:
		return nil, fmt.Errorf("%w (config: format %d; this wimsnap reads %d): upgrade wimsnap to use it", ErrNewerFormat, cfg.Version, RepoVersion)
	case cfg.Version != RepoVersion:
		return nil, fmt.Errorf("%w: config: format version %d (this wimsnap reads %d)", ErrRepoFormat, cfg.Version, RepoVersion)
	case cfg.ChunkSize != RepoChunkSize:
		return nil, fmt.Errorf("%w: config: chunk size %d", ErrRepoFormat, cfg.ChunkSize)
	case !ok || codec == wim.CompressLZMS:
		return nil, fmt.Errorf("%w: config: codec %q", ErrRepoFormat, cfg.Codec)
	case cfg.Level < 0:
		return nil, fmt.Errorf("%w: config: compression level %d", ErrRepoFormat, cfg.Level)
	case !validID(cfg.ID):
		return nil, fmt.Errorf("%w: config: id %q is not 64 hexadecimal digits", ErrRepoFormat, cfg.ID)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	spool := filepath.Join(opts.CacheDir, "spool")
	if opts.CacheDir == "" {
		var err error
		if spool, err = tempSpool(); err != nil {
			return nil, fmt.Errorf("%w: %w", errSpool, err)
		}
	}
	sweepSpool(spool, opts.Now())
	return &Repo{store: store, cfg: cfg, codec: codec, now: opts.Now, zstd: newZcodec(), warn: opts.Warn,
		cache: filepath.Join(opts.CacheDir, cfg.ID+".db"), spool: spool, reads: &readSpool{dir: spool, warn: opts.Warn}, packSize: packTarget,
		objectEntries: maxObjectEntries}, nil
}

// Config returns the repository's config.
func (r *Repo) Config() RepoConfig { return r.cfg }

// Store returns the store the repository lives in.
func (r *Repo) Store() remote.Store { return r.store }

// IndexPath is the bbolt index file of this repository.
func (r *Repo) IndexPath() string { return r.cache }

// CachePaths are the files and directories this repository's commands
// write in the cache directory (RepoOptions.CacheDir): the index, the
// metadata cache and the spool, which may not exist yet.
func (r *Repo) CachePaths() []string { return []string{r.cache, r.metaCache().dir, r.spool} }

// LocalPaths are the local files and directories of this repository: its
// caches (the index, the metadata cache, the spool) and, for a repository
// on local disk, its directory. A snapshot of a tree that holds them
// leaves them out, or each snapshot of / would store the repository again.
func (r *Repo) LocalPaths() []string {
	// The cache's directories are made now if missing: one made later,
	// while a snapshot walks the tree that holds it, would be captured.
	for _, d := range []string{r.metaCache().dir, r.spool} {
		_ = os.MkdirAll(d, 0o700) // else nothing is there to capture
	}
	paths := r.CachePaths()
	if loc := r.store.Location(); filepath.IsAbs(loc) { // a local store's directory
		paths = append(paths, loc)
	}
	return paths
}

// magicErr is the error for an object whose magic is got, not want:
// ErrNewerFormat when got is want with a higher version digit (a newer
// wimsnap's object, which is not damage), else ErrRepoFormat.
func magicErr(got []byte, want string) error {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if len(got) == len(want) && i < len(want) && string(got[i+1:]) == want[i+1:] &&
		want[i] >= '0' && want[i] <= '9' && got[i] > want[i] && got[i] <= '9' {
		return fmt.Errorf("%w (format %c; this wimsnap reads %c): upgrade wimsnap to use it", ErrNewerFormat, got[i], want[i])
	}
	return ErrRepoFormat
}

// objectID is the id of a stored object: SHA-256 of its bytes.
func objectID(b []byte) index.ID { return index.ID(sha256.Sum256(b)) }

// readObject reads the whole object key, of at most limit bytes, whose
// bytes should hash to id (see readTwice).
func (r *Repo) readObject(ctx context.Context, key string, id index.ID, limit int64) ([]byte, error) {
	return readTwice(id, func() ([]byte, error) { return remote.ReadAll(ctx, r.store, key, limit) })
}

// readPack reads pack id, listed as size bytes, whole, as readObject
// does but in one buffer of its size (remote.ReadListed): one listed
// larger than maxPack is refused unread.
func (r *Repo) readPack(ctx context.Context, id index.ID, size int64) ([]byte, error) {
	return readTwice(id, func() ([]byte, error) { return remote.ReadListed(ctx, r.store, packKey(id), size, maxPack) })
}

// readTwice returns the bytes read, which should hash to id. Bytes that do
// not are read once more, so that damage in transfer is not taken for
// damage in the repository; the second copy is returned whether it
// matches or not, and the caller checks.
func readTwice(id index.ID, read func() ([]byte, error)) ([]byte, error) {
	data, err := read()
	if err != nil || objectID(data) == id {
		return data, damaged(err)
	}
	again, err := read()
	if err != nil {
		return data, nil //nolint:nilerr // the caller reports the first copy's damage
	}
	return again, nil
}

// damaged returns err, marked ErrRepoFormat when it says that the store
// holds no object file where one should be (remote.ErrDamaged: a symbolic
// link, a FIFO), so that it is damage as a malformed object is.
func damaged(err error) error {
	if errors.Is(err, remote.ErrDamaged) {
		return fmt.Errorf("%w: %w", ErrRepoFormat, err)
	}
	return err
}

func packKey(id index.ID) string {
	h := hex.EncodeToString(id[:])
	return packPrefix + h[:2] + "/" + h
}

func indexKey(id index.ID) string { return indexPrefix + hex.EncodeToString(id[:]) }

func snapKey(id index.ID) string { return snapPrefix + hex.EncodeToString(id[:]) }

// validID reports whether s is 64 lower-case hexadecimal digits (it names
// the local index file, so it must be nothing else).
func validID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keyID returns the id of key, an object under prefix, when key is
// exactly the key the repository stores that id under (objectKey, or
// packKey for packs). It allocates nothing: a listing of a large
// repository calls it for every pack, index object and manifest.
func keyID(prefix, key string) (index.ID, bool) {
	var id index.ID
	dir := prefix
	if prefix == packPrefix {
		// packs/ab/abcd...: the directory is the id's first two digits.
		n := len(packPrefix)
		if len(key) != n+3+64 || key[n+2] != '/' || key[n:n+2] != key[n+3:n+5] {
			return id, false
		}
		dir = key[:n+3]
	}
	if len(key) != len(dir)+64 || !strings.HasPrefix(key, dir) {
		return id, false
	}
	h := key[len(dir):]
	if !validID(h) { // lower case only, as objectKey writes
		return id, false
	}
	return parseID(h)
}

// parseID parses the 64 hexadecimal digits s (a manifest's ID), of either
// case, into an id. It allocates nothing: keyID calls it for every key of
// a listing.
func parseID(s string) (index.ID, bool) {
	var id index.ID
	if len(s) != 64 {
		return id, false
	}
	for i := range id {
		hi, okHi := hexValue(s[2*i])
		lo, okLo := hexValue(s[2*i+1])
		if !okHi || !okLo {
			return index.ID{}, false
		}
		id[i] = hi<<4 | lo
	}
	return id, true
}

// hexValue returns the value of the hexadecimal digit c.
func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
