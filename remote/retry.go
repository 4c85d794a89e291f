package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Defaults of RetryOptions.
const (
	defaultAttempts        = 5
	defaultTimeoutAttempts = 2
	defaultBase            = time.Second
	defaultMax             = 15 * time.Second
	defaultFreshAfter      = 1 << 20
)

// RetryOptions configures NewRetry. The zero value gives the defaults; a
// zero or negative field means its default.
type RetryOptions struct {
	// Attempts is the number of tries of one operation, the first one
	// included; 1 means no retries. Default 5, which with the default Base
	// waits 7.5 to 15 s in all (half of 1+2+4+8 s at least) before giving
	// up: a server restarting, or a failover, is waited out.
	Attempts int
	// TimeoutAttempts caps the tries of one operation whose attempts time
	// out (ErrTimeout), the first one included: each of them waited the
	// store's full timeout already, and a server that did not answer twice
	// is not worth four times that wait. Default 2; it is never more than
	// Attempts.
	TimeoutAttempts int
	// Base is the longest wait before the first retry; the longest wait
	// doubles with every further retry. Default 1s.
	Base time.Duration
	// Max caps every wait. Default 15s.
	Max time.Duration
	// FreshAfter is how many bytes a Get's reader must yield after a
	// failure, or a Put's attempt send, for the count of attempts to start
	// afresh: a long transfer over a link that drops now and then is
	// tried again as long as it makes progress, and still given up on a
	// server that breaks every stream before that much. Default 1 MiB.
	FreshAfter int64
	// OnRetry, if set, is called before each wait with the operation (the
	// word used in error messages: "put", "put-if-absent", "get", "stat",
	// "list" or "delete"), the key (the prefix for List), the number of the
	// attempt that failed (1 for the first), the wait and the error. It may
	// be called from several goroutines at once and must not block.
	OnRetry func(op, key string, attempt int, wait time.Duration, err error)
	// Sleep waits d or until ctx is done, and returns ctx.Err() then. It is
	// there for tests; nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a uniform random number in [0, n) for n > 0; it must be
	// safe for concurrent use. It is there for tests; nil means
	// math/rand/v2.Int64N.
	Rand func(n int64) int64
}

// applyDefaults fills in the zero fields.
func (o *RetryOptions) applyDefaults() {
	if o.Attempts <= 0 {
		o.Attempts = defaultAttempts
	}
	if o.TimeoutAttempts <= 0 {
		o.TimeoutAttempts = defaultTimeoutAttempts
	}
	o.TimeoutAttempts = min(o.TimeoutAttempts, o.Attempts)
	if o.Base <= 0 {
		o.Base = defaultBase
	}
	if o.Max <= 0 {
		o.Max = defaultMax
	}
	if o.FreshAfter <= 0 {
		o.FreshAfter = defaultFreshAfter
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Int64N
	}
}

// backoff returns the wait after the failed attempt number n (1 for the
// first): "equal jitter", uniform in [c/2, c] for c = min(Max,
// Base·2^(n-1)), so that the waits add up to half their ceilings at least
// (with "full jitter", from 0, five attempts gave up after 2 s or less
// about half the time).
func (o *RetryOptions) backoff(n int) time.Duration {
	ceiling := o.Base
	for i := 1; i < n && ceiling < o.Max; i++ {
		if ceiling > o.Max/2 {
			ceiling = o.Max
			break
		}
		ceiling *= 2
	}
	c := int64(min(ceiling, o.Max))
	half := c / 2
	span := c - half
	if span < math.MaxInt64 {
		span++ // so that the ceiling itself can come up
	}
	return time.Duration(half + o.Rand(span))
}

// sleep waits d or until ctx is done, and returns ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryStore is the Store that NewRetry returns.
type retryStore struct {
	Store
	o RetryOptions
}

