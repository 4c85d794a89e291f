package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3 store lives and how to reach it. ParseS3URL
// fills the location fields from a repository URL; the caller adds the
// credentials and TLS settings.
type S3Config struct {
	Endpoint string   // host[:port]
	Insecure bool     // plain HTTP instead of HTTPS
	Bucket   string   // the bucket
	Prefix   string   // key prefix inside the bucket, "" for the bucket's root
	Region   string   // "" lets the SDK ask the server once
	Lookup   S3Lookup // path or host-name bucket addressing

	AccessKey    string
	SecretKey    Secret
	SessionToken Secret

	// CAFile is a PEM file of certificate authorities to trust in addition
	// to the system's, for servers with a private CA.
	CAFile string
	// Timeout is how long a transfer may make no progress (no byte of a
	// request or response sent or received) before the request fails with
	// ErrUnavailable and ErrTimeout; 0 means DefaultS3Timeout. It never
	// caps a transfer that keeps moving, however long it takes.
	Timeout time.Duration
	// AnswerTimeout is how long the server may take to answer: to accept
	// a connection and finish the TLS handshake, and, for a request whose
	// body is at most AnswerBodyMax bytes (every request but the upload of
	// a large object), to send the response's headers, counted from the
	// start of the request. A large upload waits for its headers up to
	// Timeout once its body is sent, since the last of it may still sit in
	// the kernel's buffers. Past it the request fails with ErrUnavailable
	// and ErrTimeout. 0 means DefaultS3AnswerTimeout, or Timeout if that
	// is shorter.
	AnswerTimeout time.Duration
}

// Defaults of S3Config.
const (
	// DefaultS3Timeout is the stall timeout of S3 transfers: long enough
	// for a busy server to take the next bytes of a 64 MiB upload, short
	// enough that a dead connection is noticed.
	DefaultS3Timeout = 2 * time.Minute
	// DefaultS3AnswerTimeout is how long a server may take to accept a
	// connection and to answer a request without a large body. With the
	// retry policy of NewRetry (a timed-out request is sent twice) a
	// server that accepts connections but never answers fails a command
	// after about twice this.
	DefaultS3AnswerTimeout = 30 * time.Second
	// AnswerBodyMax is the largest request body whose response headers
	// must come within AnswerTimeout of the request's start.
	AnswerBodyMax = 64 << 10
)

// applyDefaults fills the zero timeouts of cfg.
func (cfg *S3Config) applyDefaults() {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultS3Timeout
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = min(DefaultS3AnswerTimeout, cfg.Timeout)
	}
}

// S3 is a Store in an S3-compatible bucket, under a key prefix. Objects are
// written with single PUT requests carrying a Content-MD5 header, which the
// server checks, so an upload is visible whole or not at all. PutIfAbsent
// uses a conditional write (If-None-Match: *); servers that ignore the
// header overwrite instead, which ProbeConditionalWrites detects.
//
// The SDK's own retries are off: wrap the store with NewRetry, which knows
// which errors are worth a retry. Errors wrap the package's sentinels
// (ErrNotFound, ErrNoBucket, ErrDenied, ErrUnavailable, ...).
type S3 struct {
	client *minio.Client
	core   minio.Core
	cfg    S3Config
	count  *requestCounter
}

// NewS3 returns the store that cfg describes. It makes no request; a wrong
// endpoint, bucket or credential shows in the first operation.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("remote: s3: endpoint and bucket are required")
	}
	cfg.applyDefaults()
	count := &requestCounter{}
	tr, err := s3Transport(cfg, count)
	if err != nil {
		return nil, err
	}
	lookup := map[S3Lookup]minio.BucketLookupType{S3LookupPath: minio.BucketLookupPath, S3LookupDNS: minio.BucketLookupDNS}[cfg.Lookup]
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, string(cfg.SecretKey), string(cfg.SessionToken)),
		Secure:       !cfg.Insecure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   1, // NewRetry retries, with a policy that knows our errors
	})
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", cfg.Endpoint, err)
	}
	return &S3{client: client, core: minio.Core{Client: client}, cfg: cfg, count: count}, nil
}

// Location is the repository URL without credentials.
func (s *S3) Location() string {
	scheme := "https"
	if s.cfg.Insecure {
		scheme = "http"
	}
	return "s3:" + scheme + "://" + s.cfg.Endpoint + "/" + path.Join(s.cfg.Bucket, s.cfg.Prefix)
}

