package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// fakeClock is a clock whose sleep returns at once and moves the time on;
// it is for one goroutine.
type fakeClock struct {
	t     time.Time
	slept time.Duration // all sleeps so far
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) clock() clock {
	return clock{
		now: func() time.Time { return c.t },
		sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			c.t = c.t.Add(d)
			c.slept += d
			return nil
		},
	}
}

// near fails t unless got is within a microsecond of want.
func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("%s: waited %v, want %v", what, got, want)
	}
}

const kib = 1 << 10

func TestTokenBucket(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  int64
		idle  time.Duration // between the takes
		takes []int
		want  time.Duration // the sum of the waits
	}{
		{"WithinBurst", 1024 * kib, 0, []int{256 * kib}, 0}, // burst: rate/4
		{"OneSecondPastBurst", 1024 * kib, 0, []int{256 * kib, 1024 * kib}, time.Second},
		{"OneTakePastBurst", 1024 * kib, 0, []int{1280 * kib}, time.Second},
		{"MinimumBurst", 100 * kib, 0, []int{64 * kib, 100 * kib}, time.Second}, // burst 64 KiB, not 25
		{"ManySmallTakes", 100 * kib, 0, []int{32 * kib, 32 * kib, 25 * kib, 25 * kib, 25 * kib, 25 * kib}, time.Second},
		{"IdleRefills", 100 * kib, time.Second, []int{64 * kib, 64 * kib, 64 * kib}, 0},
		{"RefillCappedAtBurst", 100 * kib, 10 * time.Second, []int{64 * kib, 164 * kib}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			b := newTokenBucket(tc.rate, c.clock())
			for _, n := range tc.takes {
				c.t = c.t.Add(tc.idle)
				if err := b.wait(t.Context(), n); err != nil {
					t.Fatal(err)
				}
			}
			near(t, "takes", c.slept, tc.want)
		})
	}
}

// TestTokenBucketCancel checks that a taker whose wait is cancelled gives
// its tokens back.
func TestTokenBucketCancel(t *testing.T) {
	c := newFakeClock()
	b := newTokenBucket(100*kib, c.clock())
	if err := b.wait(t.Context(), 64*kib); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.wait(ctx, 1000*kib); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: got %v, want context.Canceled", err)
	}
	if err := b.wait(t.Context(), 10*kib); err != nil {
		t.Fatal(err)
	}
	near(t, "take after a cancelled one", c.slept, 100*time.Millisecond)
}

// TestBandwidthTransfer puts and gets an object through limits, with a fake
// clock, and checks that each direction waits for its own rate: X bytes at
// R bytes per second take (X-burst)/R, the burst passing free.
func TestBandwidthTransfer(t *testing.T) {
	const size = 4 << 20
	for _, tc := range []struct {
		name           string
		up, down       int64
		putWait, getWt time.Duration
	}{
		{"UploadOnly", 1 << 20, 0, 4*time.Second - 250*time.Millisecond, 0},
		{"DownloadOnly", 0, 2 << 20, 0, 2*time.Second - 250*time.Millisecond},
		{"Both", 1 << 20, 2 << 20, 4*time.Second - 250*time.Millisecond, 2*time.Second - 250*time.Millisecond},
		{"SlowWithMinimumBurst", 128 * kib, 64 * kib, 32*time.Second - 500*time.Millisecond, 63 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			s := newBandwidth(NewMemory(), tc.up, tc.down, c.clock())
			data := bytes.Repeat([]byte("wimsnap!"), size/8)
			if err := s.Put(t.Context(), "obj", bytes.NewReader(data), size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			near(t, "Put", c.slept, tc.putWait)
			c.slept = 0
			got, err := ReadAll(t.Context(), s, "obj", size)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadAll: %d bytes, %v; want the %d put", len(got), err, size)
			}
			near(t, "Get", c.slept, tc.getWt)
		})
	}
}

// TestBandwidthShared reads two objects in turns: they share the download
// rate, so the pair takes as long as one object of twice the size.
func TestBandwidthShared(t *testing.T) {
	c := newFakeClock()
	mem := NewMemory()
	s := newBandwidth(mem, 0, 1<<20, c.clock())
	var readers []io.ReadCloser
	for _, key := range []string{"a", "b"} {
		if err := mem.Put(t.Context(), key, bytes.NewReader(make([]byte, 1<<20)), 1<<20); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Get(t.Context(), key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close() //nolint:errcheck // a Memory reader's Close does not fail
		readers = append(readers, rc)
	}
	buf := make([]byte, 32*kib)
	for range (1 << 20) / len(buf) {
		for _, rc := range readers {
			if _, err := io.ReadFull(rc, buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	near(t, "two readers", c.slept, 2*time.Second-250*time.Millisecond)
}

// TestBandwidthChunk checks that one Read moves at most a burst, so a large
// buffer does not make one long wait.
func TestBandwidthChunk(t *testing.T) {
	c := newFakeClock()
	mem := NewMemory()
	if err := mem.Put(t.Context(), "obj", bytes.NewReader(make([]byte, 1<<20)), 1<<20); err != nil {
		t.Fatal(err)
	}
	s := newBandwidth(mem, 0, 256*kib, c.clock())
	rc, err := s.Get(t.Context(), "obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close() //nolint:errcheck // a Memory reader's Close does not fail
	if n, err := rc.Read(make([]byte, 1<<20)); n != 64*kib || err != nil {
		t.Errorf("Read of 1 MiB: got %d bytes, %v; want the burst of 64 KiB", n, err)
	}
}

func TestBandwidthCancel(t *testing.T) {
	c := newFakeClock()
	mem := NewMemory()
	s := newBandwidth(mem, 64*kib, 64*kib, c.clock())
	data := make([]byte, 256*kib)
	if err := mem.Put(t.Context(), "obj", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := s.Get(ctx, "obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close() //nolint:errcheck // a Memory reader's Close does not fail
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("reading with a cancelled context: got %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	r := &cancelAfter{r: bytes.NewReader(data), n: 128 * kib, cancel: cancel}
	if err := s.Put(ctx, "new", r, int64(len(data))); !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled while it waits: got %v, want context.Canceled", err)
	}
	if _, err := mem.Stat(t.Context(), "new"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after the cancelled Put: got %v, want ErrNotFound", err)
	}
}

// cancelAfter calls cancel once n bytes of r have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestBandwidthUnlimited(t *testing.T) {
	mem := NewMemory()
	if s := NewBandwidth(mem, 0, -1); s != Store(mem) {
		t.Errorf("NewBandwidth without limits returned %T, want the store itself", s)
	}
	c := newFakeClock()
	s := newBandwidth(mem, 1, 0, c.clock())
	if err := mem.Put(t.Context(), "obj", bytes.NewReader(make([]byte, 1<<20)), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAll(t.Context(), s, "obj", 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(t.Context(), "small", make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	near(t, "Get and PutIfAbsent with only an upload limit", c.slept, 0)
}
