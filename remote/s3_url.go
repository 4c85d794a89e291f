package remote

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// S3Lookup says how requests name the bucket: in the path
// (http://host/bucket/key) or in the host name (http://bucket.host/key).
type S3Lookup string

// The bucket lookup styles. S3LookupAuto lets the SDK choose: host names for
// Amazon S3 and similar services, paths elsewhere (MinIO, IP addresses).
const (
	S3LookupAuto S3Lookup = "auto"
	S3LookupPath S3Lookup = "path"
	S3LookupDNS  S3Lookup = "dns"
)

// ParseS3URL parses a repository URL of the form
//
//	s3:http[s]://host[:port]/bucket[/prefix][?region=R&lookup=path|dns|auto]
//	s3:host[:port]/bucket[/prefix]        (HTTPS)
//
// into the endpoint, bucket, prefix, region and lookup fields of an
// S3Config; credentials and TLS settings are left for the caller. The prefix
// is cleaned of leading and trailing slashes and must be a valid key (see
// ValidKey) when not empty. A URL carrying user information is refused, so
// that secrets never travel inside a repository location that is printed.
func ParseS3URL(s string) (S3Config, error) {
	var c S3Config
	rest, ok := strings.CutPrefix(s, "s3:")
	if !ok {
		return c, fmt.Errorf("remote: %q is not an s3: URL", s)
	}
	if strings.HasPrefix(rest, "//") { // "s3://host/bucket", as AWS's tools write a bucket
		return c, fmt.Errorf("remote: s3 URL %q: write it s3:HOST/BUCKET[/PREFIX] (HTTPS) or s3:http://HOST:PORT/BUCKET[/PREFIX]", s)
	}
	if !strings.Contains(rest, "://") {
		rest = "https://" + rest
	}
	u, err := url.Parse(rest)
	if err != nil {
		return c, fmt.Errorf("s3 URL: %w", err)
	}
	// A fragment never reaches the server, and an escape would name
	// another prefix than the one printed: both are refused, not dropped.
	if strings.Contains(rest, "#") {
		return c, errors.New("remote: s3 URL: '#' starts a fragment, which S3 never sees; a prefix may not hold it")
	}
	if strings.Contains(u.RawPath, "%") || strings.Contains(rest, "%") {
		return c, errors.New("remote: s3 URL: a percent-escape in the bucket or prefix; write them as they are")
	}
	if err := c.setEndpoint(u); err != nil {
		return c, err
	}
	if err := c.setPath(u.Path); err != nil {
		return c, err
	}
	if err := c.setQuery(u.Query()); err != nil {
		return c, err
	}
	return c, nil
}

// setEndpoint takes the scheme and host of u.
func (c *S3Config) setEndpoint(u *url.URL) error {
	switch u.Scheme {
	case "https":
		c.Insecure = false
	case "http":
		c.Insecure = true
	default:
		return fmt.Errorf("remote: s3 URL: scheme %q: want http or https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("remote: s3 URL: credentials do not belong in the URL; use the environment or a credentials file")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("remote: s3 URL: no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("remote: s3 URL: port %q: want 1 to 65535", p)
		}
	}
	c.Endpoint = u.Host
	return nil
}

// setPath splits "/bucket/prefix" into the bucket and the key prefix.
func (c *S3Config) setPath(p string) error {
	p = strings.Trim(p, "/")
	bucket, prefix, _ := strings.Cut(p, "/")
	if bucket == "" {
		return errors.New("remote: s3 URL: no bucket")
	}
	if !validBucket(bucket) {
		return fmt.Errorf("remote: s3 URL: %q is not a valid bucket name (3-63 characters: lower-case letters, digits, '-' and '.')", bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if reason := keyProblem(prefix); reason != "" {
			return fmt.Errorf("s3 URL: prefix %q: %w: %s", prefix, ErrInvalidKey, reason)
		}
	}
	c.Bucket, c.Prefix = bucket, prefix
	return nil
}

// setQuery takes the region and lookup parameters.
func (c *S3Config) setQuery(q url.Values) error {
	for k := range q {
		if k != "region" && k != "lookup" {
			return fmt.Errorf("remote: s3 URL: unknown parameter %q (known: region, lookup)", k)
		}
	}
	c.Region = q.Get("region")
	switch l := S3Lookup(q.Get("lookup")); l {
	case "", S3LookupAuto:
		c.Lookup = S3LookupAuto
	case S3LookupPath, S3LookupDNS:
		c.Lookup = l
	default:
		return fmt.Errorf("remote: s3 URL: lookup %q: want path, dns or auto", l)
	}
	return nil
}

// validBucket reports whether name follows S3's bucket naming rules closely
// enough that the SDK accepts it.
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.'
		if !ok {
			return false
		}
	}
	first, last := name[0], name[len(name)-1]
	return first != '-' && first != '.' && last != '-' && last != '.' && !strings.Contains(name, "..")
}
