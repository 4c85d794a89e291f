package wim

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"time"
)

// maxHeld is the most chunks AddStream holds back to learn a stream's hash
// before compressing it (see addResource): 1 MiB (4 MiB of LZMS chunks).
const maxHeld = 32

// chunkSize is the uncompressed chunk size wimsnap writes with XPRESS and
// LZX (the only one WIMGAPI accepts for LZX, and the usual one for XPRESS).
const chunkSize = 32768

// lzmsChunkSize is the chunk size of LZMS resources, wimlib's default for
// them: LZMS makes use of the longer window (7% smaller output than with
// 32 KiB chunks on executables, 16% on text, with wimsnap's encoder).
const lzmsChunkSize = 131072

// versionFor returns the WIM version wimsnap writes with codec c: that of
// the solid format for LZMS, as wimlib writes it (src/write.c sets it for
// LZMS as for --solid), though the resources are not solid. wimlib's
// manual gives LZMS WIMs to WIMGAPI from Windows 8 and DISM from 8.1.
func versionFor(c Compression) uint32 {
	if c == CompressLZMS {
		return versionSolid
	}
	return versionDefault
}

// maxKeptChunkSize bounds the chunk size WithChunkSize takes: LZX's
// largest, and as much as a rewrite holds per chunk in flight.
const maxKeptChunkSize = 2 << 20

// chunkSizeFor returns the uncompressed chunk size wimsnap writes with
// codec c by default.
func chunkSizeFor(c Compression) int {
	if c == CompressLZMS {
		return lzmsChunkSize
	}
	return chunkSize
}

// WriterOption configures a Writer. Options are checked when the Writer is
// made.
type WriterOption func(*Writer) error

// WithCompression sets the codec; the default is XPRESS.
func WithCompression(c Compression) WriterOption {
	return func(w *Writer) error {
		if c != CompressNone {
			if _, err := newEncoder(c, chunkSizeFor(c), 0); err != nil {
				return err
			}
		}
		w.comp = c
		return nil
	}
}

// WithCompressionLevel sets the compression level on wimlib's scale: 20 is
// quick, 50 medium and 100 high compression, and any positive value may be
// given. 0 means the default, 50; a negative level is an error. Only
// XPRESS uses it (see xpress.NewEncoderLevel for the mapping); LZX and
// none ignore it. It applies to the chunks the Writer compresses, not to
// those it copies as they are stored.
func WithCompressionLevel(level int) WriterOption {
	return func(w *Writer) error {
		if level < 0 {
			return fmt.Errorf("wim: compression level %d (want a positive level, or 0 for the default)", level)
		}
		w.level = level // 0 stays 0: xpress.NewEncoderLevel takes it as 50
		return nil
	}
}

// WithThreads sets the number of compression goroutines; the default is
// runtime.GOMAXPROCS(0). n must be at least 1.
func WithThreads(n int) WriterOption {
	return func(w *Writer) error {
		if n < 1 {
			return fmt.Errorf("wim: %d threads (want at least 1)", n)
		}
		w.threads = n
		return nil
	}
}

// WithIntegrity adds an integrity table (default: none). It needs a
// destination that is also an io.ReaderAt, such as an *os.File.
func WithIntegrity(on bool) WriterOption {
	return func(w *Writer) error {
		if _, ok := w.dst.(io.ReaderAt); on && !ok {
			return errors.New("wim: an integrity table needs a destination that can be read back (io.ReaderAt)")
		}
		w.integrity = on
		return nil
	}
}

// WithIntegrityProgress sets a function that Close calls while it hashes
// the file for the integrity table (a read of the whole WIM, which takes
// a while for a large one): with none done first, then after each chunk,
// with the bytes hashed so far and the total, from Close's goroutine.
// The default is none; it has no effect without WithIntegrity.
func WithIntegrityProgress(fn func(done, total int64)) WriterOption {
	return func(w *Writer) error { w.integrityProgress = fn; return nil }
}

// WithNow sets the clock used for image times (default time.Now).
func WithNow(now func() time.Time) WriterOption {
	return func(w *Writer) error { w.now = now; return nil }
}

