// Package remote stores the objects of a wimsnap repository: a dumb byte
// store that knows keys and bytes, nothing of WIM files, packs or snapshots.
// Compression, deduplication and crypto live above it; retry, limits and
// logging are decorators that wrap a [Store]. It imports nothing of the
// project, and of the world only minio-go, for [S3].
//
// # Implementations
//
//   - [Local]: a directory on a local or mounted file system; one file per
//     object, written to a temporary file and renamed into place.
//   - [S3]: a bucket (and key prefix) of an S3-compatible server, through
//     minio-go; one PUT with Content-MD5 per object, ranged GETs,
//     If-None-Match for PutIfAbsent. [ParseS3URL] reads repository URLs.
//   - [Memory]: a map guarded by a mutex, for tests.
//
// # Decorators
//
//   - [NewRetry] sends again the requests that failed with [ErrUnavailable],
//     with exponential, jittered backoff; one that timed out ([ErrTimeout])
//     only once.
//   - [NewLimit] bounds the requests in flight.
//   - [NewBandwidth] bounds upload and download rates.
//
// Every implementation passes the conformance suite in package
// remote/remotetest.
//
// # Keys
//
// A key is a slash-separated relative name such as "config", "index/<id>"
// or "packs/ab/<id>". [ValidKey] states the rules: at most [MaxKeyLen]
// bytes; one or more components separated by single slashes, so no leading
// or trailing slash and no empty component; each component made of ASCII
// letters, digits, '-', '_' and '.', not starting with '.' (which rules out
// "." and ".." and keeps the store's temporary files, named ".tmp-*", out of
// the key space), and at most 255 bytes. These rules make every key a
// portable file name and an S3 key that needs no escaping. Keys are case
// sensitive; a case-insensitive file system cannot hold two keys that differ
// only in case, and no store can rely on that, so callers use lower case.
//
// Every operation validates its key first and fails with an error wrapping
// [ErrInvalidKey]. List takes a prefix, which is "" (all objects) or a
// string that is a valid key once one trailing slash is removed: "packs/",
// "snapshots/ab" and "config" are prefixes; "/", "a//" and "../" are not.
//
// # Errors
//
// Errors name the operation and the key ("get index/ab..: ...") and wrap
// one of the sentinels, whose text carries the package prefix ("remote:
// object not found"), where one applies: [ErrNotFound] for a missing
// object, [ErrExists] from PutIfAbsent, [ErrInvalidKey], [ErrRange] for a
// read outside an object, [ErrTooLarge] from [ReadAll], and for network
// stores [ErrUnavailable] (worth a retry; with [ErrTimeout] when the
// server did not answer in time), [ErrDenied], [ErrNoBucket],
// [ErrUntrusted] and [ErrCorrupt]. A cancelled
// context gives an error wrapping ctx.Err(). Callers test them with
// errors.Is.
package remote
