package snapshot

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// maxManifest bounds a stored manifest, maxManifestJSON what it expands
// to, and maxManifestValues the JSON values in it (jsonValues). A manifest
// is mostly a few kilobytes, but carries one image's XML fields, which a
// WIM may make as large as its XML (64 MiB); each small JSON value decodes
// into about a hundred bytes, so the count bounds memory where the size
// alone would let a few hostile bytes claim gigabytes. Snapshot and import
// refuse to store a manifest past these bounds.
const (
	maxManifest       = 64 << 20
	maxManifestJSON   = 64 << 20
	maxManifestValues = 1 << 20
)

// checkManifestJSON refuses JSON that exceeds the manifest bounds.
func checkManifestJSON(b []byte) error {
	if len(b) > maxManifestJSON {
		return fmt.Errorf("%w: manifest of %d bytes (at most %d)", ErrRepoFormat, len(b), maxManifestJSON)
	}
	if n := jsonValues(b); n > maxManifestValues {
		return fmt.Errorf("%w: manifest of %d JSON values (at most %d)", ErrRepoFormat, n, maxManifestValues)
	}
	return nil
}

// jsonValues counts the objects, arrays and commas of the JSON b outside
// its strings: a bound on the values it holds (a tags array of 22 million
// empty strings, 7 KB stored, decoded into 1.25 GB where objects and
// arrays alone were counted).
func jsonValues(b []byte) int {
	n, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped character, a quote say
		case c == '"':
			inString = !inString
		case !inString && (c == '{' || c == '[' || c == ','):
			n++
		}
	}
	return n
}

// Manifest is a snapshot: what was captured, when, from where, and the
// image's metadata resource, stored as a stream. Stored as zstd-compressed
// JSON under snapshots/<id>, id being the SHA-256 of the stored bytes.
type Manifest struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Source  string    `json:"source"`
	// SourceBytes holds Source's exact bytes when Source is not valid UTF-8,
	// which JSON cannot carry ("source" then has U+FFFD for those bytes);
	// putManifest sets it and decodeManifest takes Source back from it, so
	// that a directory named in latin-1 keeps its own parent and forget
	// --path finds it. Nil (left out) for a valid UTF-8 Source.
	SourceBytes []byte `json:"source_bytes,omitempty"`
	// Kind is KindTree or KindImport, which tells a tree whose path looks
	// like an import's source ("x.wim#1") from an imported image; empty in
	// manifests of builds before it (see IsImport).
	Kind     string      `json:"kind,omitempty"`
	Parent   string      `json:"parent,omitempty"`
	Tags     []string    `json:"tags,omitempty"`
	Image    ImageFields `json:"image"`
	Metadata StreamRef   `json:"metadata"`
	Summary  RunSummary  `json:"summary"`

	// ID is the snapshot id (hex); not part of the stored JSON.
	ID string `json:"-"`
}

// ImageFields are the WIM XML fields a snapshot carries into an export.
type ImageFields struct {
	Name               string `json:"name,omitempty"`
	Description        string `json:"description,omitempty"`
	DisplayName        string `json:"display_name,omitempty"`
	DisplayDescription string `json:"display_description,omitempty"`
	Flags              string `json:"flags,omitempty"`
	Creator            string `json:"creator,omitempty"`
	Version            string `json:"version,omitempty"`
	// Created is an imported image's CREATIONTIME, which an export keeps
	// as wimlib-imagex export and DISM /Export-Image do; zero for a
	// snapshot of a tree, whose export is created at the snapshot's time.
	Created time.Time `json:"created,omitzero"`
	// Extra keeps XML elements of an imported image that wimsnap does not
	// interpret (DISM's WINDOWS element), so an export carries them.
	Extra []wim.XMLNode `json:"extra,omitempty"`
	// Boot says that the image was the boot image of the WIM it was
	// imported from (the header's boot index), which an export marks it
	// again (ExportOptions.BootIndex). Older manifests lack it: false.
	Boot bool `json:"boot,omitempty"`
}

