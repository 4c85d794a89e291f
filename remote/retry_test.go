package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// TestDecoratorConformance runs the conformance suite over every decorator
// of the package alone and over the stack cmd builds.
func TestDecoratorConformance(t *testing.T) {
	const fast = 1 << 40 // bytes per second: throttled readers in place, but no waits
	for _, tc := range []struct {
		name string
		new  func() remote.Store
	}{
		{"Retry", func() remote.Store { return remote.NewRetry(remote.NewMemory(), remote.RetryOptions{}) }},
		{"Limit", func() remote.Store { return remote.NewLimit(remote.NewMemory(), 2) }},
		{"Bandwidth", func() remote.Store { return remote.NewBandwidth(remote.NewMemory(), fast, fast) }},
		{"Stack", func() remote.Store {
			return remote.NewRetry(remote.NewLimit(remote.NewBandwidth(remote.NewMemory(), 0, 0), 4), remote.RetryOptions{})
		}},
		{"StackThrottled", func() remote.Store {
			return remote.NewRetry(remote.NewLimit(remote.NewBandwidth(remote.NewMemory(), fast, fast), 4), remote.RetryOptions{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			remotetest.Run(t, func(*testing.T) remote.Store { return tc.new() })
		})
	}
}

// retryFixture is a Retry over a Faulty over a Memory holding objKey, with
// a Sleep that records its waits instead of sleeping.
type retryFixture struct {
	mem    *remote.Memory
	faulty *remotetest.Faulty
	store  remote.Store

	mu      sync.Mutex
	waits   []time.Duration
	retries []string // "op key attempt" of each OnRetry
}

const objKey = "data/obj"

var objData = remotetest.Random(100, 10000)

// newRetryFixture returns a fixture; o's Sleep and OnRetry are replaced.
func newRetryFixture(t *testing.T, o remote.RetryOptions) *retryFixture {
	t.Helper()
	f := &retryFixture{mem: remote.NewMemory()}
	remotetest.Put(t, f.mem, objKey, objData)
	f.faulty = remotetest.NewFaulty(f.mem)
	o.Sleep = f.sleep
	o.OnRetry = f.onRetry
	f.store = remote.NewRetry(f.faulty, o)
	return f
}

func (f *retryFixture) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	return ctx.Err()
}

func (f *retryFixture) onRetry(op, key string, attempt int, _ time.Duration, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !errors.Is(err, remote.ErrUnavailable) {
		panic(fmt.Sprintf("OnRetry with %v", err))
	}
	f.retries = append(f.retries, fmt.Sprintf("%s %s %d", op, key, attempt))
}

// slept returns how many waits the store made.
func (f *retryFixture) slept() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waits)
}

// retryOp is one Store operation that succeeds on a fixture without faults.
type retryOp struct {
	name    string // the Faulty operation
	retryOp string // the operation OnRetry reports
	key     string
	run     func(ctx context.Context, s remote.Store) error
}

var retryOps = []retryOp{
	{"put", "put", "data/new", func(ctx context.Context, s remote.Store) error {
		return s.Put(ctx, "data/new", bytes.NewReader(objData), int64(len(objData)))
	}},
	{"putifabsent", "put-if-absent", "data/new", func(ctx context.Context, s remote.Store) error {
		return s.PutIfAbsent(ctx, "data/new", objData)
	}},
	{"get", "get", objKey, func(ctx context.Context, s remote.Store) error {
		got, err := remote.ReadAll(ctx, s, objKey, 1<<20)
		if err == nil && !bytes.Equal(got, objData) {
			err = fmt.Errorf("read %d bytes that differ from the %d stored", len(got), len(objData))
		}
		return err
	}},
	{"stat", "stat", objKey, func(ctx context.Context, s remote.Store) error {
		_, err := s.Stat(ctx, objKey)
		return err
	}},
	{"list", "list", "data/", func(ctx context.Context, s remote.Store) error {
		n := 0
		err := s.List(ctx, "data/", func(remote.Info) error { n++; return nil })
		if err == nil && n != 1 {
			err = fmt.Errorf("listed %d objects, want 1", n)
		}
		return err
	}},
	{"delete", "delete", objKey, func(ctx context.Context, s remote.Store) error {
		return s.Delete(ctx, objKey)
	}},
}