// WithEmpty lets Close finish a WIM that holds no image, as wimlib leaves
// one when the last image is deleted. By default (off) Close refuses it:
// a capture that added no image has failed.
func WithEmpty(on bool) WriterOption {
	return func(w *Writer) error { w.empty = on; return nil }
}

// WithRPFix sets whether the new WIM's header says that its absolute link
// targets were made relative to the captured root (the RP_FIX flag; by
// default it does, as wimlib's captures do): a WIM rewritten from another
// keeps the other's (Header.RPFix), as wimlib keeps it. An appended WIM
// gets the flag whatever this says: the images appended to it have their
// links made relative, and wimlib marks each link of a capture without
// the flag as not made relative, so its images are not affected.
func WithRPFix(on bool) WriterOption {
	return func(w *Writer) error { w.noRPFix = !on; return nil }
}

// WithGUID gives a new WIM the GUID g, as a WIM rebuilt in place keeps
// its own (wimlib keeps it). The default is a random one. An appended WIM
// keeps its GUID whatever this says.
func WithGUID(g [16]byte) WriterOption {
	return func(w *Writer) error { w.guid = &g; return nil }
}

// wblob is a blob the Writer knows: carried over from an appended file or
// written by it. res is final once the output goroutine has written it.
type wblob struct {
	hash Hash
	size int64
	res  resHdr
	refs uint32
}

// image is one image of the file being written.
type image struct {
	meta *wblob
	info ImageInfo
}

// Writer writes a new WIM file or appends images to an existing one. Like
// tar.Writer its errors are sticky: after one failure every call returns
// it. A Writer is not safe for concurrent use; compression runs on its own
// goroutines.
type Writer struct {
	dst       io.WriteSeeker
	out       *bufio.Writer
	pos       int64 // end of the data written so far (output goroutine)
	hdr       Header
	comp      Compression
	level     int // WithCompressionLevel's; 0 for the default
	chunk     int // WithChunkSize's; 0 for the codec's default (see chunkSize)
	threads   int
	integrity bool
	// integrityProgress is WithIntegrityProgress's function, or nil.
	integrityProgress func(done, total int64)
	boot              *int      // WithBootIndex
	empty             bool      // WithEmpty
	noRPFix           bool      // WithRPFix(false)
	guid              *[16]byte // WithGUID
	now               func() time.Time

	blobs  map[Hash]*wblob
	sizes  map[int64]int // number of blobs of each size, for holding back duplicates
	held   []*chunkJob   // chunks held back by addResource
	sum    hash.Hash     // SHA-1 of addResource, reused
	images []image
	pipe   *pipeline
	orig   *original  // the appended file as it was; nil for a new WIM
	mu     sync.Mutex // guards err
	err    error
	closed bool
}

// NewWriter starts a new WIM at the current start of w, which should be
// empty: the header is written at offset 0.
func NewWriter(w io.WriteSeeker, opts ...WriterOption) (*Writer, error) {
	wr, err := newWriter(w, opts)
	if err != nil {
		return nil, err
	}
	wr.hdr = Header{Version: versionFor(wr.comp), Part: 1, Parts: 1}
	if wr.guid != nil {
		wr.hdr.GUID = *wr.guid
	} else if _, err := rand.Read(wr.hdr.GUID[:]); err != nil {
		return nil, fmt.Errorf("wim: GUID: %w", err)
	}
	if err := wr.writeHeader(flagWriteInProgress); err != nil {
		return nil, err
	}
	wr.pos = headerSize
	wr.start()
	return wr, nil
}