// setWindows records the WINDOWS element in Extra and fills the display
// name, display description and flags from it where they are empty, as a
// plain capture does.
func (f *ImageFields) setWindows(w *wim.WindowsInfo) {
	info, boot := f.info(), f.Boot
	info.SetWindows(w)
	*f = imageFields(&info)
	f.Boot = boot
}

// imageFields returns the fields of an image's XML that a snapshot keeps.
func imageFields(in *wim.ImageInfo) ImageFields {
	f := ImageFields{Name: in.Name, Description: in.Description, DisplayName: in.DisplayName,
		DisplayDescription: in.DisplayDescription, Flags: in.Flags, Creator: in.Creator, Version: in.Version,
		Extra: in.Extra}
	// A time past the year 9999 (a FILETIME runs to 60056) is dropped:
	// the manifest's JSON could not hold it, and no real image was made then.
	if t := in.CreationTime.Time(); in.CreationTime != 0 && t.Year() <= 9999 {
		f.Created = t
	}
	return f
}

// info returns the fields as an image's XML information, without the
// counts, sizes and modification time the WIM writer sets.
func (f *ImageFields) info() wim.ImageInfo {
	in := wim.ImageInfo{Name: f.Name, Description: f.Description, DisplayName: f.DisplayName,
		DisplayDescription: f.DisplayDescription, Flags: f.Flags, Creator: f.Creator, Version: f.Version,
		Extra: f.Extra}
	if !f.Created.IsZero() {
		in.CreationTime = wim.FiletimeFromTime(f.Created)
	}
	return in
}

// StreamRef names a stream by SHA-1 (hex) and size.
type StreamRef struct {
	SHA1 string `json:"sha1"`
	Size int64  `json:"size"`
}

// RunSummary summarises a snapshot run.
type RunSummary struct {
	Dirs        int64   `json:"dirs"`
	Files       int64   `json:"files"`
	Symlinks    int64   `json:"symlinks"`
	Special     int64   `json:"special"`
	Bytes       int64   `json:"bytes"`
	FilesRead   int64   `json:"files_read"`
	BytesRead   int64   `json:"bytes_read"`
	Reused      int64   `json:"files_unchanged"`
	Skipped     int64   `json:"skipped"`
	NewChunks   int64   `json:"new_chunks"`
	NewRaw      int64   `json:"new_bytes"`
	NewStored   int64   `json:"new_bytes_stored"`
	Packs       int64   `json:"packs"`
	DurationSec float64 `json:"duration_seconds"`
}

func (m *Manifest) hash() (wim.Hash, error) {
	var h wim.Hash
	b, err := hex.DecodeString(m.Metadata.SHA1)
	if err != nil || len(b) != len(h) || m.Metadata.Size <= 0 || m.Metadata.SHA1 != strings.ToLower(m.Metadata.SHA1) ||
		wim.Hash(b).IsZero() {
		return h, fmt.Errorf("%w: snapshot %s: metadata stream %q", ErrRepoFormat, m.ID, m.Metadata.SHA1)
	}
	copy(h[:], b)
	return h, nil
}

// ShortID is the first 8 hex digits of the id.
func (m *Manifest) ShortID() string { return shortID(m.ID) }

// shortID returns the first 8 characters of the id (hex) id.
func shortID(id string) string { return id[:min(8, len(id))] }

// decodeManifest parses a stored manifest whose id is id.
func (r *Repo) decodeManifest(id index.ID, stored []byte) (*Manifest, error) {
	name := hex.EncodeToString(id[:])
	if objectID(stored) != id {
		return nil, fmt.Errorf("%w: snapshot %s: checksum mismatch", ErrRepoFormat, name)
	}
	b, err := r.zstd.expand(stored, "snapshot "+name, maxManifestJSON)
	if err != nil {
		return nil, err
	}
	if err := checkManifestJSON(b); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %w", ErrRepoFormat, name, err)
	}
	if m.Version > RepoVersion {
		return nil, fmt.Errorf("%w: snapshot %s: manifest version %d (this wimsnap reads %d); upgrade wimsnap to use it",
			ErrNewerFormat, name, m.Version, RepoVersion)
	}
	if m.Version != RepoVersion {
		return nil, fmt.Errorf("%w: snapshot %s: version %d", ErrRepoFormat, name, m.Version)
	}
	m.ID = name
	if m.SourceBytes != nil {
		m.Source = string(m.SourceBytes)
	}
	if _, err := m.hash(); err != nil {
		return nil, err
	}
	return &m, nil
}

