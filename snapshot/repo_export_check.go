package snapshot

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// An export copies stored chunks without expanding them, but damage in the
// repository must not become a WIM that fails to verify. Most streams are
// vouched for by their packs (repo_export_seal.go): a goroutine takes them
// in turn as the copying goes on. The others (a recipe resolved from
// deltas, chunks in a pack that is damaged or too large to hash) are
// expanded and their SHA-1 checked, as a restore checks what it writes:
// a delta's chunks as they are copied, the others read again. Expanding,
// the costly part, runs on a pool of decoders, one per core, chunk by
// chunk, so that a large stream is expanded on every core; a goroutine per
// stream hashes its chunks in order as they come back. Copying runs ahead
// of the checks by a few chunks per stream and a few streams at a time.
const (
	checkChunksAhead = 8 // chunks queued per stream
	// Streams wait for their packs to vouch for them in a queue of up to
	// vouchAhead streams and vouchChunks of their chunks (a pack's worth
	// of small files, so that the copying goes on while the next pack is
	// hashed, and 4.5 MiB of locations).
	vouchAhead  = 4096
	vouchChunks = 1 << 16
	// The location lists of up to spareLists streams of up to spareLocsCap
	// chunks are kept for the next streams (1.2 MiB).
	spareLists   = 256
	spareLocsCap = 64
)

// streamChecker checks the streams of one export.
type streamChecker struct {
	src      *repoSource
	seals    *packSeals
	vouches  chan vouchItem
	queueMu  sync.Mutex
	queueOut *sync.Cond            // signalled as queued falls
	queued   int                   // chunks of the streams queued
	spare    chan []index.Location // vouched for items' locs, for the next
	vouching sync.WaitGroup
	expanded atomic.Int64     // streams checked by expanding them
	slots    chan struct{}    // one per stream being checked
	jobs     chan *checkChunk // chunks to expand
	workers  sync.WaitGroup
	chunks   sync.Pool // *checkChunk, with their buffers
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error // the first failure
}

// vouchItem is a stream copied from the chunks at locs (its recipe's, in
// order), for its packs to vouch for.
type vouchItem struct {
	hash wim.Hash
	rec  index.Recipe
	locs []index.Location
}

func newStreamChecker(src *repoSource, seals *packSeals) *streamChecker {
	n := runtime.GOMAXPROCS(0)
	c := &streamChecker{src: src, seals: seals, vouches: make(chan vouchItem, vouchAhead),
		spare: make(chan []index.Location, spareLists),
		slots: make(chan struct{}, 2*n), jobs: make(chan *checkChunk, 2*n*checkChunksAhead)}
	for range n {
		c.workers.Go(c.expand)
	}
	c.queueOut = sync.NewCond(&c.queueMu)
	c.vouching.Go(c.vouchAll)
	return c
}

// vouch queues stream h, copied from the chunks at locs, which the
// checker now owns, for its packs to vouch for.
func (c *streamChecker) vouch(h wim.Hash, rec index.Recipe, locs []index.Location) {
	c.queueMu.Lock()
	for c.queued > 0 && c.queued+len(locs) > vouchChunks {
		c.queueOut.Wait()
	}
	c.queued += len(locs)
	c.queueMu.Unlock()
	c.vouches <- vouchItem{h, rec, locs}
}

// vouchAll asks the packs to vouch for each stream queued until vouches
// closes; a stream they do not vouch for is read again and expanded.
// After a failure it drops the rest: the export fails anyway.
func (c *streamChecker) vouchAll() {
	for it := range c.vouches {
		if c.failed() == nil && !c.seals.sound(it.rec, it.locs) {
			c.reread(it)
		}
		c.queueMu.Lock()
		c.queued -= len(it.locs)
		c.queueMu.Unlock()
		c.queueOut.Signal()
		if cap(it.locs) <= spareLocsCap {
			select {
			case c.spare <- it.locs[:0]:
			default:
			}
		}
	}
}

