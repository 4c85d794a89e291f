package snapshot

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// A snapshot's summary in the local index (index.DB.SnapshotInfos) holds
// what choosing a snapshot by time, host and source needs of its manifest,
// so that a snapshot picks its parent, and restore finds "latest", without
// decoding every manifest (checksum, zstd, JSON: about 12 us each here,
// 4.5 ms of an unchanged snapshot of a repository of a year of nightly
// snapshots).

// snapInfo is a snapshot's summary.
type snapInfo struct {
	id       index.ID
	time     time.Time
	imported bool // Manifest.IsImport
	host     string
	source   string
}

// infoFormat is the first byte of an encoded summary; a summary of another
// format is ignored (the manifest is decoded instead).
const infoFormat = 2

// encodeInfo returns the summary of m: infoFormat u8 | seconds i64 |
// nanoseconds u32 | imported u8 | host length uvarint | host | source |
// CRC-32C of what precedes u32. bbolt keeps no checksums, and a damaged
// time would make another snapshot "latest"; a summary that fails its
// check is ignored like a missing one.
func encodeInfo(m *Manifest) []byte {
	b := make([]byte, 0, 18+binary.MaxVarintLen64+len(m.Host)+len(m.Source))
	b = append(b, infoFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Time.Nanosecond()))
	imported := byte(0)
	if m.IsImport() {
		imported = 1
	}
	b = append(b, imported)
	b = binary.AppendUvarint(b, uint64(len(m.Host)))
	b = append(b, m.Host...)
	b = append(b, m.Source...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeInfo parses the summary b of snapshot id; false when b is not one
// encodeInfo wrote.
func decodeInfo(id index.ID, b []byte) (snapInfo, bool) {
	if len(b) < 18 || crc32.Checksum(b[:len(b)-4], castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return snapInfo{}, false
	}
	b = b[:len(b)-4]
	if b[0] != infoFormat || b[13] > 1 {
		return snapInfo{}, false
	}
	sec, nsec := int64(binary.BigEndian.Uint64(b[1:])), binary.BigEndian.Uint32(b[9:])
	n, k := binary.Uvarint(b[14:])
	if k <= 0 || nsec >= 1e9 || n > uint64(len(b)-14-k) {
		return snapInfo{}, false
	}
	rest := b[14+k:]
	return snapInfo{id: id, time: time.Unix(sec, int64(nsec)), imported: b[13] == 1,
		host: string(rest[:n]), source: string(rest[n:])}, true
}

// infoOf returns m's summary as snapInfos gives it.
func infoOf(id index.ID, m *Manifest) snapInfo {
	return snapInfo{id: id, time: m.Time, imported: m.IsImport(), host: m.Host, source: m.Source}
}

// snapInfos returns the summaries of the snapshots db caches, oldest
// first, in the order of sortManifests. A snapshot cached without a
// summary (by a wimsnap before them, until the next sync writes one) is
// summarised from its manifest; one whose manifest does not decode is
// left out, as the listings of manifests leave it out.
func (r *Repo) snapInfos(db *index.DB) ([]snapInfo, error) {
	var infos []snapInfo
	var bare []index.ID
	err := db.SnapshotInfos(func(id index.ID, b []byte) error {
		if in, ok := decodeInfo(id, b); ok {
			infos = append(infos, in)
		} else {
			bare = append(bare, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range bare {
		if m, err := r.cachedManifest(db, id); err == nil {
			infos = append(infos, infoOf(id, m))
		}
	}
	slices.SortFunc(infos, func(a, b snapInfo) int {
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	return infos, nil
}

// resolveInfo resolves ref as FindIn does among infos (as snapInfos
// returns them) and decodes the manifest it names.
func (r *Repo) resolveInfo(db *index.DB, infos []snapInfo, ref string) (*Manifest, error) {
	i, err := findRef(len(infos), func(i int) string { return hex.EncodeToString(infos[i].id[:]) }, ref)
	if err != nil {
		return nil, err
	}
	return r.cachedManifest(db, infos[i].id)
}

// cachedManifest decodes the manifest of snapshot id that db caches.
func (r *Repo) cachedManifest(db *index.DB, id index.ID) (*Manifest, error) {
	stored, ok, err := db.SnapshotManifest(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s (no longer in the local index)", ErrSnapshotNotFound, hex.EncodeToString(id[:]))
	}
	return r.decodeManifest(id, stored)
}
