package miniotest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// putGet stores data under key in bucket with c and reads it back.
func putGet(t *testing.T, c *minio.Client, bucket, key string, data []byte) []byte {
	t.Helper()
	ctx := context.Background()
	_, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close() //nolint:errcheck // read-only; a failed read is returned
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return got
}

func TestStart(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	s := Start(t)
	t.Logf("Start took %v", time.Since(begin))

	bucket := s.NewBucket(t)
	data := []byte("hello, minio")
	c := s.Client(t)
	if got := putGet(t, c, bucket, "dir/key", data); !bytes.Equal(got, data) {
		t.Fatalf("read back %q, want %q", got, data)
	}
	var keys []string
	for obj := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	if len(keys) != 1 || keys[0] != "dir/key" {
		t.Fatalf("listed %q, want [dir/key]", keys)
	}
	if other := s.NewBucket(t); other == bucket {
		t.Fatalf("NewBucket returned %s twice", bucket)
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	s := StartTLS(t)
	t.Logf("StartTLS took %v", time.Since(begin))
	if s.URL != "https://"+s.Addr {
		t.Fatalf("URL = %s, want https://%s", s.URL, s.Addr)
	}

	t.Run("trusted", func(t *testing.T) {
		data := []byte("over TLS")
		if got := putGet(t, s.Client(t), s.NewBucket(t), "k", data); !bytes.Equal(got, data) {
			t.Fatalf("read back %q, want %q", got, data)
		}
	})
	t.Run("CAFile", func(t *testing.T) {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			t.Fatalf("%s holds no certificate", s.CAFile)
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
		defer client.CloseIdleConnections()
		if err := probe(client, s.URL+readyPath); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		opts := s.Options()
		opts.Transport = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
		opts.MaxRetries = 1
		c, err := minio.New(s.Addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListBuckets(context.Background())
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("list buckets without the CA: got %v, want an x509.UnknownAuthorityError", err)
		}
	})
}
