package snapshot

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// An export copies stored chunks without expanding them, but damage in the
// repository must not become a WIM that fails to verify: so beside the
// copying, each stream's chunks are expanded and the stream's SHA-1
// checked, as a restore checks what it writes. Expanding, the costly part,
// runs on a pool of decoders, one per core, chunk by chunk, so that a
// large stream is expanded on every core; a goroutine per stream hashes
// its chunks in order as they come back. Copying runs ahead of the checks
// by a few chunks per stream and a few streams at a time.
const (
	checkChunksAhead = 8 // chunks queued per stream
)

// streamChecker checks the streams of one export.
type streamChecker struct {
	decs    *decoders
	slots   chan struct{}    // one per stream being checked
	jobs    chan *checkChunk // chunks to expand
	workers sync.WaitGroup
	chunks  sync.Pool // *checkChunk, with their buffers
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error // the first failure
}

func newStreamChecker(decs *decoders) *streamChecker {
	n := runtime.GOMAXPROCS(0)
	c := &streamChecker{decs: decs, slots: make(chan struct{}, 2*n), jobs: make(chan *checkChunk, 2*n*checkChunksAhead)}
	for range n {
		c.workers.Go(c.expand)
	}
	return c
}

// expand is a decoder of the pool: it expands chunks until jobs closes.
func (c *streamChecker) expand() {
	for ch := range c.jobs {
		l := ch.loc
		ch.raw, ch.err = c.decs.expandChunk(ch.raw, ch.stored, int(l.Raw), l.Codec)
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
			err = fmt.Errorf("stream %x chunk in pack %s: %w", sc.hash, hex.EncodeToString(ch.loc.Pack[:4]), ch.err)
		default:
			sum.Write(ch.raw)
		}
		sc.c.chunks.Put(ch)
	}
	if got := wim.Hash(sum.Sum(nil)); err == nil && got != sc.hash {
		err = fmt.Errorf("%w: stream %x: its chunks in the repository hash to %x (run 'wimsnap check --read-data')",
			ErrRepoFormat, sc.hash, got)
	}
	if err != nil {
		sc.c.mu.Lock()
		if sc.c.err == nil {
			sc.c.err = err
		}
		sc.c.mu.Unlock()
	}
}

// failed returns the first failure so far.
func (c *streamChecker) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait waits for every check, stops the decoders and returns the first
// failure. Every stream started must have been ended with done.
func (c *streamChecker) wait() error {
	c.wg.Wait()
	close(c.jobs)
	c.workers.Wait()
	return c.failed()
}
