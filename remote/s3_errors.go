package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
)

// errCorruptRetry is ErrCorrupt and ErrUnavailable in one line (the
// message of errors.Join would take two).
var errCorruptRetry = fmt.Errorf("%w, %w", ErrCorrupt, ErrUnavailable)

// errNotTLS is ErrUntrusted for a server that does not speak TLS at all.
var errNotTLS = fmt.Errorf("%w: the server does not speak TLS (for plain HTTP, write the repository as s3:http://HOST:PORT/BUCKET)", ErrUntrusted)

// errTimeoutRetry is ErrUnavailable and ErrTimeout in one line.
var errTimeoutRetry = fmt.Errorf("%w, %w", ErrUnavailable, ErrTimeout)

// wrap translates an SDK or transport error of operation op on key into an
// error that names both and wraps the package's sentinel for its kind. The
// S3 error code and message stay in the text; secrets never appear in them.
func (s *S3) wrap(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", op, key, ctxErr)
	}
	if kind := s3Kind(err); kind != nil {
		if why := s.deniedWrite(op, err); why != "" {
			return fmt.Errorf("%s %s: %w: %s: %w", op, key, kind, why, err)
		}
		return fmt.Errorf("%s %s: %w: %w", op, key, kind, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// deniedWrite explains an AccessDenied answer to a write (op put,
// put-if-absent or delete): the request was signed with valid credentials
// (a wrong key or secret has its own codes), so their policy does not
// allow it, as for a read-only user. It is "" for any other error.
func (s *S3) deniedWrite(op string, err error) string {
	if minio.ToErrorResponse(err).Code != "AccessDenied" {
		return ""
	}
	switch op {
	case "put", "put-if-absent":
		return "the credentials may not write to bucket " + s.cfg.Bucket
	case "delete":
		return "the credentials may not delete from bucket " + s.cfg.Bucket
	}
	return ""
}

// errIsTLS is ErrUntrusted for a plain HTTP request to a server that
// speaks TLS alone (MinIO answers 400 with a text, no S3 code).
var errIsTLS = fmt.Errorf("%w: the server speaks TLS (write the repository as s3:https://HOST:PORT/BUCKET or s3:HOST:PORT/BUCKET)", ErrUntrusted)

// errWrongRegion is ErrDenied for a request signed for another region than
// the bucket's.
var errWrongRegion = fmt.Errorf("%w: the bucket is in another region (give it as s3:...?region=R, or in $AWS_REGION)", ErrDenied)

// s3Kind is the sentinel that err belongs to, or nil.
func s3Kind(err error) error {
	if resp := minio.ToErrorResponse(err); resp.Code != "" || resp.StatusCode != 0 {
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(err.Error(), "HTTP request to an HTTPS server") {
			return errIsTLS
		}
		return s3CodeKind(resp.Code, resp.StatusCode)
	}
	return transportKind(err)
}

// s3CodeKind classifies an S3 error response by its code, falling back to
// the HTTP status.
func s3CodeKind(code string, status int) error {
	switch code {
	case "NoSuchKey", "NotFound":
		return ErrNotFound
	case "NoSuchBucket":
		return ErrNoBucket
	case "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		return errWrongRegion // not retried: the next request is signed alike
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "AllAccessDisabled", "AccountProblem", "InvalidSecurity":
		return ErrDenied
	case "PreconditionFailed":
		return ErrExists
	case "InvalidRange":
		return ErrRange
	case "BadDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch", "IncompleteBody":
		// The body arrived damaged or short; sending it again may work.
		return errCorruptRetry
	case "SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable",
		"ConditionalRequestConflict", "OperationAborted", "XMinioServerNotInitialized", "XMinioStorageFull":
		if code == "RequestTimeTooSkewed" {
			return ErrDenied // the clock is wrong; a retry fails the same way
		}
		return ErrUnavailable
	}
	switch {
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return ErrDenied
	case status == http.StatusPreconditionFailed:
		return ErrExists
	case status == http.StatusRequestedRangeNotSatisfiable:
		return ErrRange
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return ErrUnavailable
	}
	return nil
}

// transportKind classifies an error below HTTP: a connection refused or
// reset may pass (ErrUnavailable), and so may a timeout (ErrUnavailable
// and ErrTimeout); an untrusted certificate
// (ErrUntrusted) or an unknown host name (ErrNoHost) will not.
func transportKind(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return ErrUntrusted
	case errors.Is(err, http.ErrSchemeMismatch), errors.As(err, &record) && record.Conn != nil:
		// An https URL for a server that speaks plain HTTP (or another
		// protocol: a first record that is no TLS record at all, the
		// only kind of RecordHeaderError that carries the connection):
		// no retry helps.
		return errNotTLS
	case errors.As(err, &dnsErr) && !dnsErr.IsTemporary && !dnsErr.IsTimeout:
		return ErrNoHost
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrUnavailable
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return errTimeoutRetry
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return ErrUnavailable
	}
	return nil
}