// Requests returns how many HTTP requests of each kind the store has sent,
// retries included.
func (s *S3) Requests() RequestCounts { return s.count.snapshot() }

// object is the bucket key of a store key.
func (s *S3) object(key string) string {
	if s.cfg.Prefix == "" {
		return key
	}
	return s.cfg.Prefix + "/" + key
}

// Put uploads size bytes of r in one PUT request with a Content-MD5 header.
// A reader that is an io.ReaderAt and io.Seeker (bytes.Reader, os.File) is
// hashed and sent without a copy; any other reader is first read into
// memory (size bytes).
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(ctx, "put", key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("remote: put %s: negative size %d", key, size)
	}
	body, err := exactBody(ctx, r, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return s.put(ctx, "put", key, body, size, minio.PutObjectOptions{})
}

// PutIfAbsent uploads data with If-None-Match: *, so that the server
// refuses it (ErrExists) when key exists.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := checkKey(ctx, "put-if-absent", key); err != nil {
		return err
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	return s.put(ctx, "put-if-absent", key, bytes.NewReader(data), int64(len(data)), opts)
}

func (s *S3) put(ctx context.Context, op, key string, body io.Reader, size int64, opts minio.PutObjectOptions) error {
	opts.SendContentMd5 = true
	opts.DisableMultipart = true
	opts.ContentType = "application/octet-stream"
	var sent sentCounter
	opts.Progress = &sent
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, s.object(key), body, size, opts)
	if err != nil {
		return &sentError{err: s.wrap(ctx, op, key, err), sent: sent.n.Load()}
	}
	return nil
}

// sentCounter counts the bytes a PutObject read of its body to send (its
// Progress hook): the client reads the body through a reader of its own,
// so the caller's reader does not show it.
type sentCounter struct{ n atomic.Int64 }

func (c *sentCounter) Read(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// exactBody returns a reader of exactly size bytes of r, or an error when
// r holds fewer (io.ErrUnexpectedEOF) or more.
func exactBody(ctx context.Context, r io.Reader, size int64) (io.Reader, error) {
	type seekReaderAt interface {
		io.ReaderAt
		io.Seeker
	}
	if sr, ok := r.(seekReaderAt); ok {
		cur, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		end, err := sr.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, err
		}
		if _, err := sr.Seek(cur, io.SeekStart); err != nil {
			return nil, err
		}
		switch n := end - cur; {
		case n < size:
			return nil, fmt.Errorf("reader holds %d bytes, want %d: %w", n, size, io.ErrUnexpectedEOF)
		case n > size:
			return nil, fmt.Errorf("reader holds %d bytes, more than %d", n, size)
		}
		return r, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size+1, 1<<20)))
	if err := copyExact(ctx, buf, r, size); err != nil {
		return nil, err
	}
	return bytes.NewReader(buf.Bytes()), nil
}

// Get sends one ranged GET. The server checks the range; an empty read at
// the end of the object, which a Range header cannot express, is answered
// with a Stat instead.
func (s *S3) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkKey(ctx, "get", key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("get %s: offset %d: %w", key, off, ErrRange)
	}
	if length == 0 || off > 0 && length < 0 {
		return s.getEdge(ctx, key, off, length)
	}
	var opts minio.GetObjectOptions
	if off > 0 || length > 0 {
		if err := opts.SetRange(off, off+length-1); err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
	}
	body, info, header, err := s.core.GetObject(ctx, s.cfg.Bucket, s.object(key), opts)
	if err != nil {
		return nil, s.wrap(ctx, "get", key, err)
	}
	want := info.Size
	if length > 0 {
		want = length
	}
	if info.Size != want {
		// S3 shortens a range that runs past the end of the object.
		_ = body.Close()
		if total, ok := rangeTotal(header.Get("Content-Range")); ok && off+length > total {
			return nil, fmt.Errorf("get %s: bytes %d+%d of %d: %w", key, off, length, total, ErrRange)
		}
		return nil, fmt.Errorf("get %s: server sent %d bytes, want %d: %w", key, info.Size, want, ErrCorrupt)
	}
	return &s3Body{rangeReader: rangeReader{ctx: ctx, r: body, c: body, left: want}, key: key, s: s}, nil
}

