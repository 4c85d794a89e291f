package remote

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// minBurst is the smallest burst of a bandwidth limit: one Read of 64 KiB
// passes without waiting however low the rate.
const minBurst = 64 << 10

// clock is the time source of a tokenBucket; tests replace it.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// realClock is the clock of time.Now and a timer.
var realClock = clock{now: time.Now, sleep: sleep}

// tokenBucket limits a byte rate: it holds up to burst tokens, gains rate
// tokens per second, and a transfer of n bytes takes n tokens. A taker that
// finds too few takes them anyway, driving the balance negative, and sleeps
// until the refill has paid its debt; so concurrent takers queue in the
// order they asked and the rate holds on average over any period longer
// than burst/rate. It is safe for concurrent use.
type tokenBucket struct {
	rate  float64 // tokens per second, > 0
	burst float64
	clock clock

	mu     sync.Mutex
	tokens float64   // may be negative: owed by sleeping takers
	last   time.Time // when tokens was last brought up to date
}

// newTokenBucket returns a full bucket for rate bytes per second (> 0); its
// burst is a quarter second's worth, at least minBurst.
func newTokenBucket(rate int64, c clock) *tokenBucket {
	burst := max(float64(rate)/4, minBurst)
	return &tokenBucket{rate: float64(rate), burst: burst, clock: c, tokens: burst, last: c.now()}
}

// chunk is the most a single Read should move: the burst.
func (b *tokenBucket) chunk() int { return int(b.burst) }

// wait takes n tokens and sleeps until they are paid for, or until ctx is
// done; then it gives the tokens back and returns ctx's error.
func (b *tokenBucket) wait(ctx context.Context, n int) error {
	d := b.reserve(float64(n))
	if d <= 0 {
		return nil
	}
	if err := b.clock.sleep(ctx, d); err != nil {
		b.refund(float64(n))
		return err
	}
	return nil
}

// reserve takes n tokens and returns how long the taker must sleep.
func (b *tokenBucket) reserve(n float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.now()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
	}
	b.last = now
	b.tokens -= n
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// refund gives back n tokens that a cancelled taker did not use.
func (b *tokenBucket) refund(n float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.burst, b.tokens+n)
}

// bandwidthStore is the Store that NewBandwidth returns.
type bandwidthStore struct {
	Store
	up, down *tokenBucket // nil: unlimited
}

// NewBandwidth returns a Store that limits the bytes Put reads from its
// reader to upload bytes per second and the bytes the readers of Get yield
// to download bytes per second; 0 or less means no limit for that
// direction, and with no limit at all NewBandwidth returns s itself. Each
// direction has one budget shared by all concurrent requests. Short bursts
// of a quarter second's worth of bytes, at least 64 KiB, pass at full
// speed. A request waiting for its share fails with an error wrapping
// ctx.Err() when ctx is done. PutIfAbsent, Stat, List, Delete and Location
// pass through unlimited (their few bytes are not counted).
//
// Put hands s a reader that is no io.Seeker, so put NewRetry outside
// NewBandwidth, not inside.
func NewBandwidth(s Store, upload, download int64) Store {
	return newBandwidth(s, upload, download, realClock)
}

// newBandwidth is NewBandwidth with the clock of its token buckets.
func newBandwidth(s Store, upload, download int64, c clock) Store {
	if upload <= 0 && download <= 0 {
		return s
	}
	b := &bandwidthStore{Store: s}
	if upload > 0 {
		b.up = newTokenBucket(upload, c)
	}
	if download > 0 {
		b.down = newTokenBucket(download, c)
	}
	return b
}

// Put implements Store; it throttles the reads from r.
func (b *bandwidthStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if b.up != nil {
		r = &throttledReader{ctx: ctx, r: r, bucket: b.up}
	}
	return b.Store.Put(ctx, key, r, size)
}

// Get implements Store; it throttles the reads from the returned reader.
func (b *bandwidthStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	rc, err := b.Store.Get(ctx, key, off, length)
	if err != nil || b.down == nil {
		return rc, err
	}
	return &throttledReadCloser{throttledReader{ctx: ctx, r: rc, bucket: b.down}, rc}, nil
}

// throttledReader reads from r at most a burst at a time and pays for
// every byte in its bucket before it returns it.
type throttledReader struct {
	ctx    context.Context
	r      io.Reader
	bucket *tokenBucket
}

func (t *throttledReader) Read(p []byte) (int, error) {
	if len(p) > t.bucket.chunk() {
		p = p[:t.bucket.chunk()]
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if werr := t.bucket.wait(t.ctx, n); werr != nil {
			return 0, fmt.Errorf("waiting for bandwidth: %w", werr)
		}
	}
	return n, err
}

// throttledReadCloser is a throttledReader that closes c.
type throttledReadCloser struct {
	throttledReader
	c io.Closer
}

func (t *throttledReadCloser) Close() error { return t.c.Close() }
