package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// RequestCounts counts the HTTP requests a store sent, by kind. List is a
// GET of a bucket listing (one per page of up to 1000 keys); Other is
// everything else (bucket checks, region look-ups).
type RequestCounts struct {
	Put    int64 `json:"put"`
	Get    int64 `json:"get"`
	Head   int64 `json:"head"`
	List   int64 `json:"list"`
	Delete int64 `json:"delete"`
	Other  int64 `json:"other"`
}

// Total is the sum of all kinds.
func (c RequestCounts) Total() int64 { return c.Put + c.Get + c.Head + c.List + c.Delete + c.Other }

// requestCounter is RequestCounts, counted atomically.
type requestCounter struct {
	put, get, head, list, del, other atomic.Int64
}

func (c *requestCounter) snapshot() RequestCounts {
	return RequestCounts{Put: c.put.Load(), Get: c.get.Load(), Head: c.head.Load(),
		List: c.list.Load(), Delete: c.del.Load(), Other: c.other.Load()}
}

// add counts req. An object request's path has a key after the bucket;
// a bucket request's query says what it is.
func (c *requestCounter) add(req *http.Request) {
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodPut && !q.Has("location"):
		c.put.Add(1)
	case req.Method == http.MethodGet && (q.Has("list-type") || q.Has("prefix") || q.Has("delimiter")):
		c.list.Add(1)
	case req.Method == http.MethodGet && !q.Has("location"):
		c.get.Add(1)
	case req.Method == http.MethodHead:
		c.head.Add(1)
	case req.Method == http.MethodDelete:
		c.del.Add(1)
	default:
		c.other.Add(1)
	}
}

// countingTransport counts every request it passes on.
type countingTransport struct {
	next  http.RoundTripper
	count *requestCounter
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.count.add(req)
	return t.next.RoundTrip(req)
}

// s3Transport is the HTTP transport of an S3 store: connections that fail
// after cfg.Timeout without progress, a server that must answer within
// cfg.AnswerTimeout (see S3Config), the extra CAs of cfg.CAFile, no
// transparent decompression (it would change the lengths of ranged reads),
// and a request counter. cfg has its defaults applied.
func s3Transport(cfg S3Config, count *requestCounter) (http.RoundTripper, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pool, err := certPool(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: cfg.AnswerTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &stallConn{Conn: c, timeout: cfg.Timeout}, nil
		},
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   cfg.AnswerTimeout,
		ResponseHeaderTimeout: cfg.Timeout, // of a large upload, once it is sent
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		DisableCompression:    true,
	}
	return &countingTransport{next: &answerTransport{next: tr, timeout: cfg.AnswerTimeout}, count: count}, nil
}

// certPool is the system's certificate pool plus the PEM certificates of
// file.
func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCAFile, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w %s: no PEM certificate in it", ErrCAFile, file)
	}
	return pool, nil
}

// stallConn fails a Read or Write that makes no progress for timeout: each
// call pushes the connection's deadlines forward, both of them, because the
// HTTP client waits in Read for the response while it still writes the
// request body. A long transfer that keeps moving is never cut; a stalled
// one is.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	if err := c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
