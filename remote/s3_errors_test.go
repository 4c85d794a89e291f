package remote

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestTransportKind: errors below HTTP fall into the sentinels that decide
// retries and exit codes: a host name that does not resolve is ErrNoHost
// (not retried), one whose look-up timed out or a refused connection
// ErrUnavailable, an https URL for a plain HTTP server ErrUntrusted (exit
// 12, not retried).
func TestTransportKind(t *testing.T) {
	wrapURL := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/b", Err: err} }
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"no such host", wrapURL(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "h", IsNotFound: true}}), ErrNoHost},
		{"look-up timed out", wrapURL(&net.DNSError{Err: "i/o timeout", Name: "h", IsTimeout: true}), ErrUnavailable},
		{"refused", wrapURL(&net.OpError{Op: "dial", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}), ErrUnavailable},
		{"plain HTTP", wrapURL(fmt.Errorf("%w", http.ErrSchemeMismatch)), ErrUntrusted},
		{"not TLS", wrapURL(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", Conn: &net.TCPConn{}}), ErrUntrusted},
		{"bad record mid-stream", wrapURL(tls.RecordHeaderError{Msg: "oversized record received"}), nil},
		{"other", errors.New("something else"), nil},
	}
	for _, tt := range tests {
		if got := transportKind(tt.err); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCorruptKindOneLine: a damaged body is ErrCorrupt and ErrUnavailable
// (retried) in a message of one line, as log lines need.
func TestCorruptKindOneLine(t *testing.T) {
	err := s3CodeKind("BadDigest", 400)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "\n") {
		t.Errorf("BadDigest: %q", err)
	}
}

// TestS3KindBadRequest: a request signed for another region than the
// bucket's, and a plain HTTP request to a server that speaks TLS alone,
// are refusals of the server (exit 12) that say what to change; they were
// unknown 400 answers (exit 1).
func TestS3KindBadRequest(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
		says string
	}{
		{"wrong region", minio.ErrorResponse{StatusCode: 400, Code: "AuthorizationHeaderMalformed",
			Message: "The authorization header is malformed; the region is wrong; expecting 'eu-central-1'."}, ErrDenied, "?region="},
		{"http to https", minio.ErrorResponse{StatusCode: 400, Message: "Client sent an HTTP request to an HTTPS server."},
			ErrUntrusted, "s3:https://"},
		{"other 400", minio.ErrorResponse{StatusCode: 400, Code: "InvalidArgument"}, nil, ""},
	}
	for _, tt := range tests {
		got := s3Kind(tt.err)
		if !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) || got != nil && !strings.Contains(got.Error(), tt.says) {
			t.Errorf("%s: %v, want %v saying %q", tt.name, got, tt.want, tt.says)
		}
	}
}
