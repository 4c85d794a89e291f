package miniotest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// proxied returns a proxy in front of s and a client of the proxy that
// does not retry.
func proxied(t *testing.T, s *Server) (*Proxy, *minio.Client) {
	t.Helper()
	p := NewProxy(t, s.Addr)
	opts := s.Options()
	opts.MaxRetries = 1
	c, err := minio.New(p.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(opts.Transport.(*http.Transport).CloseIdleConnections)
	return p, c
}

// payload returns n bytes of a repeating pattern.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// put stores data under key.
func put(ctx context.Context, c *minio.Client, bucket, key string, data []byte) error {
	_, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	return err
}

// get reads the object under key; on failure it returns what it read.
func get(ctx context.Context, c *minio.Client, bucket, key string) ([]byte, error) {
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close() //nolint:errcheck // read-only; a failed read is returned
	return io.ReadAll(obj)
}

// wantS3Error fails the test unless err is an S3 error response with the
// status and, unless code is "", the S3 error code.
func wantS3Error(t *testing.T, err error, status int, code string) {
	t.Helper()
	resp := minio.ToErrorResponse(err)
	if err == nil || resp.StatusCode != status || code != "" && resp.Code != code {
		t.Fatalf("got %v (status %d, code %q), want %d %s", err, resp.StatusCode, resp.Code, status, code)
	}
}

// wantConnError fails the test unless err is a failure of the connection
// rather than an answer from the server.
func wantConnError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want a connection error")
	}
	if resp := minio.ToErrorResponse(err); resp.StatusCode != 0 {
		t.Fatalf("got %v (status %d, code %q), want a connection error", err, resp.StatusCode, resp.Code)
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	s := Start(t)
	bucket := s.NewBucket(t)
	ctx := context.Background()
	data := payload(64 << 10)

	t.Run("Forwards", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		key := "forward/a b+c!(1)~é*'.bin" // escaping survives the proxy
		if err := put(ctx, c, bucket, key, data); err != nil {
			t.Fatal(err)
		}
		got, err := get(ctx, c, bucket, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get: %d bytes, %v; want %d bytes back", len(got), err, len(data))
		}
		if _, err := get(ctx, c, bucket, "forward/missing"); minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Fatalf("get missing: %v, want NoSuchKey", err)
		}
		want := map[string]int{"PUT": 1, "GET": 2}
		if got := p.Counts(); !equalCounts(got, want) {
			t.Fatalf("Counts() = %v, want %v", got, want)
		}
		if p.Count("") != 3 || p.Count("PUT") != 1 || p.Count("DELETE") != 0 || p.Injected() != 0 {
			t.Fatalf("Count(\"\") = %d, Count(PUT) = %d, Count(DELETE) = %d, Injected() = %d; want 3, 1, 0, 0",
				p.Count(""), p.Count("PUT"), p.Count("DELETE"), p.Injected())
		}
	})

	t.Run("ResetMidBody", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		p.Add(Rule{Method: "PUT", PathContains: "packs/", Times: 1, Fault: ResetMidBody()})
		wantConnError(t, put(ctx, c, bucket, "reset-body/packs/1", data))
		if _, err := c.StatObject(ctx, bucket, "reset-body/packs/1", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Fatalf("stat after reset: %v, want NoSuchKey (nothing forwarded)", err)
		}
		if err := put(ctx, c, bucket, "reset-body/packs/1", data); err != nil {
			t.Fatalf("put after the rule is spent: %v", err)
		}
		if p.Count("PUT") != 2 || p.Injected() != 1 {
			t.Fatalf("Count(PUT) = %d, Injected() = %d; want 2, 1", p.Count("PUT"), p.Injected())
		}
	})

	t.Run("Status", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		if err := put(ctx, c, bucket, "status/k", data); err != nil {
			t.Fatal(err)
		}
		p.Add(Rule{Method: "PUT", Times: 1, Fault: Status(500)})
		p.Add(Rule{Method: "GET", Times: 1, Fault: Status(503)})
		p.Add(Rule{Method: "HEAD", Times: 1, Fault: Status(503)})
		wantS3Error(t, put(ctx, c, bucket, "status/k2", data), 500, "InternalError")
		_, err := get(ctx, c, bucket, "status/k")
		wantS3Error(t, err, 503, "SlowDown")
		_, err = c.StatObject(ctx, bucket, "status/k", minio.StatObjectOptions{})
		wantS3Error(t, err, 503, "") // a HEAD answer has no body to carry a code
		if got, err := get(ctx, c, bucket, "status/k"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get after the rules are spent: %d bytes, %v", len(got), err)
		}
		if p.Injected() != 3 {
			t.Fatalf("Injected() = %d, want 3", p.Injected())
		}
	})

	t.Run("Stall", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		if err := put(ctx, c, bucket, "stall/k", data); err != nil {
			t.Fatal(err)
		}
		p.Add(Rule{Method: "GET", Times: 1, Fault: Stall(time.Minute)})
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := get(short, c, bucket, "stall/k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("get with a short timeout: %v, want context.DeadlineExceeded", err)
		}

		const brief = 50 * time.Millisecond
		p.Add(Rule{Method: "GET", Times: 1, Fault: Stall(brief)})
		begin := time.Now()
		got, err := get(ctx, c, bucket, "stall/k")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get after a brief stall: %d bytes, %v", len(got), err)
		}
		if elapsed := time.Since(begin); elapsed < brief {
			t.Fatalf("get took %v, less than the stall of %v", elapsed, brief)
		}
	})

	t.Run("StallAtClose", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		p.Add(Rule{Fault: Stall(time.Hour)})
		errc := make(chan error, 1)
		go func() {
			errc <- put(ctx, c, bucket, "stall-close/k", data)
		}()
		for p.Count("PUT") == 0 {
			time.Sleep(time.Millisecond)
		}
		p.Close() // must not wait for the stall
		wantConnError(t, <-errc)
	})

	t.Run("FlipByte", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		if err := put(ctx, c, bucket, "flip/k", data); err != nil {
			t.Fatal(err)
		}
		p.Add(Rule{Method: "GET", PathContains: "flip/", Times: 1, Fault: FlipByte()})
		got, err := get(ctx, c, bucket, "flip/k")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(data) {
			t.Fatalf("got %d bytes, want %d", len(got), len(data))
		}
		for i := range got {
			if want := data[i] ^ flipped(i == len(data)/2); got[i] != want {
				t.Fatalf("byte %d = %#x, want %#x", i, got[i], want)
			}
		}
		if got, err := get(ctx, c, bucket, "flip/k"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get after the rule is spent: %d bytes, %v", len(got), err)
		}
	})

	t.Run("ResetMidResponse", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		if err := put(ctx, c, bucket, "reset-response/k", data); err != nil {
			t.Fatal(err)
		}
		p.Add(Rule{Method: "GET", Times: 1, Fault: ResetMidResponse()})
		got, err := get(ctx, c, bucket, "reset-response/k")
		wantConnError(t, err)
		if len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("read %d bytes before the reset, want a prefix of %d", len(got), len(data))
		}
		if got, err := get(ctx, c, bucket, "reset-response/k"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get after the rule is spent: %d bytes, %v", len(got), err)
		}

		// A PUT's answer has no body: the object is stored, yet the
		// client sees a failure.
		p.Add(Rule{Method: "PUT", Times: 1, Fault: ResetMidResponse()})
		wantConnError(t, put(ctx, c, bucket, "reset-response/put", data))
		if got, err := get(ctx, c, bucket, "reset-response/put"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get of the PUT whose answer was lost: %d bytes, %v", len(got), err)
		}
	})

	t.Run("Rules", func(t *testing.T) {
		t.Parallel()
		p, c := proxied(t, s)
		p.Add(Rule{Method: "PUT", PathContains: "blocked/", Fault: Status(503)}) // every time
		p.Add(Rule{Method: "PUT", Times: 1})                                     // lets one through
		p.Add(Rule{Method: "PUT", Times: 1, Fault: Status(500)})
		steps := []struct {
			key  string
			code string // "" for success
		}{
			{"rules/blocked/1", "SlowDown"},
			{"rules/a", ""},
			{"rules/b", "InternalError"},
			{"rules/blocked/2", "SlowDown"},
			{"rules/c", ""},
		}
		for _, step := range steps {
			err := put(ctx, c, bucket, step.key, data)
			if got := minio.ToErrorResponse(err).Code; (err == nil) != (step.code == "") || got != step.code {
				t.Fatalf("put %s: %v, want code %q", step.key, err, step.code)
			}
		}
		if p.Count("PUT") != len(steps) || p.Injected() != 3 {
			t.Fatalf("Count(PUT) = %d, Injected() = %d; want %d, 3", p.Count("PUT"), p.Injected(), len(steps))
		}
	})
}

// flipped returns the mask FlipByte applies to a byte: 0xff if flip.
func flipped(flip bool) byte {
	if flip {
		return 0xff
	}
	return 0
}

// equalCounts reports whether two count maps are equal, missing keys
// counting as zero.
func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func TestStatusPanics(t *testing.T) {
	for _, code := range []int{0, 200, 399, 600} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Status(%d) did not panic", code)
				}
			}()
			Status(code)
		}()
	}
}
