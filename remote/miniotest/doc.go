// Package miniotest runs a real MinIO server for tests and injects faults
// on the wire between an S3 client and it.
//
// Start (or StartTLS) launches "minio server" on a random loopback port
// with a fresh data directory and random root credentials, waits until it
// serves requests, and stops it when the test ends. The binary is found
// through Binary: a missing MinIO skips the test unless RequireEnv lists
// "minio", as CI does.
//
// Server.Restricted returns temporary credentials that an IAM policy
// narrows (read-only, no deletes, ...), for tests of what a user with
// fewer rights than root sees.
//
// NewProxy puts a plain-HTTP proxy in front of a server. It forwards
// requests unchanged, Host header included, so AWS V4 signatures made for
// the proxy's address still verify at the server, and it counts them by
// method. Rules added with Proxy.Add turn chosen requests into faults: a
// connection reset while the request or the response body is in flight,
// an S3 error status, a stall, or a flipped byte in a response body.
//
// Everything here is for tests: every helper takes a testing.TB, fails
// the test on setup errors, and registers its own cleanup.
package miniotest
