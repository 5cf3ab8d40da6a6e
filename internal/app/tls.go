package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// selfSignedCN marks the certificate Portico generates for itself, so that
// only that one is ever renewed automatically.
const selfSignedCN = "Portico self-signed certificate"

// tlsConfig is the TLS configuration of the HTTPS listener.
//
// Enforces CP-5.1, MTL-4.2.1 (encryption in transit): TLS 1.2 and 1.3 only;
// for TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM,
// ChaCha20-Poly1305), no CBC; TLS 1.3 suites are all AEAD. HTTP/2 is offered.
func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// loadCertificate loads the operator's certificate and key. Each file is
// read on its own first so that an error names the file at fault.
func loadCertificate(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s: %w", certFile, errors.Unwrap(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key %s: %w", keyFile, errors.Unwrap(err))
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s: not a PEM certificate", certFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key %s does not match certificate %s, or is not a PEM private key: %v", keyFile, certFile, err)
	}
	return cert, nil
}

// selfSignedCertificate returns the data directory's own certificate,
// creating it on first start. If only one of the two files exists, or a
// file is corrupt, it stops with an error naming the file: nothing is
// overwritten. Only an expired certificate that Portico made itself is
// replaced, and that is logged.
func selfSignedCertificate(dir string, logger *slog.Logger) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		cert, err := loadCertificate(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, err
		}
		if cert.Leaf != nil && cert.Leaf.Subject.CommonName == selfSignedCN && time.Now().After(cert.Leaf.NotAfter) {
			logger.Warn("the self-signed TLS certificate has expired; creating a new one", "file", certFile, "expired", cert.Leaf.NotAfter)
			return writeSelfSigned(certFile, keyFile, true)
		}
		return cert, nil
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
		cert, err := writeSelfSigned(certFile, keyFile, false)
		if err == nil {
			logger.Info("created a self-signed TLS certificate for localhost; use --tls-cert and --tls-key for a real one", "file", certFile)
		}
		return cert, err
	case certErr != nil && !errors.Is(certErr, os.ErrNotExist):
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s: %w", certFile, errors.Unwrap(certErr))
	case keyErr != nil && !errors.Is(keyErr, os.ErrNotExist):
		return tls.Certificate{}, fmt.Errorf("TLS key %s: %w", keyFile, errors.Unwrap(keyErr))
	case certErr != nil:
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s is missing but its key %s exists; restore it or remove both to create a new pair", certFile, keyFile)
	default:
		return tls.Certificate{}, fmt.Errorf("TLS key %s is missing but its certificate %s exists; restore it or remove both to create a new pair", keyFile, certFile)
	}
}

// writeSelfSigned creates an ECDSA P-256 certificate for localhost, valid
// for 397 days (the longest browsers accept), with the key file 0600.
func writeSelfSigned(certFile, keyFile string, replace bool) (tls.Certificate, error) {
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS directory %s: %w", filepath.Dir(certFile), err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: selfSignedCN, Organization: []string{"Portico"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(397 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFileAtomic(keyFile, keyPEM, replace); err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key %s: %w", keyFile, err)
	}
	if err := writeFileAtomic(certFile, certPEM, replace); err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file and a rename, so a crash never leaves half a file. Unless replace is
// set, an existing file is an error.
func writeFileAtomic(path string, data []byte, replace bool) error {
	if !replace {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("already exists")
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
