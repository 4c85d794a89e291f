package wim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
)

// maxMetadataSize caps an image's uncompressed metadata resource; a Windows
// installation needs a few hundred MiB at most.
const maxMetadataSize = 1 << 30

// Reader reads a WIM file. Its methods may be called from several goroutines
// at once; readers returned by OpenStream are each for one goroutine.
type Reader struct {
	ra     io.ReaderAt
	size   int64
	hdr    Header
	blobs  map[Hash]*blob
	metas  []*blob // metadata resource of each image, in table order
	infos  []ImageInfo
	states decoderPools
	cache  chunkCache // decompressed chunks of solid resources
	ranked sync.Once  // solid blobs' ranks are set (rankSolid)
	parts  []*Reader  // of a split WIM, by part number less one: nil for one not added

	solidInputs solidInputs // compressed solid chunks being decompressed

	// solidDecoded counts solid chunks decompressed, for tests.
	solidDecoded atomic.Int64
}

// NewReader parses the header, blob table and XML of the WIM of the given
// size in r. Errors wrap ErrFormat (damage, naming the structure and offset)
// or ErrUnsupported (pipable or newer WIMs). A part of a split WIM reads as
// the streams it holds; AddPart adds the others' (see split.go).
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	buf := make([]byte, headerSize)
	if size < headerSize {
		return nil, fmt.Errorf("%w: header: file is %d bytes, shorter than the 208-byte header", ErrFormat, size)
	}
	if _, err := r.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("wim: reading header: %w", err)
	}
	var hdr Header
	var err error
	if [8]byte(buf[:8]) == pipableMagic {
		hdr, err = readPipableHeader(r, size)
	} else {
		hdr, err = parseHeader(buf)
	}
	if err != nil {
		return nil, err
	}
	wr := &Reader{ra: r, size: size, hdr: hdr, blobs: map[Hash]*blob{}}
	if hdr.Split() {
		wr.parts = make([]*Reader, hdr.Parts)
		wr.parts[hdr.Part-1] = wr
	}
	if err := wr.readBlobTable(); err != nil {
		return nil, err
	}
	if err := wr.readXML(); err != nil {
		return nil, err
	}
	return wr, nil
}

// Header returns the decoded header.
func (r *Reader) Header() Header { return r.hdr }

// ImageCount returns the number of images.
func (r *Reader) ImageCount() int { return int(r.hdr.ImageCount) }

// Image returns image i's (1-based) XML information; the zero ImageInfo
// for an index out of range.
func (r *Reader) Image(i int) ImageInfo {
	if i < 1 || i > len(r.infos) {
		return ImageInfo{}
	}
	return r.infos[i-1]
}

// Images returns the XML information of every image, in order.
func (r *Reader) Images() []ImageInfo { return append([]ImageInfo(nil), r.infos...) }

// rawResource reads an uncompressed resource whole, checking its bounds.
func (r *Reader) rawResource(what string, res resHdr, limit int64) ([]byte, error) {
	if res.flags&(resCompressed|resSolid) != 0 {
		return nil, fmt.Errorf("%w: compressed %s", ErrUnsupported, what)
	}
	if res.storedSize != res.size || res.size > limit || res.offset < 0 || res.offset+res.size > r.size {
		return nil, fmt.Errorf("%w: %s at offset %d of %d bytes lies outside the %d-byte file or is too large",
			ErrFormat, what, res.offset, res.size, r.size)
	}
	b := make([]byte, res.size)
	if _, err := r.ra.ReadAt(b, res.offset); err != nil {
		return nil, fmt.Errorf("%w: reading %s at offset %d: %w", ErrFormat, what, res.offset, err)
	}
	return b, nil
}

