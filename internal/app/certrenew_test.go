package app_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed pair with the given common name and
// validity into dir/tls.
func writeCert(t *testing.T, dir, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notAfter.Add(-48 * time.Hour),
		NotAfter:     notAfter,
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(filepath.Join(dir, "tls/cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "tls/key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certPEM
}

// TestExpiredSelfSignedCertificateIsRenewed: Portico replaces only the
// certificate it made itself, and only once it has expired; any other
// certificate in the data directory is never touched (MTL-4.2.1).
func TestExpiredSelfSignedCertificateIsRenewed(t *testing.T) {
	dir := initialised(t)
	old := writeCert(t, dir, "Portico self-signed certificate", time.Now().Add(-time.Hour))
	r := startApp(t, testConfig(t, dir))
	conn, err := tls.Dial("tcp", r.URL()[len("https://"):], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !leaf.NotAfter.After(time.Now().Add(300 * 24 * time.Hour)) {
		t.Errorf("served certificate expires %v: not renewed", leaf.NotAfter)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "tls/cert.pem")); bytes.Equal(now, old) {
		t.Error("the expired certificate file was not replaced")
	}
	r.stop(t)

	// A certificate that is not Portico's own is left alone, even expired.
	other := writeCert(t, dir, "operator's certificate", time.Now().Add(-time.Hour))
	r = startApp(t, testConfig(t, dir))
	r.stop(t)
	if now, _ := os.ReadFile(filepath.Join(dir, "tls/cert.pem")); !bytes.Equal(now, other) {
		t.Error("an expired certificate that Portico did not make was replaced")
	}
}
