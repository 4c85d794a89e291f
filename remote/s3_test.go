package remote_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/miniotest"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// s3Config is the config of a store in bucket on srv, reached at addr
// (the server itself or a proxy in front of it).
func s3Config(t *testing.T, srv *miniotest.Server, addr, bucket, prefix string) remote.S3Config {
	t.Helper()
	cfg, err := remote.ParseS3URL("s3:" + strings.Replace(srv.URL, srv.Addr, addr, 1) + "/" + bucket + "/" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccessKey, cfg.SecretKey, cfg.CAFile = srv.AccessKey, remote.Secret(srv.SecretKey), srv.CAFile
	return cfg
}

func newS3(t *testing.T, cfg remote.S3Config) *remote.S3 {
	t.Helper()
	s, err := remote.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	srv := miniotest.Start(t)
	t.Run("Bare", func(t *testing.T) {
		remotetest.Run(t, func(t *testing.T) remote.Store {
			t.Helper()
			return newS3(t, s3Config(t, srv, srv.Addr, srv.NewBucket(t), ""))
		})
	})
	t.Run("PrefixDecorated", func(t *testing.T) {
		remotetest.Run(t, func(t *testing.T) remote.Store {
			t.Helper()
			s := newS3(t, s3Config(t, srv, srv.Addr, srv.NewBucket(t), "some/prefix"))
			return remote.NewRetry(remote.NewLimit(remote.NewBandwidth(s, 0, 0), 4), remote.RetryOptions{})
		})
	})
}

// TestS3PrefixIsolation: a store under a prefix sees only its own keys,
// and objects of other tools beside it are not listed.
func TestS3PrefixIsolation(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	a := newS3(t, s3Config(t, srv, srv.Addr, bucket, "a"))
	b := newS3(t, s3Config(t, srv, srv.Addr, bucket, "ab"))
	remotetest.Put(t, a, "config", []byte("a"))
	remotetest.Put(t, b, "config", []byte("b"))
	client := srv.Client(t)
	if _, err := client.PutObject(t.Context(), bucket, "a/.hidden", bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	got := remotetest.Keys(t, a, "")
	if len(got) != 1 || got["config"] != 1 {
		t.Errorf("store a lists %v, want only config (1 byte)", got)
	}
	if data := remotetest.Get(t, b, "config", 0, -1); string(data) != "b" {
		t.Errorf("store b reads %q", data)
	}
}

func TestS3Errors(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	ctx := t.Context()

	t.Run("WrongCredentials", func(t *testing.T) {
		cfg := s3Config(t, srv, srv.Addr, bucket, "")
		cfg.SecretKey = "not-the-secret-key"
		s := newS3(t, cfg)
		_, err := s.Stat(ctx, "config")
		if !errors.Is(err, remote.ErrDenied) {
			t.Errorf("Stat with a wrong secret: %v, want ErrDenied", err)
		}
		err = s.Put(ctx, "config", bytes.NewReader([]byte("x")), 1)
		if !errors.Is(err, remote.ErrDenied) || errors.Is(err, remote.ErrUnavailable) {
			t.Errorf("Put with a wrong secret: %v, want ErrDenied only", err)
		}
		if strings.Contains(err.Error(), "not-the-secret-key") || strings.Contains(err.Error(), srv.SecretKey) {
			t.Errorf("error shows the secret: %v", err)
		}
	})
	t.Run("ReadOnlyCredentials", func(t *testing.T) {
		cfg := s3Config(t, srv, srv.Addr, bucket, "")
		creds := srv.Restricted(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
			`"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]}]}`)
		cfg.AccessKey, cfg.SecretKey, cfg.SessionToken = creds.AccessKey, remote.Secret(creds.SecretKey), remote.Secret(creds.SessionToken)
		s := newS3(t, cfg)
		want := "put-if-absent locks/l: remote: access denied: the credentials may not write to bucket " + bucket + ": "
		err := s.PutIfAbsent(ctx, "locks/l", []byte("x"))
		remotetest.WantErr(t, "PutIfAbsent with read-only credentials", err, remote.ErrDenied)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("PutIfAbsent with read-only credentials: %v; want it to start %q", err, want)
		}
		_, err = s.Stat(ctx, "locks/l")
		remotetest.WantErr(t, "Stat with read-only credentials", err, remote.ErrNotFound)
	})
	t.Run("MissingBucket", func(t *testing.T) {
		s := newS3(t, s3Config(t, srv, srv.Addr, "no-such-bucket", ""))
		if err := s.BucketExists(ctx); !errors.Is(err, remote.ErrNoBucket) {
			t.Errorf("BucketExists: %v, want ErrNoBucket", err)
		}
		if _, err := s.Get(ctx, "config", 0, -1); !errors.Is(err, remote.ErrNoBucket) {
			t.Errorf("Get: %v, want ErrNoBucket", err)
		}
		if err := s.CreateBucket(ctx); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
		if err := s.BucketExists(ctx); err != nil {
			t.Errorf("BucketExists after CreateBucket: %v", err)
		}
		if err := s.CreateBucket(ctx); err != nil {
			t.Errorf("CreateBucket of an existing bucket: %v", err)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		s := newS3(t, s3Config(t, srv, addr, bucket, ""))
		_, err = s.Stat(ctx, "config")
		if !errors.Is(err, remote.ErrUnavailable) {
			t.Errorf("Stat of a closed port: %v, want ErrUnavailable", err)
		}
	})
}

func TestS3TLS(t *testing.T) {
	srv := miniotest.StartTLS(t)
	bucket := srv.NewBucket(t)
	cfg := s3Config(t, srv, srv.Addr, bucket, "")
	remotetest.Put(t, newS3(t, cfg), "config", []byte("trusted"))

	cfg.CAFile = ""
	_, err := newS3(t, cfg).Stat(t.Context(), "config")
	if !errors.Is(err, remote.ErrUntrusted) || errors.Is(err, remote.ErrUnavailable) {
		t.Errorf("Stat without the CA: %v, want ErrUntrusted and not retryable", err)
	}
}

func TestS3ConditionalWrites(t *testing.T) {
	srv := miniotest.Start(t)
	s := newS3(t, s3Config(t, srv, srv.Addr, srv.NewBucket(t), ""))
	ok, err := remote.ProbeConditionalWrites(t.Context(), s, "locks/probe")
	if err != nil || !ok {
		t.Fatalf("ProbeConditionalWrites on MinIO = %v, %v; want true", ok, err)
	}
	if keys := remotetest.Keys(t, s, ""); len(keys) != 0 {
		t.Errorf("the probe left %v", keys)
	}
}

// TestS3Requests: every operation costs the requests it should, and the
// counter sees them.
func TestS3Requests(t *testing.T) {
	srv := miniotest.Start(t)
	s := newS3(t, s3Config(t, srv, srv.Addr, srv.NewBucket(t), "p"))
	ctx := t.Context()
	before := s.Requests()
	remotetest.Put(t, s, "packs/aa/x", []byte("hello"))
	remotetest.Get(t, s, "packs/aa/x", 1, 3)
	if _, err := s.Stat(ctx, "packs/aa/x"); err != nil {
		t.Fatal(err)
	}
	remotetest.Keys(t, s, "packs/")
	if err := s.Delete(ctx, "packs/aa/x"); err != nil {
		t.Fatal(err)
	}
	got := s.Requests()
	if got.Other-before.Other <= 1 {
		got.Other = before.Other // a region look-up, once per client
	}
	want := remote.RequestCounts{Put: 1, Get: 1, Head: 2, List: 1, Delete: 1}
	if got != want {
		t.Errorf("requests = %+v, want %+v", got, want)
	}
}

// TestS3PutCutOften: an upload that the link cuts more often than
// Attempts allows, each time after sending FreshAfter bytes, completes:
// the S3 client sends through a reader of its own, so the Put's error
// must say how much it sent (a snapshot at 5% resets per MiB exited 12).
func TestS3PutCutOften(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	proxy := miniotest.NewProxy(t, srv.Addr)
	s := remote.NewRetry(newS3(t, s3Config(t, srv, proxy.Addr, bucket, "")),
		remote.RetryOptions{Attempts: 3, Base: time.Millisecond, Max: 10 * time.Millisecond})
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: the proxy reads 2 before each reset
	proxy.Add(miniotest.Rule{Method: "PUT", Times: 6, Fault: miniotest.ResetMidBody()})
	remotetest.Put(t, s, "packs/aa/cut", data)
	if got := remotetest.Get(t, s, "packs/aa/cut", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes that differ from the %d put", len(got), len(data))
	}
}

// TestS3Faults sends requests through a proxy that injects faults; with
// NewRetry in front, every operation completes with the right bytes.
func TestS3Faults(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	proxy := miniotest.NewProxy(t, srv.Addr)
	cfg := s3Config(t, srv, proxy.Addr, bucket, "")
	cfg.Timeout = time.Second
	bare := newS3(t, cfg)
	s := remote.NewRetry(bare, remote.RetryOptions{Base: time.Millisecond, Max: 10 * time.Millisecond})
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB

	for i, fault := range []miniotest.Fault{miniotest.ResetMidBody(), miniotest.Status(500), miniotest.Status(503), miniotest.Stall(3 * time.Second)} {
		proxy.Add(miniotest.Rule{Method: "PUT", Times: 1, Fault: fault})
		remotetest.Put(t, s, fmt.Sprintf("packs/aa/%d", i), data)
	}
	for _, fault := range []miniotest.Fault{miniotest.ResetMidResponse(), miniotest.Status(503), miniotest.Stall(3 * time.Second)} {
		proxy.Add(miniotest.Rule{Method: "GET", Times: 1, Fault: fault})
		if got := remotetest.Get(t, s, "packs/aa/0", 0, -1); !bytes.Equal(got, data) {
			t.Errorf("Get after %v: wrong bytes", fault)
		}
	}
	if n := proxy.Injected(); n != 7 {
		t.Errorf("proxy injected %d faults, want 7", n)
	}

	// Without retries, each fault is one clear error of the right kind.
	proxy.Add(miniotest.Rule{Method: "PUT", Times: 1, Fault: miniotest.Status(503)})
	err := bare.Put(t.Context(), "x", bytes.NewReader(data), int64(len(data)))
	if !errors.Is(err, remote.ErrUnavailable) {
		t.Errorf("Put answered 503: %v, want ErrUnavailable", err)
	}
	// net/http itself sends a GET again once when a reused connection
	// fails before the response, so the stall must catch two attempts; it
	// is on its own key, lest a spent-late rule catch a later request.
	proxy.Add(miniotest.Rule{Method: "GET", PathContains: "packs/aa/1", Times: 2, Fault: miniotest.Stall(3 * time.Second)})
	start := time.Now()
	_, err = bare.Get(t.Context(), "packs/aa/1", 0, -1)
	if !errors.Is(err, remote.ErrUnavailable) {
		t.Errorf("Get stalled: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a stalled Get took %v with a 1s timeout", d)
	}

	// A flipped byte is not the store's to notice (the repository checks
	// object ids); it must arrive as a byte, not as a short read.
	proxy.Add(miniotest.Rule{Method: "GET", Times: 1, Fault: miniotest.FlipByte()})
	rc, err := bare.Get(t.Context(), "packs/aa/0", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(got) != len(data) || bytes.Equal(got, data) {
		t.Errorf("flipped Get: %d bytes, err %v, equal %v", len(got), err, bytes.Equal(got, data))
	}
}