// readBlobTable loads the blob table, keeping entries as wimlib does.
func (r *Reader) readBlobTable() error {
	b, err := r.rawResource("blob table", r.hdr.blobTable, r.size)
	if err != nil {
		return err
	}
	n := len(b) / blobEntrySize
	slab := make([]blob, n) // one allocation for all entries
	r.blobs = make(map[Hash]*blob, n)
	for i := range slab {
		e := b[i*blobEntrySize : (i+1)*blobEntrySize]
		bl := &slab[i]
		*bl = blob{res: parseResHdr(e), part: binary.LittleEndian.Uint16(e[24:]), refCount: binary.LittleEndian.Uint32(e[26:]), in: r}
		copy(bl.hash[:], e[30:50])
	}
	for i := 0; i < n; i++ {
		bl := &slab[i]
		switch {
		case bl.res.flags&resSolid != 0 && r.hdr.Pipable:
			return fmt.Errorf("%w: pipable WIM: blob table entry %d is a solid resource, which pipable WIMs cannot hold", ErrFormat, i)
		case bl.res.flags&resSolid != 0:
			j := i + 1
			for j < n && slab[j].res.flags&resSolid != 0 {
				j++
			}
			blobs, err := r.solidGroup(slab[i:j])
			if err != nil {
				return err
			}
			for _, sb := range blobs {
				r.addBlob(sb)
			}
			i = j - 1
		case bl.res.flags&resMetadata != 0:
			if bl.refCount > 0 {
				r.metas = append(r.metas, bl)
			}
		case bl.hash.IsZero() || bl.res.size == 0 || bl.part != r.hdr.Part:
		default:
			r.addBlob(bl)
		}
	}
	return nil
}

// addBlob records bl unless a blob with its hash is known already (the
// first entry wins, as in wimlib).
func (r *Reader) addBlob(bl *blob) {
	if _, dup := r.blobs[bl.hash]; !dup {
		r.blobs[bl.hash] = bl
	}
}

// readXML loads the per-image information.
func (r *Reader) readXML() error {
	if r.hdr.xml.isZero() {
		return fmt.Errorf("%w: no XML data (incomplete write?)", ErrFormat)
	}
	b, err := r.rawResource("XML data", r.hdr.xml, maxXMLSize)
	if err != nil {
		return err
	}
	r.infos, err = parseXML(b, int(r.hdr.ImageCount))
	return err
}

// RawMetadata returns image i's (1-based) metadata resource as stored,
// expanded and checked against its SHA-1; ParseMetadata parses it. Its
// errors name the image ("image 2 metadata: ..."), so callers need not.
func (r *Reader) RawMetadata(i int) ([]byte, error) {
	if r.hdr.Split() && r.parts[0] == nil {
		return nil, fmt.Errorf("%w: image %d: the images are in part 1 of the split WIM, which is missing", ErrNotFound, i)
	}
	if i < 1 || i > int(r.hdr.ImageCount) || i > len(r.metas) {
		return nil, fmt.Errorf("%w: image %d (the WIM has %d)", ErrNoImage, i, min(int(r.hdr.ImageCount), len(r.metas)))
	}
	bl := r.metas[i-1]
	if bl.res.size > maxMetadataSize {
		return nil, fmt.Errorf("%w: image %d: metadata resource of %d bytes exceeds %d", ErrFormat, i, bl.res.size, maxMetadataSize)
	}
	b, err := r.readBlob(bl)
	if err != nil {
		return nil, fmt.Errorf("image %d metadata: %w", i, err)
	}
	return b, nil
}

// Metadata loads and parses image i's (1-based) metadata resource, checking
// its SHA-1. Stream sizes are filled in from the blob table. Its errors
// name the image, as RawMetadata's do.
func (r *Reader) Metadata(i int) (*Metadata, error) {
	b, err := r.RawMetadata(i)
	if err != nil {
		return nil, err
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("image %d: %w", i, err)
	}
	_ = m.SetStreamSizes(func(h Hash) (int64, error) { return r.blobSize(h), nil }) // never fails
	return m, nil
}

// StreamSize returns the size of stream h, 0 when the WIM lacks it.
func (r *Reader) StreamSize(h Hash) int64 { return r.blobSize(h) }