// NewRetry returns a Store that sends the requests of s again when they
// fail with an error wrapping ErrUnavailable, waiting a random, growing time
// before each retry (see RetryOptions). Every other error, and every error
// once ctx is done, is returned at once; a done ctx also cuts a wait short.
// When the attempts run out (RetryOptions.Attempts, or TimeoutAttempts of
// them timed out) the error wraps the last one and says how many attempts
// were made. Location is s's.
//
// A retry repeats a request whose effect is unknown, so each method states
// what it does about that:
//
//   - Put retries only when r is an io.Seeker: it notes r's offset at the
//     call and seeks back to it before every retry. Another reader gets one
//     attempt. An attempt that read RetryOptions.FreshAfter bytes of r
//     before it failed starts the count of attempts afresh, up to
//     putAttemptsCap times Attempts attempts in all.
//   - PutIfAbsent, when an attempt failed with ErrUnavailable and a later one
//     finds ErrExists, reads the object back (at most len(data) bytes) and
//     returns nil if it holds data: the first attempt may have stored it. It
//     cannot tell that from another caller storing the same bytes, so callers
//     that must know (locks) put unique bytes.
//   - Delete, when an attempt failed with ErrUnavailable and a later one
//     finds ErrNotFound, returns nil: the first may have deleted the object.
//     A concurrent Delete of the same key may then succeed too.
//   - Get retries opening the object, and its reader, when a Read fails with
//     ErrUnavailable, opens the rest of the range again and continues: the
//     caller sees one stream. Opens and resumes of one Get share its
//     attempts, counted afresh once the reader has yielded
//     RetryOptions.FreshAfter bytes since the last failure. A resumed
//     read gets the object as it is then, so a reader of an object
//     replaced meanwhile may yield a mix of two versions; the objects of
//     a repository are written once, which rules that out for them.
//   - Stat retries.
//   - List retries only until it has called fn once; after that it returns
//     the error, lest fn see objects twice.
//
// Put the other decorators inside it, as in
// NewRetry(NewLimit(NewBandwidth(s, up, down), n), o), so that a backoff
// holds no request slot and Put sees the caller's reader, not a wrapper that
// cannot seek. A Retry is safe for concurrent use if s is.
func NewRetry(s Store, o RetryOptions) Store {
	o.applyDefaults()
	return &retryStore{Store: s, o: o}
}

// attempts counts the failed attempts of one operation and decides after
// each whether to try again.
type attempts struct {
	o        *RetryOptions
	op, key  string
	failed   int
	timeouts int // of failed, those with ErrTimeout
}

func (r *retryStore) attempts(op, key string) *attempts {
	return &attempts{o: &r.o, op: op, key: key}
}

// again is called with the error of an attempt. It returns true, after
// waiting, when the caller should try once more; otherwise false and the
// error to return: nil for a nil err, err if it is not transient, and err
// wrapped with the reason when ctx is done or the attempts ran out.
func (a *attempts) again(ctx context.Context, err error) (bool, error) {
	if err == nil || !errors.Is(err, ErrUnavailable) {
		return false, err
	}
	a.failed++
	if errors.Is(err, ErrTimeout) {
		a.timeouts++
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return false, err
		}
		return false, fmt.Errorf("%w (not retried: %w)", err, cerr)
	}
	if a.failed >= a.o.Attempts || a.timeouts >= a.o.TimeoutAttempts {
		return false, fmt.Errorf("%w (gave up after %d attempts)", err, a.failed)
	}
	wait := a.o.backoff(a.failed)
	if a.o.OnRetry != nil {
		a.o.OnRetry(a.op, a.key, a.failed, wait, err)
	}
	if serr := a.o.Sleep(ctx, wait); serr != nil {
		return false, fmt.Errorf("%w (retry abandoned after %d attempts: %w)", err, a.failed, serr)
	}
	return true, nil
}

// Put implements Store; it retries only when r is an io.Seeker.
func (r *retryStore) Put(ctx context.Context, key string, rd io.Reader, size int64) error {
	rewind, sent := rewinder(rd)
	if rewind == nil {
		return r.Store.Put(ctx, key, rd, size)
	}
	a := r.attempts("put", key)
	for all := 1; ; all++ {
		err := r.Store.Put(ctx, key, rd, size)
		if err != nil && sentBy(err, sent()) >= r.o.FreshAfter && all < putAttemptsCap*r.o.Attempts {
			// The server took FreshAfter bytes of it: a link that drops
			// now and then, not a server that is gone.
			a.failed, a.timeouts = 0, 0
		}
		again, err := a.again(ctx, err)
		if !again {
			return err
		}
		if serr := rewind(); serr != nil {
			return fmt.Errorf("put %s: rewinding the reader for a retry: %w", key, serr)
		}
	}
}

// sentError is the error of a Put that says how many bytes of the body
// the store sent before it failed, where the caller's reader cannot show
// it (S3's client reads the body through a reader of its own).
type sentError struct {
	err  error
	sent int64
}

func (e *sentError) Error() string { return e.err.Error() }
func (e *sentError) Unwrap() error { return e.err }

// sentBy returns how many bytes of its body the failed Put of err sent:
// what err says (sentError), else read, how far its reader was read.
func sentBy(err error, read int64) int64 {
	if se, ok := errors.AsType[*sentError](err); ok {
		return max(se.sent, read)
	}
	return read
}

// putAttemptsCap bounds the attempts of one Put, as a multiple of
// RetryOptions.Attempts, when failed attempts that sent FreshAfter bytes
// each are counted afresh: unlike a Get's, their progress is lost, so a
// link that drops every large upload would never end.
const putAttemptsCap = 4

// rewinder returns a function that seeks r back to its offset now and
// one that returns how far r has been read past it, or nils when r is no
// io.Seeker or does not report its offset.
func rewinder(r io.Reader) (rewind func() error, sent func() int64) {
	s, ok := r.(io.Seeker)
	if !ok {
		return nil, nil
	}
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil
	}
	rewind = func() error {
		_, err := s.Seek(start, io.SeekStart)
		return err
	}
	sent = func() int64 {
		at, err := s.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0
		}
		return at - start
	}
	return rewind, sent
}

