package miniotest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long Start waits for a server to serve
	// requests; a cold start takes a few seconds.
	readyTimeout = 60 * time.Second
	// probeInterval is the pause between two readiness probes.
	probeInterval = 50 * time.Millisecond
	// startAttempts is how often Start tries a new port when the one it
	// picked was taken before the server could bind it.
	startAttempts = 3
	// readyPath answers 200 once the object layer, the bucket metadata and
	// IAM are initialised, unlike /minio/health/live, which answers as soon
	// as the HTTP server listens.
	readyPath = "/minio/health/cluster"
)

// errPortInUse means the server exited because its port was taken.
var errPortInUse = errors.New("port already in use")

// Server is a MinIO server started for one test. Its fields are fixed once
// Start returns; the server runs until the test's cleanup stops it. Its
// methods may be called concurrently, from subtests too, each passing its
// own t.
type Server struct {
	Addr      string // "127.0.0.1:port" of the S3 API
	URL       string // "http://" or "https://" followed by Addr
	AccessKey string // root user
	SecretKey string // root password
	// CAFile is the PEM file of the CA that signed the server's
	// certificate; "" when the server speaks plain HTTP.
	CAFile string

	roots *x509.CertPool // holds the CA of CAFile; nil for plain HTTP
}

// Start starts a MinIO server speaking plain HTTP on a random port of
// 127.0.0.1, with an empty data directory under t.TempDir() and random
// root credentials, and returns once it serves requests. The server is
// stopped at cleanup (SIGTERM, then SIGKILL after a few seconds). A server
// that does not become ready within a minute fails the test with its
// output. Without a minio binary the test is skipped; see Binary.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartTLS is like Start, but the server speaks HTTPS with a certificate
// for 127.0.0.1 (and localhost) issued by a fresh CA, whose certificate is
// in the file CAFile.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

// start starts the server, trying a new port when the one picked was
// taken in the meantime.
func start(t testing.TB, secure bool) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Server{AccessKey: rand.Text(), SecretKey: rand.Text()}
	scheme := "http"
	if secure {
		s.CAFile, s.roots = writeCerts(t, certs)
		scheme = "https"
	}
	env := childEnv([]string{"MINIO_*", "HOME"},
		"HOME="+dir, // MinIO creates ~/.minio
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	for attempt := 1; ; attempt++ {
		s.Addr = freeAddr(t)
		s.URL = scheme + "://" + s.Addr
		data := filepath.Join(dir, fmt.Sprintf("data%d", attempt))
		p := launch(t, bin, env, "server", "--address", s.Addr, "--certs-dir", certs, data)
		err := s.waitReady(p)
		if err == nil {
			return s
		}
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			t.Fatalf("minio server on %s: %v\n--- output ---\n%s", s.Addr, err, p.log.String())
		}
		t.Logf("minio server on %s: %v; trying another port", s.Addr, err)
	}
}

// freeAddr returns "127.0.0.1:port" for a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitReady polls the server's readiness until it answers 200, the process
// exits (errPortInUse if its port was taken) or readyTimeout passes.
func (s *Server) waitReady(p *process) error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: s.tlsConfig()},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		err := probe(client, s.URL+readyPath)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		}
		select {
		case <-p.done:
			if strings.Contains(p.log.String(), "already in use") {
				return fmt.Errorf("exited (%w): %w", p.exitErr(), errPortInUse)
			}
			return fmt.Errorf("exited before it was ready: %w", p.exitErr())
		case <-tick.C:
		}
	}
}

// probe returns nil if a GET of url answers 200 OK.
func probe(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	if err := resp.Body.Close(); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s (%s)", url, resp.Status, resp.Header.Get("X-Minio-Server-Status"))
	}
	return nil
}

// tlsConfig returns a client configuration that trusts the server's CA,
// or nil for a plain-HTTP server.
func (s *Server) tlsConfig() *tls.Config {
	if s.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}