func TestRetryTransient(t *testing.T) {
	for _, op := range retryOps {
		t.Run(op.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{})
			f.faulty.FailNext(op.name, 2, remote.ErrUnavailable)
			if err := op.run(t.Context(), f.store); err != nil {
				t.Fatalf("after 2 transient failures: %v", err)
			}
			if got := f.faulty.Calls(op.name); got != 3 {
				t.Errorf("%d calls, want 3", got)
			}
			want := []string{op.retryOp + " " + op.key + " 1", op.retryOp + " " + op.key + " 2"}
			if !slices.Equal(f.retries, want) {
				t.Errorf("OnRetry calls %q, want %q", f.retries, want)
			}
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	for _, op := range retryOps {
		t.Run(op.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{Attempts: 3})
			f.faulty.FailNext(op.name, 10, remote.ErrUnavailable)
			err := op.run(t.Context(), f.store)
			remotetest.WantErr(t, "after 10 transient failures", err, remote.ErrUnavailable)
			if err != nil && !strings.Contains(err.Error(), "3 attempts") {
				t.Errorf("error %q does not say 3 attempts", err)
			}
			if got := f.faulty.Calls(op.name); got != 3 {
				t.Errorf("%d calls, want 3", got)
			}
			if got := f.slept(); got != 2 {
				t.Errorf("%d waits, want 2", got)
			}
		})
	}
}

func TestRetryPermanent(t *testing.T) {
	errs := []error{remote.ErrNotFound, remote.ErrDenied, remote.ErrInvalidKey, remote.ErrCorrupt, remote.ErrNoBucket}
	for _, op := range retryOps {
		for _, want := range errs {
			t.Run(op.name+"/"+want.Error(), func(t *testing.T) {
				f := newRetryFixture(t, remote.RetryOptions{})
				f.faulty.FailNext(op.name, 1, want)
				remotetest.WantErr(t, op.name, op.run(t.Context(), f.store), want)
				if got := f.faulty.Calls(op.name); got != 1 {
					t.Errorf("%d calls, want 1", got)
				}
				if got := f.slept(); got != 0 {
					t.Errorf("%d waits, want none", got)
				}
			})
		}
	}
}

func TestRetryCancelledNotRetried(t *testing.T) {
	for _, op := range retryOps {
		t.Run(op.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{})
			f.faulty.FailNext(op.name, 1, remote.ErrUnavailable)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			err := op.run(ctx, f.store)
			remotetest.WantErr(t, op.name, err, context.Canceled)
			remotetest.WantErr(t, op.name, err, remote.ErrUnavailable)
			if got := f.faulty.Calls(op.name); got != 1 {
				t.Errorf("%d calls, want 1", got)
			}
		})
	}
}

func TestRetryPutUnseekable(t *testing.T) {
	f := newRetryFixture(t, remote.RetryOptions{})
	f.faulty.FailNext("put", 1, remote.ErrUnavailable)
	r := struct{ io.Reader }{bytes.NewReader(objData)}
	err := f.store.Put(t.Context(), "data/new", r, int64(len(objData)))
	remotetest.WantErr(t, "Put", err, remote.ErrUnavailable)
	if got := f.faulty.Calls("put"); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
	remotetest.Absent(t, f.mem, "data/new")
}