func newWriter(w io.WriteSeeker, opts []WriterOption) (*Writer, error) {
	wr := &Writer{dst: w, comp: CompressXPRESS, threads: runtime.GOMAXPROCS(0), now: time.Now, blobs: map[Hash]*wblob{}, sizes: map[int64]int{}}
	for _, o := range opts {
		if err := o(wr); err != nil {
			return nil, err
		}
	}
	if wr.chunk != 0 && wr.comp != CompressNone {
		if err := checkChunkSize(wr.comp, uint32(wr.chunk)); err != nil {
			return nil, err
		}
		if _, err := newEncoder(wr.comp, wr.chunk, wr.level); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// WithChunkSize sets the uncompressed size of the chunks of compressed
// resources: a power of two the codec takes (XPRESS 4 KiB to 64 KiB, LZX
// and LZMS 32 KiB and up), at most 2 MiB; 0 keeps the codec's default.
// A rewrite in the same codec keeps the source's, as wimlib does (a
// WIMBoot WIM is XPRESS in 4 KiB chunks), and copies its resources as
// they are stored.
func WithChunkSize(n uint32) WriterOption {
	return func(w *Writer) error {
		if n > maxKeptChunkSize {
			return fmt.Errorf("%w: chunk size %d (at most %d)", ErrUnsupported, n, maxKeptChunkSize)
		}
		w.chunk = int(n)
		return nil
	}
}

// WithChunkSizeOf is the chunk size option of a WIM that the WIM of
// header h is rewritten into with codec comp: h's chunk size when the
// codec stays (as wimlib keeps it: a WIMBoot WIM stays XPRESS in 4 KiB
// chunks), else the codec's default; the default too for chunks over
// 2 MiB, which this writer does not write.
func WithChunkSizeOf(h Header, comp Compression) WriterOption {
	if comp != h.Compression || comp == CompressNone || h.ChunkSize > maxKeptChunkSize {
		return WithChunkSize(0)
	}
	return WithChunkSize(h.ChunkSize)
}

// chunkSize returns the uncompressed chunk size w writes.
func (w *Writer) chunkSize() int {
	if w.chunk != 0 {
		return w.chunk
	}
	return chunkSizeFor(w.comp)
}

// start sets the header's codec fields and starts the pipeline.
func (w *Writer) start() {
	w.hdr.Compression = w.comp
	if w.boot != nil {
		w.hdr.BootIndex = uint32(*w.boot)
	}
	w.hdr.Flags = w.hdr.Flags&^(flagCompression|codecFlagMask|flagWriteInProgress) | compressionFlags(w.comp)
	if !w.noRPFix {
		w.hdr.Flags |= flagRPFix
	}
	w.hdr.ChunkSize = 0
	var newEnc func() chunkEncoder
	cs := w.chunkSize()
	if w.comp != CompressNone {
		w.hdr.ChunkSize = uint32(cs)
		newEnc = func() chunkEncoder { e, _ := newEncoder(w.comp, cs, w.level); return e }
	} else {
		newEnc = func() chunkEncoder { return nil }
	}
	w.out = bufio.NewWriterSize(w.dst, 256<<10)
	w.pipe = newPipeline(w.threads, newEnc, cs, w.emit)
}

// writeHeader writes the header at offset 0 with extra flags, then returns
// to the end of the data.
func (w *Writer) writeHeader(extra uint32) error {
	h := w.hdr
	h.Flags |= extra
	if _, err := w.dst.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("wim: writing header: %w", err)
	}
	if _, err := w.dst.Write(h.marshal()); err != nil {
		return fmt.Errorf("wim: writing header: %w", err)
	}
	_, err := w.dst.Seek(max(w.pos, headerSize), io.SeekStart)
	return err
}

func (w *Writer) setErr(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) getErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// HasStream reports whether the WIM already holds a blob with hash h
// (written by this Writer or carried over from the appended file).
func (w *Writer) HasStream(h Hash) bool { return w.blobs[h] != nil }

// AddStream stores size bytes read from r as one blob and returns its hash.
// Identical contents are stored once. A zero size returns the zero Hash
// without reading. If r ends early the result wraps ErrSizeChanged (or r's
// error) and nothing is stored; the Writer stays usable.
func (w *Writer) AddStream(r io.Reader, size int64) (Hash, error) {
	if size == 0 {
		return Hash{}, nil
	}
	b, err := w.addResource(r, w.newPendingRes(size))
	if err != nil {
		return Hash{}, err
	}
	return b.hash, nil
}

// AddStoredStream is AddStream for contents stored without compression
// whatever the Writer's codec (a resource with COMPRESSED clear), as DISM
// stores the files a capture configuration's [CompressionExclusionList]
// names. Deduplication is the same as AddStream's: contents the WIM holds
// already keep the form they were first stored in, and a later AddStream
// of these contents reuses this uncompressed blob.
func (w *Writer) AddStoredStream(r io.Reader, size int64) (Hash, error) {
	if size == 0 {
		return Hash{}, nil
	}
	res := w.newPendingRes(size)
	res.stored = true
	b, err := w.addResource(r, res)
	if err != nil {
		return Hash{}, err
	}
	return b.hash, nil
}

// newPendingRes returns the pendingRes of a resource of size bytes.
func (w *Writer) newPendingRes(size int64) *pendingRes {
	cs := int64(w.chunkSize())
	return &pendingRes{size: size, nchunks: (size + cs - 1) / cs}
}

// addResource runs the resource res, read from r, through the pipeline.
// Metadata resources are never deduplicated and not entered into the blob
// map.
func (w *Writer) addResource(r io.Reader, res *pendingRes) (*wblob, error) {
	if err := w.getErr(); err != nil {
		return nil, err
	}
	if w.closed {
		return nil, errors.New("wim: write to closed Writer")
	}
	size, metadata := res.size, res.meta
	// When a blob of the same size exists, a short stream is held back until
	// its hash is known, so that a duplicate is never compressed.
	hold := !metadata && res.nchunks <= maxHeld && w.sizes[size] > 0
	held := w.held[:0]
	if w.sum == nil {
		w.sum = sha1.New()
	}
	h := w.sum
	h.Reset()
	var readErr error
	for left := size; left > 0; {
		j := w.pipe.get(res)
		n := min(left, int64(w.chunkSize()))
		j.data = j.data[:n]
		if _, err := io.ReadFull(r, j.data); err != nil {
			w.pipe.put(j)
			readErr = err
			break
		}
		h.Write(j.data)
		if hold {
			held = append(held, j)
		} else {
			w.queue(j)
		}
		left -= n
	}
	var sum Hash
	h.Sum(sum[:0])
	old := w.blobs[sum]
	if readErr != nil || old != nil && !metadata {
		for _, j := range held {
			w.pipe.put(j)
		}
		if !hold {
			w.pipe.end(res)
		}
		return old, sizeError(readErr, size)
	}
	b := &wblob{hash: sum, size: size}
	if !metadata {
		w.blobs[sum] = b
		w.sizes[size]++
	}
	for _, j := range held {
		w.queue(j)
	}
	w.held = held[:0]
	res.blob = b
	w.pipe.end(res)
	return b, w.getErr()
}

// queue hands a filled chunk of a resource to the pipeline: to the workers
// to be compressed, or straight to the output for a stored resource.
func (w *Writer) queue(j *chunkJob) {
	if j.res.stored {
		j.raw = true
		w.pipe.submitDone(j)
		return
	}
	w.pipe.submit(j)
}

// sizeError turns a short read into ErrSizeChanged; other errors pass.
func sizeError(err error, size int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (expected %d bytes)", ErrSizeChanged, size)
	}
	return err
}

// tableBytes is the chunk-table size of a compressed resource.
func tableBytes(size, nchunks int64) int64 {
	if size > 0xFFFFFFFF {
		return 8 * (nchunks - 1)
	}
	return 4 * (nchunks - 1)
}

// emit lays out one finished job; it runs on the output goroutine only.
func (w *Writer) emit(j *chunkJob) error {
	res := j.res
	if !j.end && res.nchunks == 1 {
		// Hold a lone chunk until the end marker says whether to keep it.
		res.single = j
		return nil
	}
	if j.end {
		w.pipe.put(j)
		return w.finish(res)
	}
	if len(res.sizes) == 0 {
		res.start = w.pos
		if w.comp != CompressNone && !res.stored {
			if err := w.write(make([]byte, tableBytes(res.size, res.nchunks))); err != nil {
				return err
			}
		}
	}
	res.sizes = append(res.sizes, int64(len(j.data)))
	err := w.write(j.data)
	w.pipe.put(j)
	return err
}

// write appends p at the end of the data.
func (w *Writer) write(p []byte) error {
	if _, err := w.out.Write(p); err != nil {
		return fmt.Errorf("wim: write: %w", err)
	}
	w.pos += int64(len(p))
	return nil
}