// readManifest reads the manifest id from the store and decodes it; it
// returns the stored bytes too.
func (r *Repo) readManifest(ctx context.Context, id index.ID) (*Manifest, []byte, error) {
	stored, err := r.readObject(ctx, snapKey(id), id, maxManifest)
	return r.manifestOf(id, stored, err)
}

// manifestOf decodes stored, the bytes of manifest id as readObject read
// them, or returns err, the read's error.
func (r *Repo) manifestOf(id index.ID, stored []byte, err error) (*Manifest, []byte, error) {
	if err != nil {
		return nil, nil, err
	}
	m, err := r.decodeManifest(id, stored)
	return m, stored, err
}

// putManifest stores m and sets its ID.
func (r *Repo) putManifest(ctx context.Context, m *Manifest) ([]byte, index.ID, error) {
	m.Version = RepoVersion
	m.SourceBytes = nil
	if !utf8.ValidString(m.Source) {
		m.SourceBytes = []byte(m.Source)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, index.ID{}, err
	}
	if err := checkManifestJSON(b); err != nil {
		// Stored, it would make every listing of the repository fail.
		return nil, index.ID{}, fmt.Errorf("the image's information is too large to store: %w", err)
	}
	stored := r.zstd.compress(b)
	id := objectID(stored)
	if err := putBytes(ctx, r.store, snapKey(id), stored); err != nil {
		return nil, id, fmt.Errorf("storing manifest: %w", err)
	}
	m.ID = hex.EncodeToString(id[:])
	return stored, id, nil
}

// Snapshots returns the repository's snapshots, oldest first. It reads the
// manifests the local index has not cached (and caches them when it can).
func (r *Repo) Snapshots(ctx context.Context) ([]*Manifest, error) {
	var res []*Manifest
	err := r.retryCorrupt(ctx, func() (err error) {
		res, err = r.snapshots(ctx)
		return err
	})
	return res, err
}

