package remote_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/miniotest"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// TestS3BlackHole sends each operation to a server that accepts
// connections and never answers. With the retry policy's defaults each
// fails with ErrTimeout after two attempts of AnswerTimeout each, not
// after five attempts, and the stall timeout (left at its two minutes)
// plays no part.
func TestS3BlackHole(t *testing.T) {
	const answer = 300 * time.Millisecond
	if remote.DefaultS3AnswerTimeout <= 0 || remote.DefaultS3AnswerTimeout > time.Minute {
		t.Errorf("DefaultS3AnswerTimeout = %v, want a finite bound of at most a minute", remote.DefaultS3AnswerTimeout)
	}
	hole := miniotest.NewBlackHole(t)
	bare := newS3(t, remote.S3Config{Endpoint: hole.Addr, Insecure: true, Bucket: "bkt",
		AccessKey: "k", SecretKey: "s", AnswerTimeout: answer})
	s := remote.NewRetry(bare, remote.RetryOptions{Base: time.Millisecond})
	small := []byte("lock")
	ops := map[string]func(ctx context.Context) error{
		"stat": func(ctx context.Context) error { _, err := s.Stat(ctx, "config"); return err },
		"get":  func(ctx context.Context) error { _, err := remote.ReadAll(ctx, s, "config", 1<<20); return err },
		"list": func(ctx context.Context) error {
			return s.List(ctx, "snapshots/", func(remote.Info) error { return nil })
		},
		"put": func(ctx context.Context) error {
			return s.Put(ctx, "locks/x", bytes.NewReader(small), int64(len(small)))
		},
		"put-if-absent": func(ctx context.Context) error { return s.PutIfAbsent(ctx, "locks/y", small) },
	}
	for name, op := range ops {
		before := hole.Accepted()
		start := time.Now()
		err := op(t.Context())
		took := time.Since(start)
		if !errors.Is(err, remote.ErrUnavailable) || !errors.Is(err, remote.ErrTimeout) {
			t.Errorf("%s: %v, want ErrUnavailable and ErrTimeout", name, err)
		}
		if took < 2*answer || took > 2*answer+2*time.Second {
			t.Errorf("%s failed after %v, want two attempts of %v", name, took, answer)
		}
		if n := hole.Accepted() - before; n != 2 {
			t.Errorf("%s: %d connections, want 2 (one retry of a timed-out request)", name, n)
		}
	}
}

// TestS3SlowServer moves a 2 MiB object up and down through a proxy that
// passes 128 KiB every 100 ms: each transfer takes about 1.6 s, five times
// the answer timeout, and neither is cut. The download runs with a stall
// timeout as short, since its bytes keep arriving. The upload keeps the
// default stall timeout: once the client has handed the last of its body
// to the kernel it cannot see it move, and on loopback the kernel's
// buffers hold most of the 2 MiB.
func TestS3SlowServer(t *testing.T) {
	const short = 300 * time.Millisecond
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	proxy := miniotest.NewProxy(t, srv.Addr)
	cfg := s3Config(t, srv, proxy.Addr, bucket, "")
	cfg.AnswerTimeout = short
	up := newS3(t, cfg)
	cfg.Timeout = short
	down := newS3(t, cfg)
	data := remotetest.Random(7, 2<<20)
	slow := miniotest.Trickle(128<<10, 100*time.Millisecond)

	proxy.Add(miniotest.Rule{Method: "PUT", PathContains: "packs/", Times: 1, Fault: slow})
	start := time.Now()
	remotetest.Put(t, up, "packs/aa/slow", data)
	if d := time.Since(start); d < time.Second {
		t.Errorf("the slow PUT took %v: the fault did not slow it", d)
	}
	proxy.Add(miniotest.Rule{Method: "GET", PathContains: "packs/", Times: 1, Fault: slow})
	start = time.Now()
	if got := remotetest.Get(t, down, "packs/aa/slow", 0, -1); !bytes.Equal(got, data) {
		t.Error("the slow GET returned other bytes")
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the slow GET took %v: the fault did not slow it", d)
	}
	if n := proxy.Injected(); n != 2 {
		t.Errorf("proxy slowed %d requests, want 2", n)
	}
}