// TestRetryPutRewinds cuts two Puts in the middle of the caller's reader,
// which starts at an offset other than 0, and checks that the third stores
// the right bytes.
func TestRetryPutRewinds(t *testing.T) {
	f := newRetryFixture(t, remote.RetryOptions{})
	f.faulty.CutWrites(3000, 2, remote.ErrUnavailable)
	r := bytes.NewReader(append([]byte("skipped"), objData...))
	if _, err := r.Seek(7, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Put(t.Context(), "data/new", r, int64(len(objData))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := remotetest.Get(t, f.mem, "data/new", 0, -1); !bytes.Equal(got, objData) {
		t.Errorf("stored %d bytes that differ from the %d put", len(got), len(objData))
	}
	if got := f.faulty.Calls("put"); got != 3 {
		t.Errorf("%d calls, want 3", got)
	}
}

// TestRetryPutFreshAfterProgress: an upload that the link cuts more
// often than Attempts allows completes while each attempt sends
// FreshAfter bytes (a snapshot at 5% resets per MiB exited 12), gives up
// when they send less, and gives up in the end when every attempt is cut.
func TestRetryPutFreshAfterProgress(t *testing.T) {
	for _, tc := range []struct {
		name      string
		after     int64
		cuts      int
		wantOK    bool
		wantCalls int
	}{
		{"Progress", 1000, 8, true, 9},
		{"Stalled", 999, 8, false, 3},
		{"Forever", 5000, 100, false, 13}, // afresh until putAttemptsCap·Attempts, then counted
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{Attempts: 3, FreshAfter: 1000})
			f.faulty.CutWrites(tc.after, tc.cuts, remote.ErrUnavailable)
			err := f.store.Put(t.Context(), "data/new", bytes.NewReader(objData), int64(len(objData)))
			if (err == nil) != tc.wantOK {
				t.Errorf("Put: %v, want success %v", err, tc.wantOK)
			}
			if got := f.faulty.Calls("put"); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestRetryPutIfAbsentAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []byte // nil: no object before
		program  func(f *remotetest.Faulty)
		want     error  // nil or ErrExists
		calls    int    // of PutIfAbsent
		stored   []byte // the object afterwards
	}{
		{"OwnWrite", nil, func(f *remotetest.Faulty) { f.FailAfterWrite("putifabsent", 1) }, nil, 2, objData},
		{"OthersObject", []byte("other"), func(f *remotetest.Faulty) {
			f.FailNext("putifabsent", 1, remote.ErrUnavailable)
		}, remote.ErrExists, 2, []byte("other")},
		{"OthersLongerObject", append(slices.Clone(objData), 'x'), func(f *remotetest.Faulty) {
			f.FailNext("putifabsent", 1, remote.ErrUnavailable)
		}, remote.ErrExists, 2, append(slices.Clone(objData), 'x')},
		{"SameBytesNoAmbiguity", objData, func(*remotetest.Faulty) {}, remote.ErrExists, 1, objData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{})
			if tc.existing != nil {
				remotetest.Put(t, f.mem, "data/new", tc.existing)
			}
			tc.program(f.faulty)
			err := f.store.PutIfAbsent(t.Context(), "data/new", objData)
			if tc.want == nil && err != nil {
				t.Errorf("PutIfAbsent: %v", err)
			}
			if tc.want != nil {
				remotetest.WantErr(t, "PutIfAbsent", err, tc.want)
			}
			if got := f.faulty.Calls("putifabsent"); got != tc.calls {
				t.Errorf("%d calls, want %d", got, tc.calls)
			}
			if got := remotetest.Get(t, f.mem, "data/new", 0, -1); !bytes.Equal(got, tc.stored) {
				t.Errorf("stored %d bytes, want %d", len(got), len(tc.stored))
			}
		})
	}
}

func TestRetryDeleteAmbiguous(t *testing.T) {
	f := newRetryFixture(t, remote.RetryOptions{})
	f.faulty.FailAfterWrite("delete", 1)
	if err := f.store.Delete(t.Context(), objKey); err != nil {
		t.Errorf("Delete whose first attempt deleted: %v", err)
	}
	remotetest.Absent(t, f.mem, objKey)
	if got := f.faulty.Calls("delete"); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
	remotetest.WantErr(t, "Delete of a missing key", f.store.Delete(t.Context(), objKey), remote.ErrNotFound)
	if got := f.faulty.Calls("delete"); got != 3 {
		t.Errorf("%d calls, want 3", got)
	}
}