// PutIfAbsent implements Store; see NewRetry for an ErrExists after an
// ambiguous failure.
func (r *retryStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	a := r.attempts("put-if-absent", key)
	ambiguous := false
	for {
		err := r.Store.PutIfAbsent(ctx, key, data)
		if ambiguous && errors.Is(err, ErrExists) {
			return r.confirmOwn(ctx, key, data, err)
		}
		ambiguous = ambiguous || errors.Is(err, ErrUnavailable)
		if again, err := a.again(ctx, err); !again {
			return err
		}
	}
}

// confirmOwn decides the ErrExists (existsErr) that a PutIfAbsent got after
// an attempt whose outcome is unknown: nil if the object holds data, else
// existsErr.
func (r *retryStore) confirmOwn(ctx context.Context, key string, data []byte, existsErr error) error {
	got, err := ReadAll(ctx, r, key, int64(len(data)))
	switch {
	case err == nil && bytes.Equal(got, data):
		return nil
	case err == nil || errors.Is(err, ErrTooLarge):
		return existsErr
	case ctx.Err() != nil:
		return err
	}
	return fmt.Errorf("%w (an earlier attempt may have stored it, but reading it back failed: %s)", existsErr, err.Error())
}

// Delete implements Store; see NewRetry for an ErrNotFound after an
// ambiguous failure.
func (r *retryStore) Delete(ctx context.Context, key string) error {
	a := r.attempts("delete", key)
	ambiguous := false
	for {
		err := r.Store.Delete(ctx, key)
		if ambiguous && errors.Is(err, ErrNotFound) {
			return nil
		}
		ambiguous = ambiguous || errors.Is(err, ErrUnavailable)
		if again, err := a.again(ctx, err); !again {
			return err
		}
	}
}

// Stat implements Store.
func (r *retryStore) Stat(ctx context.Context, key string) (Info, error) {
	a := r.attempts("stat", key)
	for {
		fi, err := r.Store.Stat(ctx, key)
		if again, err := a.again(ctx, err); !again {
			return fi, err
		}
	}
}

// List implements Store; it retries only until fn has been called.
func (r *retryStore) List(ctx context.Context, prefix string, fn func(Info) error) error {
	var called atomic.Bool
	each := func(fi Info) error {
		called.Store(true)
		return fn(fi)
	}
	a := r.attempts("list", prefix)
	for {
		err := r.Store.List(ctx, prefix, each)
		if called.Load() {
			return err
		}
		if again, err := a.again(ctx, err); !again {
			return err
		}
	}
}

// Get implements Store; its reader resumes after transient read errors.
func (r *retryStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	rr := &retryReader{ctx: ctx, s: r.Store, a: r.attempts("get", key), key: key, off: off, left: length}
	if err := rr.open(); err != nil {
		return nil, err
	}
	return rr, nil
}

// retryReader reads the range of a Get and opens the rest of it again when
// a Read fails with ErrUnavailable. Like any io.Reader it is for one
// goroutine at a time.
type retryReader struct {
	ctx  context.Context
	s    Store // the store below the retryStore
	a    *attempts
	key  string
	off  int64         // offset of the next byte
	read int64         // bytes yielded since the last failure
	left int64         // bytes still to read; negative: to the end of the object
	rc   io.ReadCloser // the open range; nil after a failed reopen
	err  error         // sticky: the reopen failed
}

// open opens the rest of the range, retrying transient failures.
func (rr *retryReader) open() error {
	for {
		rc, err := rr.s.Get(rr.ctx, rr.key, rr.off, rr.left)
		if err == nil {
			rr.rc = rc
			return nil
		}
		if again, err := rr.a.again(rr.ctx, err); !again {
			return err
		}
	}
}

func (rr *retryReader) Read(p []byte) (int, error) {
	for rr.err == nil {
		n, err := rr.rc.Read(p)
		rr.off += int64(n)
		rr.read += int64(n)
		if rr.left >= 0 {
			rr.left -= int64(n)
		}
		if !errors.Is(err, ErrUnavailable) {
			return n, err
		}
		rr.err = rr.resume(err)
		if n > 0 {
			return n, nil
		}
	}
	return 0, rr.err
}

// resume closes the broken range after a Read failed with cause, waits,
// and opens the rest again.
func (rr *retryReader) resume(cause error) error {
	_ = rr.rc.Close() // the stream is broken; its Close has nothing to add
	rr.rc = nil
	if rr.read >= rr.a.o.FreshAfter {
		rr.a.failed, rr.a.timeouts = 0, 0
	}
	rr.read = 0
	if again, err := rr.a.again(rr.ctx, cause); !again {
		return err
	}
	return rr.open()
}

// Close closes the open range, if any.
func (rr *retryReader) Close() error {
	if rr.rc == nil {
		return nil
	}
	return rr.rc.Close()
}