func (r *Repo) snapshots(ctx context.Context) ([]*Manifest, error) {
	db, err := r.syncedIndex(ctx)
	if err != nil {
		return nil, err
	}
	defer closeIndex(db)
	var list []*Manifest
	err = db.Snapshots(func(id index.ID, stored []byte) error {
		m, err := r.decodeManifest(id, stored)
		if err != nil {
			return err
		}
		list = append(list, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortManifests(list)
	return list, nil
}

// sortManifests sorts oldest first.
func sortManifests(list []*Manifest) {
	slices.SortFunc(list, func(a, b *Manifest) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// FindSnapshot resolves a snapshot id, a unique prefix of one, or "latest"
// (the newest snapshot).
func (r *Repo) FindSnapshot(ctx context.Context, ref string) (*Manifest, error) {
	if m, err := r.findCached(ctx, ref); err == nil {
		return m, nil
	}
	// What went wrong is said, as before the summaries, by the listing of
	// every manifest (a damaged one that ref names among them).
	list, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	m, err := FindIn(list, ref)
	if errors.Is(err, ErrSnapshotNotFound) && !errors.Is(err, ErrSnapshotAmbiguous) && !strings.EqualFold(ref, "latest") {
		err = r.damagedMatch(ctx, ref, list, err)
	}
	return m, err
}

// findCached resolves ref as FindSnapshot does from the summaries of the
// snapshots the local index caches, decoding only the manifest it names.
func (r *Repo) findCached(ctx context.Context, ref string) (*Manifest, error) {
	db, err := r.syncedIndex(ctx)
	if err != nil {
		return nil, err
	}
	defer closeIndex(db)
	infos, err := r.snapInfos(db)
	if err != nil {
		return nil, err
	}
	return r.resolveInfo(db, infos, ref)
}

// noText wraps an error for errors.Is without adding to a message.
type noText struct{ err error }

func (n noText) Error() string { return "" }
func (n noText) Unwrap() error { return n.err }

// damagedMatch returns notFound, the failure to find ref among the
// readable manifests list, or, when a manifest the repository holds that
// is not among them matches ref, an error saying it is damaged.
func (r *Repo) damagedMatch(ctx context.Context, ref string, list []*Manifest, notFound error) error {
	id, err := r.FindDamaged(ctx, ref, list)
	switch {
	case err != nil:
		return err
	case id == "":
		return notFound
	}
	return fmt.Errorf("%w: %q is snapshot %s, whose manifest is damaged and cannot be read (see 'wimsnap check'; 'wimsnap forget %s' removes it)",
		ErrSnapshotNotFound, ref, id[:8], id[:8])
}

// FindDamaged returns the id of the manifest that ref (an id or a prefix
// of one) names among those the repository holds that are not in list,
// the readable manifests (Snapshots): a manifest that cannot be read.
// It returns "" when none matches, when ref begins more than one id
// (readable ones included), or when the listing fails. A manifest of a
// newer format is not damage: for it, FindDamaged returns "" and an error
// that wraps ErrNewerFormat and ErrSnapshotNotFound and says so (the
// listing had warned of it; "no such snapshot" said otherwise).
func (r *Repo) FindDamaged(ctx context.Context, ref string, list []*Manifest) (string, error) {
	id, err := r.unreadableMatch(ctx, ref, list)
	if errors.Is(err, ErrNewerFormat) {
		return "", fmt.Errorf("%q is snapshot %s: %w%w", ref, id[:8], err, noText{ErrSnapshotNotFound})
	}
	return id, nil
}

// unreadableMatch returns the id of the manifest that ref names among
// those the repository holds that are not in list, as FindDamaged, with
// the error reading it gives; "" when none matches.
func (r *Repo) unreadableMatch(ctx context.Context, ref string, list []*Manifest) (string, error) {
	ref = strings.ToLower(ref)
	if ref == "" || ref == "latest" {
		return "", nil
	}
	ids, err := listIDs(ctx, r.store, snapPrefix)
	if err != nil {
		return "", nil
	}
	readable := make(map[string]bool, len(list))
	for _, m := range list {
		readable[m.ID] = true
	}
	found, matches := "", 0
	for id := range ids {
		if s := hex.EncodeToString(id[:]); strings.HasPrefix(s, ref) {
			if matches++; !readable[s] {
				found = s
			}
		}
	}
	if matches != 1 || found == "" {
		return "", nil // none, or ambiguous: not one snapshot
	}
	_, _, err = r.readManifest(ctx, objectIDFromHex(found))
	return found, err
}

// FindIn resolves ref among list (oldest first) as FindSnapshot does.
func FindIn(list []*Manifest, ref string) (*Manifest, error) {
	i, err := findRef(len(list), func(i int) string { return list[i].ID }, ref)
	if err != nil {
		return nil, err
	}
	return list[i], nil
}

// findRef resolves ref as FindIn does among n snapshots, oldest first,
// the i-th of which has the id (hex) id(i), and returns its position.
func findRef(n int, id func(i int) string, ref string) (int, error) {
	if strings.EqualFold(ref, "latest") {
		if n == 0 {
			return 0, fmt.Errorf("%w: the repository has no snapshots", ErrSnapshotNotFound)
		}
		return n - 1, nil
	}
	lower := strings.ToLower(ref)
	var found []int
	for i := range n {
		if lower != "" && strings.HasPrefix(id(i), lower) {
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: %q", ErrSnapshotNotFound, ref)
	case 1:
		return found[0], nil
	}
	var ids []string
	for _, i := range found[:min(len(found), 3)] {
		ids = append(ids, shortID(id(i)))
	}
	if len(found) > 3 {
		ids = append(ids, "...")
	}
	// Named ambiguous, not "no such snapshot", though it is both.
	return 0, fmt.Errorf("%w: %q is the prefix of %d snapshots (%s)%w", ErrSnapshotAmbiguous, ref, len(found),
		strings.Join(ids, ", "), noText{ErrSnapshotNotFound})
}

// putBytes stores b under key.
func putBytes(ctx context.Context, s remote.Store, key string, b []byte) error {
	return s.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}