// spareLocs returns an empty slice for the locations of n chunks, one
// that a stream vouched for left when there is one.
func (c *streamChecker) spareLocs(n int) []index.Location {
	select {
	case l := <-c.spare:
		return slices.Grow(l, n)
	default:
		return make([]index.Location, 0, n)
	}
}

// reread checks a stream by reading its chunks again and expanding them.
func (c *streamChecker) reread(it vouchItem) {
	cur := &chunkCursor{src: c.src, hash: it.hash, chunks: it.rec.Chunks, known: it.locs}
	sc := c.start(it.hash)
	defer sc.done()
	for {
		stored, _, l, err := cur.nextStored()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
		sc.add(stored, l)
	}
}

// expand is a decoder of the pool: it expands chunks until jobs closes.
func (c *streamChecker) expand() {
	for ch := range c.jobs {
		l := ch.loc
		ch.raw, ch.err = c.src.decs.expandChunk(ch.raw, ch.stored, int(l.Raw), l.Codec)
		close(ch.done)
	}
}

// streamCheck is the check of one stream: its chunks go to add, in order,
// then done.
type streamCheck struct {
	c      *streamChecker
	hash   wim.Hash
	chunks chan *checkChunk
}

// checkChunk is a chunk on its way: a copy of its stored bytes, then,
// once done is closed, its expanded bytes or why they are not.
type checkChunk struct {
	stored []byte
	loc    index.Location
	raw    []byte
	err    error
	done   chan struct{}
}

// start begins the check of stream h, waiting while as many are running
// as there are slots.
func (c *streamChecker) start(h wim.Hash) *streamCheck {
	c.expanded.Add(1)
	c.slots <- struct{}{}
	sc := &streamCheck{c: c, hash: h, chunks: make(chan *checkChunk, checkChunksAhead)}
	c.wg.Add(1)
	go sc.run()
	return sc
}

// add queues a copy of the stored chunk at l.
func (sc *streamCheck) add(stored []byte, l index.Location) {
	ch, _ := sc.c.chunks.Get().(*checkChunk)
	if ch == nil {
		ch = &checkChunk{}
	}
	ch.stored = append(ch.stored[:0], stored...)
	ch.loc, ch.err, ch.done = l, nil, make(chan struct{})
	sc.c.jobs <- ch
	sc.chunks <- ch
}

// done ends the stream's chunks.
func (sc *streamCheck) done() { close(sc.chunks) }

func (sc *streamCheck) run() {
	defer func() {
		<-sc.c.slots
		sc.c.wg.Done()
	}()
	sum := sha1.New()
	var err error
	for ch := range sc.chunks {
		<-ch.done
		switch {
		case err != nil:
		case ch.err != nil:
			err = fmt.Errorf("stream %x chunk in pack %s: %w%w", sc.hash, hex.EncodeToString(ch.loc.Pack[:4]), ch.err, noText{errStreamDamaged})
		default:
			sum.Write(ch.raw)
		}
		sc.c.chunks.Put(ch)
	}
	if got := wim.Hash(sum.Sum(nil)); err == nil && got != sc.hash {
		err = fmt.Errorf("%w: stream %x: its chunks in the repository hash to %x (run 'wimsnap check --read-data')%w",
			ErrRepoFormat, sc.hash, got, noText{errStreamDamaged})
	}
	if err != nil {
		sc.c.fail(err)
	}
}

// errStreamDamaged is wrapped by the error of a stream whose stored chunks
// failed the check: damage, or bytes damaged on their way from the store.
var errStreamDamaged = errors.New("stream damaged")

// fail records err unless a failure came first.
func (c *streamChecker) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// failed returns the first failure so far.
func (c *streamChecker) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait waits for every check, stops the decoders and returns the first
// failure. Every stream started must have been ended with done, and none
// be queued to vouch for after it.
func (c *streamChecker) wait() error {
	close(c.vouches)
	c.vouching.Wait()
	c.wg.Wait()
	close(c.jobs)
	c.workers.Wait()
	return c.failed()
}