// rangeTotal is the object size of a Content-Range header
// ("bytes 0-99/1234").
func rangeTotal(h string) (int64, bool) {
	_, total, ok := strings.Cut(h, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

// getEdge serves the reads a Range header cannot express: zero bytes, and
// "from off to the end" where off may equal the size. It costs a Stat.
func (s *S3) getEdge(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	n, err := checkRange(info.Size, off, length)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if n == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	return s.Get(ctx, key, off, n)
}

// s3Body is a response body that must deliver exactly left bytes; its
// read errors are translated like the requests' (a body cut short wraps
// ErrUnavailable, so that NewRetry resumes it).
type s3Body struct {
	rangeReader
	key string
	s   *S3
}

func (b *s3Body) Read(p []byte) (int, error) {
	n, err := b.rangeReader.Read(p)
	switch {
	case err == nil, err == io.EOF: //nolint:errorlint // io.Reader's contract: io.EOF itself
		return n, err
	case errors.Is(err, io.ErrUnexpectedEOF):
		// %w twice, not errors.Join, whose message would break the line.
		return n, fmt.Errorf("get %s: body ended %d bytes early: %w: %w", b.key, b.left, io.ErrUnexpectedEOF, ErrUnavailable)
	}
	return n, b.s.wrap(b.ctx, "get", b.key, err)
}

// Stat sends a HEAD request.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(ctx, "stat", key); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.cfg.Bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.wrap(ctx, "stat", key, err)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List pages through ListObjectsV2 (one request per 1000 objects).
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	base := ""
	if s.cfg.Prefix != "" {
		base = s.cfg.Prefix + "/"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the SDK's paging when fn fails
	for oi := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: base + prefix, Recursive: true}) {
		if oi.Err != nil {
			return s.wrap(ctx, "list", prefix, oi.Err)
		}
		key := strings.TrimPrefix(oi.Key, base)
		if ValidKey(key) != nil {
			continue // not ours: a foreign object beside the repository
		}
		// Truncated to the second, as HEAD's Last-Modified header is.
		if err := fn(Info{Key: key, Size: oi.Size, ModTime: oi.LastModified.Truncate(time.Second)}); err != nil {
			return err
		}
	}
	return nil
}

// Delete checks that key exists (S3 deletes missing keys without an error)
// and removes it. Two concurrent Deletes of one key may both succeed.
func (s *S3) Delete(ctx context.Context, key string) error {
	if _, err := s.Stat(ctx, key); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("delete %s: %w", key, ErrNotFound)
		}
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.object(key), minio.RemoveObjectOptions{}); err != nil {
		return s.wrap(ctx, "delete", key, err)
	}
	return nil
}

// BucketExists reports whether the bucket exists; a missing one gives an
// error wrapping ErrNoBucket.
func (s *S3) BucketExists(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return s.wrap(ctx, "bucket", s.cfg.Bucket, err)
	}
	if !ok {
		return fmt.Errorf("bucket %s at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, ErrNoBucket)
	}
	return nil
}

// CreateBucket creates the bucket (in cfg.Region) unless it exists. When
// the credentials may not ask (HeadBucket needs the bucket-wide ListBucket
// right, which credentials limited to a prefix lack), the bucket is taken
// to exist: what is written next tells, with NoSuchBucket if it does not.
func (s *S3) CreateBucket(ctx context.Context) error {
	err := s.BucketExists(ctx)
	if errors.Is(err, ErrDenied) {
		return nil
	}
	if !errors.Is(err, ErrNoBucket) {
		return err
	}
	err = s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	if err != nil {
		return s.wrap(ctx, "create bucket", s.cfg.Bucket, err)
	}
	return nil
}

// ProbeConditionalWrites reports whether the server honours If-None-Match
// on PUT: it writes key twice with PutIfAbsent and deletes it again. key
// must not hold anything of value.
func ProbeConditionalWrites(ctx context.Context, s Store, key string) (bool, error) {
	if err := s.PutIfAbsent(ctx, key, []byte("probe\n")); err != nil {
		return false, err
	}
	err := s.PutIfAbsent(ctx, key, []byte("probe\n"))
	supported := errors.Is(err, ErrExists)
	if err != nil && !supported {
		return false, err
	}
	if err := s.Delete(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
		return supported, err
	}
	return supported, nil
}
