package snapshot

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// maxRun bounds the bytes one ranged read fetches for consecutive chunks.
const maxRun = 4 << 20

// repoSource reads streams back from a repository through the local index.
// OpenStream may be called from several goroutines at once.
type repoSource struct {
	ctx  context.Context
	r    *Repo
	db   *index.DB
	decs *decoders
}

func (r *Repo) newSource(ctx context.Context, db *index.DB) *repoSource {
	return &repoSource{ctx: ctx, r: r, db: db, decs: &decoders{}}
}

// OpenStream returns a reader of stream h that checks its SHA-1 at the end.
func (s *repoSource) OpenStream(h wim.Hash) (io.ReadCloser, error) {
	rec, ok, err := s.db.Stream(index.SHA1(h))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: stream %x is not in the repository's index", wim.ErrNotFound, h)
	}
	return &repoStream{src: s, hash: h, rec: rec, sum: sha1.New()}, nil
}

// readStream reads a whole stream (for metadata resources).
func (s *repoSource) readStream(h wim.Hash, limit int64) ([]byte, error) {
	rc, err := s.OpenStream(h)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	rs := rc.(*repoStream)
	if rs.rec.Size > limit {
		return nil, fmt.Errorf("%w: stream %x: %d bytes, more than %d", ErrRepoFormat, h, rs.rec.Size, limit)
	}
	return io.ReadAll(rc)
}

// repoStream reads the chunks of one stream, fetching runs of chunks that
// lie back to back in one pack with one ranged read.
type repoStream struct {
	src  *repoSource
	hash wim.Hash
	rec  index.Recipe
	sum  hash.Hash
	next int    // index of the next chunk to fetch
	run  []byte // stored bytes of the fetched run
	locs []index.Location
	ri   int    // next chunk of the run to expand
	cur  []byte // expanded chunk being read
	pos  int
	done int64
	err  error
}

func (rs *repoStream) Read(p []byte) (int, error) {
	for rs.pos == len(rs.cur) {
		if rs.err != nil {
			return 0, rs.err
		}
		rs.err = rs.advance()
	}
	n := copy(p, rs.cur[rs.pos:])
	rs.pos += n
	return n, nil
}

// advance expands the next chunk into cur, or ends the stream.
func (rs *repoStream) advance() error {
	if rs.ri == len(rs.locs) {
		if rs.next == len(rs.rec.Chunks) {
			return rs.end()
		}
		if err := rs.fetch(); err != nil {
			return err
		}
	}
	l := rs.locs[rs.ri]
	off := l.Offset - rs.locs[0].Offset
	stored := rs.run[off : off+uint64(l.Stored)]
	cur, err := rs.src.decs.expandChunk(rs.cur, stored, int(l.Raw), l.Codec)
	if err != nil {
		return fmt.Errorf("stream %x chunk %d (pack %s): %w", rs.hash, rs.next-len(rs.locs)+rs.ri,
			hex.EncodeToString(l.Pack[:4]), err)
	}
	wantRaw := min(RepoChunkSize, rs.rec.Size-rs.done)
	if int64(len(cur)) != wantRaw {
		return fmt.Errorf("%w: stream %x: chunk of %d bytes, want %d", ErrRepoFormat, rs.hash, len(cur), wantRaw)
	}
	rs.sum.Write(cur)
	rs.done += int64(len(cur))
	rs.cur, rs.pos = cur, 0
	rs.ri++
	return nil
}

// end checks the stream's SHA-1 once every chunk is read.
func (rs *repoStream) end() error {
	var h wim.Hash
	rs.sum.Sum(h[:0])
	if rs.done != rs.rec.Size || h != rs.hash {
		return fmt.Errorf("%w: stream %x: contents do not match its SHA-1", ErrRepoFormat, rs.hash)
	}
	return io.EOF
}

// fetch reads the next run of chunks.
func (rs *repoStream) fetch() error {
	rs.locs = rs.locs[:0]
	rs.ri = 0
	var size uint64
	for rs.next < len(rs.rec.Chunks) {
		id := rs.rec.Chunks[rs.next]
		l, ok, err := rs.src.db.Chunk(id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: stream %x: chunk %s is not in the repository's index", wim.ErrNotFound, rs.hash, hex.EncodeToString(id[:]))
		}
		if len(rs.locs) > 0 {
			first, last := rs.locs[0], rs.locs[len(rs.locs)-1]
			if l.Pack != first.Pack || l.Offset != last.Offset+uint64(last.Stored) || size+uint64(l.Stored) > maxRun {
				break
			}
		}
		rs.locs = append(rs.locs, l)
		size += uint64(l.Stored)
		rs.next++
	}
	first := rs.locs[0]
	rc, err := rs.src.r.store.Get(rs.src.ctx, packKey(first.Pack), int64(first.Offset), int64(size))
	if err != nil {
		return fmt.Errorf("snapshot: stream %x: %w", rs.hash, err)
	}
	defer closeRead(rc)
	if cap(rs.run) < int(size) {
		rs.run = make([]byte, size)
	}
	rs.run = rs.run[:size]
	if _, err := io.ReadFull(rc, rs.run); err != nil {
		return fmt.Errorf("snapshot: stream %x: reading pack %x: %w", rs.hash, first.Pack[:4], err)
	}
	return nil
}

func (rs *repoStream) Close() error { return nil }
