package miniotest

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Region is the region MinIO reports for its buckets. Clients that set it
// skip the GetBucketLocation request minio-go otherwise sends before the
// first request to a bucket.
const Region = "us-east-1"

// Options returns minio-go options for the server: its root credentials,
// Region, and for a TLS server HTTPS trusting its CA. Each call returns a
// new transport, so callers may change the options (MaxRetries, say) and
// use them with another endpoint that forwards to the server, such as a
// Proxy's Addr.
func (s *Server) Options() *minio.Options {
	return s.options(s.transport())
}

// Client returns a minio-go client for the server with the root
// credentials and the SDK's default retries, for tests that set up or
// inspect buckets directly. Its idle connections are closed at cleanup.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	tr := s.transport()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(s.Addr, s.options(tr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// options returns the options of Options with the transport tr.
func (s *Server) options(tr http.RoundTripper) *minio.Options {
	return &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:    s.roots != nil,
		Transport: tr,
		Region:    Region,
	}
}

// transport returns a new transport for clients of the server. Like
// minio-go's own it never decompresses bodies; unlike it, it ignores
// HTTP_PROXY and friends.
func (s *Server) transport() *http.Transport {
	return &http.Transport{
		TLSClientConfig:     s.tlsConfig(),
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	}
}

// NewBucket creates a bucket with a fresh random name and returns the
// name: "miniotest-" followed by 26 lower-case letters and digits. The
// bucket is left in place at cleanup; the server's data goes away with
// it.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "miniotest-" + strings.ToLower(rand.Text())
	err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: Region})
	if err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}