func (r *Reader) blobSize(h Hash) int64 {
	if b := r.blobs[h]; b != nil {
		return b.res.size
	}
	return 0
}

// readBlob reads a whole blob into memory through a checked stream. The
// buffer grows as data arrives (at most 64 MiB ahead of it), so a size field
// larger than the data behind it costs no more than that.
func (r *Reader) readBlob(bl *blob) ([]byte, error) {
	s, err := r.newStreamReader(bl)
	if err != nil {
		return nil, err
	}
	defer closeStream(s)
	size := bl.res.size
	b := make([]byte, 0, min(size, 64<<20))
	for int64(len(b)) < size {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(int64(len(b)), size-int64(len(b)))))
		}
		n, err := s.Read(b[len(b):min(int64(cap(b)), size)])
		b = b[:len(b)+n]
		if err != nil && (!errors.Is(err, io.EOF) || int64(len(b)) != size) {
			return nil, err
		}
	}
	// The stream checks the SHA-1 when it reaches its end.
	var one [1]byte
	if _, err := s.Read(one[:]); err != io.EOF {
		return nil, err
	}
	return b, nil
}

// HasStream reports whether the blob table holds a blob with hash h.
func (r *Reader) HasStream(h Hash) bool { return r.blobs[h] != nil }

// OpenStream returns a reader of the blob with hash h (the zero hash gives
// an empty stream). The reader checks the SHA-1 at the end: its last Read
// returns an error wrapping ErrChecksum instead of io.EOF on a mismatch.
func (r *Reader) OpenStream(h Hash) (io.ReadCloser, error) {
	if h.IsZero() {
		return io.NopCloser(eofReader{}), nil
	}
	bl := r.blobs[h]
	if bl == nil {
		if m := r.MissingParts(); len(m) > 0 {
			return nil, fmt.Errorf("%w: %x (parts %s of the split WIM are missing)", ErrNotFound, h, PartList(m))
		}
		return nil, fmt.Errorf("%w: %x", ErrNotFound, h)
	}
	return r.newStreamReader(bl)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// chunkState is what reading compressed chunks needs: a decoder and
// buffers for one compressed and one decompressed chunk. The Reader pools
// them per codec and chunk size, so reading many small streams allocates
// little.
type chunkState struct {
	key codecKey
	dec chunkDecoder
	in  []byte
	out []byte
}

// codecKey names a decoder: a codec and the chunk size it is made for.
type codecKey struct {
	codec     Compression
	chunkSize int64
}

// decoderPools holds a pool of *chunkState for each codecKey.
type decoderPools struct {
	mu    sync.Mutex
	pools map[codecKey]*sync.Pool
}

func (p *decoderPools) pool(k codecKey) *sync.Pool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pools == nil {
		p.pools = map[codecKey]*sync.Pool{}
	}
	sp := p.pools[k]
	if sp == nil {
		sp = &sync.Pool{}
		p.pools[k] = sp
	}
	return sp
}

// getChunkState returns decoding state for codec c and chunks of chunkSize
// bytes.
func (r *Reader) getChunkState(c Compression, chunkSize int64) *chunkState {
	k := codecKey{c, chunkSize}
	if cs, ok := r.states.pool(k).Get().(*chunkState); ok {
		cs.out = cs.out[:0]
		return cs
	}
	d, err := newDecoder(c, int(chunkSize))
	if err != nil {
		d = failingDecoder{err}
	}
	return &chunkState{key: k, dec: d}
}

func (r *Reader) putChunkState(cs *chunkState) { r.states.pool(cs.key).Put(cs) }

// failingDecoder stands in for a codec this package cannot decode, so the
// error surfaces at the first compressed chunk, naming the codec.
type failingDecoder struct{ err error }

func (f failingDecoder) Decode([]byte, []byte, int) ([]byte, error) { return nil, f.err }
