package compliance_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
)

// startPorticoServer starts the whole program on a random loopback port over a
// fresh SQLite data directory, as `portico serve` does, and stops it when
// the test ends.
func startPorticoServer(t *testing.T) *app.App {
	t.Helper()
	policyFile := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyFile, []byte("[password.argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.NewLoader("serve", "", config.Storage|config.Policy|config.Server, io.Discard).
		Load([]string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--policy-file", policyFile, "--shutdown-timeout", "10s"},
			func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return a
}

// runTransportCheck runs the check called name over checks at now.
func runTransportCheck(t *testing.T, checks []compliance.Check, name string, now time.Time) (compliance.Result, error) {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c.Run(context.Background(), now)
		}
	}
	t.Fatalf("no check called %s", name)
	return compliance.Result{}, nil
}

// mustRunTransport is runTransportCheck failing the test on an error.
func mustRunTransport(t *testing.T, checks []compliance.Check, name string, now time.Time) compliance.Result {
	t.Helper()
	r, err := runTransportCheck(t, checks, name, now)
	if err != nil {
		t.Fatalf("check %s: %v", name, err)
	}
	return r
}

// selfSignedFor is a self-signed certificate for 127.0.0.1 valid from
// notBefore to notAfter, also for the DNS names given.
func selfSignedFor(t *testing.T, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "test"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// strongTLSConfig is a configuration like Portico's own: TLS 1.2+, AEAD only.
func strongTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
	}
}

// weakTLSConfig is what an old reverse proxy might allow: TLS 1.0 and CBC.
func weakTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS10,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
	}
}

// probeSite is a stand-in server whose defences each test weakens in one way.
type probeSite struct {
	hsts       string
	cookie     *http.Cookie
	fixedNonce bool
	csp        string // "%s" is the nonce
	allowCross bool
}

func strictSite() probeSite {
	return probeSite{
		hsts:   "max-age=31536000; includeSubDomains",
		cookie: &http.Cookie{Name: "__Host-t", Value: "v", Path: "/", Secure: true, HttpOnly: true},
		csp:    "default-src 'none'; script-src 'nonce-%s' 'strict-dynamic'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
	}
}

func (s probeSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nonce := rand.Text()
	if s.fixedNonce {
		nonce = "FIXED"
	}
	h := w.Header()
	if s.hsts != "" {
		h.Set("Strict-Transport-Security", s.hsts)
	}
	h.Set("Content-Security-Policy", fmt.Sprintf(s.csp, nonce))
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodPost && !s.allowCross {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if s.cookie != nil {
		http.SetCookie(w, s.cookie)
	}
	io.WriteString(w, "ok")
}

// serveSite starts s over TLS with cfg and returns the check's sources for it.
func serveSite(t *testing.T, cfg *tls.Config, h http.Handler) compliance.Sources {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return compliance.Sources{TLSAddr: srv.Listener.Addr().String(), TLSConfig: cfg}
}

// TestTransportEvidence (MTL-4.2.1, CP-5.1; CP-6.1 for web.headers): the
// checks pass against the running Portico, and fail (or warn) against a
// server that breaks one condition the way a misconfigured deployment
// would: an old TLS version or CBC allowed, no HSTS, a cookie without
// Secure, a certificate near its end or past it, a CSP without a fresh
// nonce or with 'unsafe-inline', a cross-site POST accepted, nothing
// listening, no certificate.
func TestTransportEvidence(t *testing.T) {
	a := startPorticoServer(t)
	checks := a.Compliance().Checks()
	now := time.Now()
	for _, name := range []string{"transport.tls", "web.headers"} {
		r := mustRunTransport(t, checks, name, now)
		wantStatus(t, "the running Portico", r, compliance.Pass)
		t.Logf("%s: %s %v", name, r.Summary, r.Figures)
	}

	valid := selfSignedFor(t, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
	tlsCase := func(name string, cfg *tls.Config, h http.Handler, want compliance.Status) {
		t.Run(name, func(t *testing.T) {
			r := mustRunTransport(t, compliance.Checks(serveSite(t, cfg, h)), "transport.tls", time.Now())
			wantStatus(t, name, r, want)
			t.Logf("%s", r.Summary)
		})
	}
	tlsCase("a server like Portico's passes", strongTLSConfig(valid), strictSite(), compliance.Pass)
	tlsCase("a wildcard certificate passes", strongTLSConfig(selfSignedFor(t, now.Add(-24*time.Hour), now.Add(365*24*time.Hour), "*.portal.example")), strictSite(), compliance.Pass)
	tlsCase("TLS 1.0 and CBC allowed fails", weakTLSConfig(valid), strictSite(), compliance.Fail)
	noHSTS := strictSite()
	noHSTS.hsts = ""
	tlsCase("no HSTS fails", strongTLSConfig(valid), noHSTS, compliance.Fail)
	shortHSTS := strictSite()
	shortHSTS.hsts = "max-age=86400"
	tlsCase("a one-day HSTS fails", strongTLSConfig(valid), shortHSTS, compliance.Fail)
	plainCookie := strictSite()
	plainCookie.cookie = &http.Cookie{Name: "session", Value: "v", Path: "/", HttpOnly: true}
	tlsCase("a cookie without Secure fails", strongTLSConfig(valid), plainCookie, compliance.Fail)
	tlsCase("a certificate in the last tenth of its life warns",
		strongTLSConfig(selfSignedFor(t, now.Add(-90*24*time.Hour), now.Add(5*24*time.Hour))), strictSite(), compliance.Warn)
	t.Run("an expired certificate fails", func(t *testing.T) {
		src := serveSite(t, strongTLSConfig(valid), strictSite())
		r := mustRunTransport(t, compliance.Checks(src), "transport.tls", valid.Leaf.NotAfter.Add(time.Hour))
		wantStatus(t, "expired", r, compliance.Fail)
	})
	t.Run("nothing listening or no certificate cannot pass", func(t *testing.T) {
		src := serveSite(t, strongTLSConfig(valid), strictSite())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		src.TLSAddr = ln.Addr().String()
		ln.Close()
		for _, name := range []string{"transport.tls", "web.headers"} {
			if r, err := runTransportCheck(t, compliance.Checks(src), name, time.Now()); err == nil {
				t.Errorf("%s with nothing listening: %s %s, want an error", name, r.Status, r.Summary)
			}
			if r, err := runTransportCheck(t, compliance.Checks(compliance.Sources{TLSAddr: src.TLSAddr}), name, time.Now()); err == nil {
				t.Errorf("%s without a certificate: %s %s, want an error", name, r.Status, r.Summary)
			}
		}
	})

	headersCase := func(name string, s probeSite, want compliance.Status) {
		t.Run(name, func(t *testing.T) {
			r := mustRunTransport(t, compliance.Checks(serveSite(t, strongTLSConfig(valid), s)), "web.headers", time.Now())
			wantStatus(t, name, r, want)
		})
	}
	headersCase("strict headers pass", strictSite(), compliance.Pass)
	fixed := strictSite()
	fixed.fixedNonce = true
	headersCase("the same nonce twice fails", fixed, compliance.Fail)
	inline := strictSite()
	inline.csp = "default-src 'self'; script-src 'nonce-%s' 'strict-dynamic' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
	headersCase("'unsafe-inline' fails", inline, compliance.Fail)
	noFrame := strictSite()
	noFrame.csp = "script-src 'nonce-%s' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
	headersCase("no frame-ancestors fails", noFrame, compliance.Fail)
	cross := strictSite()
	cross.allowCross = true
	headersCase("a cross-site POST accepted fails", cross, compliance.Fail)
}