func TestRetryGetResumes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		off, length int64
		after       int64 // bytes each reader yields before it breaks
		cuts        int
	}{
		{"Whole", 0, -1, 1000, 3},
		{"Range", 100, 5000, 777, 4},
		{"ToEnd", 9000, -1, 1, 2},
		{"CutAtEnd", 9000, 1000, 1000, 1},
		{"CutAtStart", 0, -1, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{})
			f.faulty.CutReads(tc.after, tc.cuts, remote.ErrUnavailable)
			want := objData[tc.off:]
			if tc.length >= 0 {
				want = want[:tc.length]
			}
			if got := remotetest.Get(t, f.store, objKey, tc.off, tc.length); !bytes.Equal(got, want) {
				t.Errorf("got %d bytes that differ from the %d wanted", len(got), len(want))
			}
			if got := f.faulty.Calls("get"); got != tc.cuts+1 {
				t.Errorf("%d Gets, want %d", got, tc.cuts+1)
			}
		})
	}
}

func TestRetryGetResumeGivesUp(t *testing.T) {
	f := newRetryFixture(t, remote.RetryOptions{Attempts: 3})
	f.faulty.CutReads(10, 5, remote.ErrUnavailable)
	rc, err := f.store.Get(t.Context(), objKey, 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	remotetest.WantErr(t, "reading", err, remote.ErrUnavailable)
	if err != nil && !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q does not say 3 attempts", err)
	}
	if !bytes.Equal(got, objData[:30]) {
		t.Errorf("read %d bytes before the error, want the first 30", len(got))
	}
}

// TestRetryGetFreshAfterProgress: a long read that the link breaks more
// often than Attempts allows completes while each stretch yields
// FreshAfter bytes, and gives up when the stretches are shorter.
func TestRetryGetFreshAfterProgress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		after  int64
		wantOK bool
	}{
		{"Progress", 1000, true},
		{"Stalled", 999, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRetryFixture(t, remote.RetryOptions{Attempts: 3, FreshAfter: 1000})
			f.faulty.CutReads(tc.after, 8, remote.ErrUnavailable)
			got, err := remote.ReadAll(t.Context(), f.store, objKey, 1<<20)
			if !tc.wantOK {
				remotetest.WantErr(t, "ReadAll", err, remote.ErrUnavailable)
				return
			}
			if err != nil || !bytes.Equal(got, objData) {
				t.Fatalf("ReadAll: %d bytes, %v; want the %d stored", len(got), err, len(objData))
			}
			if n := f.faulty.Calls("get"); n != 9 {
				t.Errorf("%d Gets, want 9", n)
			}
		})
	}
}

func TestRetryGetPermanentReadError(t *testing.T) {
	f := newRetryFixture(t, remote.RetryOptions{})
	f.faulty.CutReads(10, 1, remote.ErrCorrupt)
	_, err := remote.ReadAll(t.Context(), f.store, objKey, 1<<20)
	remotetest.WantErr(t, "ReadAll", err, remote.ErrCorrupt)
	if got := f.faulty.Calls("get"); got != 1 {
		t.Errorf("%d Gets, want 1", got)
	}
}

func TestRetryListAfterFn(t *testing.T) {
	f := newRetryFixture(t, remote.RetryOptions{})
	errFn := fmt.Errorf("fn: %w", remote.ErrUnavailable)
	err := f.store.List(t.Context(), "", func(remote.Info) error { return errFn })
	remotetest.WantErr(t, "List", err, errFn)
	if got := f.faulty.Calls("list"); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
}

// ms returns v as milliseconds.
func ms(v ...int) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x) * time.Millisecond
	}
	return d
}

func TestRetryBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    remote.RetryOptions
		want []time.Duration
	}{
		{"Ceiling", remote.RetryOptions{Attempts: 7, Base: 100 * time.Millisecond, Max: time.Second,
			Rand: func(n int64) int64 { return n - 1 }}, ms(100, 200, 400, 800, 1000, 1000)},
		{"Half", remote.RetryOptions{Attempts: 5, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond,
			Rand: func(n int64) int64 { return n / 2 }}, ms(75, 150, 225, 225)},
		{"Zero", remote.RetryOptions{Attempts: 3, Rand: func(int64) int64 { return 0 }}, ms(500, 1000)}, // half the ceilings at least
		{"Defaults", remote.RetryOptions{Rand: func(n int64) int64 { return n - 1 }}, ms(1000, 2000, 4000, 8000)},
		{"MaxBelowBase", remote.RetryOptions{Attempts: 3, Base: time.Second, Max: 10 * time.Millisecond,
			Rand: func(n int64) int64 { return n - 1 }}, ms(10, 10)},
		{"HugeMax", remote.RetryOptions{Attempts: 70, Base: time.Nanosecond, Max: 1<<63 - 1,
			Rand: func(n int64) int64 { return n - 1 }}, hugeBackoff(69)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRetryFixture(t, tc.o)
			f.faulty.FailNext("stat", 100, remote.ErrUnavailable)
			_, err := f.store.Stat(t.Context(), objKey)
			remotetest.WantErr(t, "Stat", err, remote.ErrUnavailable)
			if !slices.Equal(f.waits, tc.want) {
				t.Errorf("waits %v, want %v", f.waits, tc.want)
			}
		})
	}
}

// hugeBackoff returns the ceilings of n waits from 1ns doubling up to the
// largest Duration, which half of it and the rest (Rand's largest) make
// without overflow.
func hugeBackoff(n int) []time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = 1<<63 - 1
		if i < 63 {
			d[i] = 1 << i
		}
	}
	return d
}

// TestRetryJitter checks with a seeded generator that the waits are spread
// between the halves of their growing ceilings and the ceilings.
func TestRetryJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	o := remote.RetryOptions{Attempts: 9, Base: 100 * time.Millisecond, Max: 2 * time.Second,
		Rand: func(n int64) int64 { mu.Lock(); defer mu.Unlock(); return rng.Int64N(n) }}
	ceilings := ms(100, 200, 400, 800, 1600, 2000, 2000, 2000)
	for round := range 20 {
		f := newRetryFixture(t, o)
		f.faulty.FailNext("stat", 100, remote.ErrUnavailable)
		_, _ = f.store.Stat(t.Context(), objKey)
		if len(f.waits) != len(ceilings) {
			t.Fatalf("%d waits, want %d", len(f.waits), len(ceilings))
		}
		distinct := map[time.Duration]bool{}
		for i, w := range f.waits {
			if w < ceilings[i]/2 || w > ceilings[i] {
				t.Errorf("round %d: wait %d is %v, outside [%v, %v]", round, i+1, w, ceilings[i]/2, ceilings[i])
			}
			distinct[w] = true
		}
		if len(distinct) < len(f.waits)/2 {
			t.Errorf("round %d: waits %v are hardly random", round, f.waits)
		}
	}
}

// TestRetryCancelDuringBackoff cancels the context while the store, using
// its real timer, waits an hour for a retry.
func TestRetryCancelDuringBackoff(t *testing.T) {
	faulty := remotetest.NewFaulty(remote.NewMemory())
	faulty.FailNext("stat", 1, remote.ErrUnavailable)
	waiting := make(chan struct{})
	s := remote.NewRetry(faulty, remote.RetryOptions{Base: time.Hour, Rand: func(n int64) int64 { return n - 1 },
		OnRetry: func(string, string, int, time.Duration, error) { close(waiting) }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Stat(ctx, objKey)
		done <- err
	}()
	<-waiting
	cancel()
	select {
	case err := <-done:
		remotetest.WantErr(t, "Stat", err, context.Canceled)
		remotetest.WantErr(t, "Stat", err, remote.ErrUnavailable)
	case <-time.After(time.Minute):
		t.Fatal("Stat still waits a minute after its context was cancelled")
	}
	if got := faulty.Calls("stat"); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
}
