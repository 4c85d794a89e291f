package miniotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certValidity is how long the generated certificates stay valid; they
// start an hour in the past to tolerate clock skew.
const certValidity = 24 * time.Hour

// writeCerts fills the MinIO certs directory dir: a fresh CA, and a server
// certificate for 127.0.0.1 and localhost signed by it as public.crt and
// private.key. It returns the path of the CA certificate (PEM, in
// dir/CAs) and a pool holding it.
func writeCerts(t testing.TB, dir string) (string, *x509.CertPool) {
	t.Helper()
	caKey := newKey(t)
	caTmpl := template(t, "miniotest CA")
	caTmpl.IsCA = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER := sign(t, caTmpl, caTmpl, caKey, caKey)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	key := newKey(t)
	tmpl := template(t, "miniotest server")
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	tmpl.DNSNames = []string{"localhost"}
	der := sign(t, tmpl, ca, key, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	caFile := filepath.Join(dir, "CAs", "ca.crt")
	writePEM(t, caFile, "CERTIFICATE", caDER)
	writePEM(t, filepath.Join(dir, "public.crt"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, "private.key"), "PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, pool
}

// newKey returns a fresh P-256 key.
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// template returns a certificate template named cn with a random serial
// number, valid from an hour ago for certValidity.
func template(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		BasicConstraintsValid: true,
	}
}

// sign returns the DER certificate for tmpl's subject and pub's key,
// issued by parent and signed with priv.
func sign(t testing.TB, tmpl, parent *x509.Certificate, pub, priv *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &pub.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// writePEM writes der as one PEM block of the given type to path, making
// its directory.
func writePEM(t testing.TB, path, blockType string, der []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
