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
// copying, goroutines expand each stream's chunks and check the stream's
// SHA-1, as a restore checks what it writes. Copying runs ahead of the
// checks by a few chunks per stream and a few streams at a time.
const (
	checkChunksAhead = 8 // chunks queued per stream
)

// streamChecker checks the streams of one export.
type streamChecker struct {
	decs  *decoders
	slots chan struct{} // one per stream being checked
	bufs  sync.Pool     // *[]byte copies of stored chunks
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error // the first failure
}

func newStreamChecker(decs *decoders) *streamChecker {
	return &streamChecker{decs: decs, slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
}

// streamCheck is the check of one stream: its chunks go to add, in order,
// then done.
type streamCheck struct {
	c      *streamChecker
	hash   wim.Hash
	chunks chan checkChunk
}

type checkChunk struct {
	stored *[]byte
	loc    index.Location
}

// start begins the check of stream h, waiting while as many are running
// as there are slots.
func (c *streamChecker) start(h wim.Hash) *streamCheck {
	c.slots <- struct{}{}
	sc := &streamCheck{c: c, hash: h, chunks: make(chan checkChunk, checkChunksAhead)}
	c.wg.Add(1)
	go sc.run()
	return sc
}

// add queues a copy of the stored chunk at l.
func (sc *streamCheck) add(stored []byte, l index.Location) {
	b, _ := sc.c.bufs.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	*b = append((*b)[:0], stored...)
	sc.chunks <- checkChunk{stored: b, loc: l}
}

// done ends the stream's chunks.
func (sc *streamCheck) done() { close(sc.chunks) }

func (sc *streamCheck) run() {
	defer func() {
		<-sc.c.slots
		sc.c.wg.Done()
	}()
	sum := sha1.New()
	var raw []byte
	var err error
	for ch := range sc.chunks {
		if err == nil {
			l := ch.loc
			if raw, err = sc.c.decs.expandChunk(raw, *ch.stored, int(l.Raw), l.Codec); err != nil {
				err = fmt.Errorf("stream %x chunk in pack %s: %w", sc.hash, hex.EncodeToString(l.Pack[:4]), err)
			} else {
				sum.Write(raw)
			}
		}
		sc.c.bufs.Put(ch.stored)
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

// wait waits for every check and returns the first failure.
func (c *streamChecker) wait() error {
	c.wg.Wait()
	return c.failed()
}
