package vendorcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vendorcheck test CA"},
		NotBefore:             time.Now().Add(-365 * 24 * time.Hour),
		NotAfter:              time.Now().Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a server certificate for 127.0.0.1 valid from notBefore to
// notAfter.
func (ca *testCA) leaf(t *testing.T, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "vendor.test"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// site is what a test server answers.
type site struct {
	hsts        string // Strict-Transport-Security; empty for none
	securityTxt bool
}

func (s site) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if s.hsts != "" {
			w.Header().Set("Strict-Transport-Security", s.hsts)
		}
		w.Write([]byte("vendor"))
	})
	if s.securityTxt {
		mux.HandleFunc("GET /.well-known/security.txt", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("Contact: mailto:security@vendor.test\nExpires: 2030-01-01T00:00:00Z\n"))
		})
	}
	return mux
}

var goodSite = site{hsts: "max-age=31536000; includeSubDomains", securityTxt: true}

func serve(t *testing.T, cfg *tls.Config, s site) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(s.handler())
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the probe hangs up after its handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func statuses(r Result) map[string]Status {
	m := map[string]Status{}
	for _, it := range r.Items {
		m[it.Name] = it.Status
	}
	return m
}

func wantItem(t *testing.T, r Result, name string, want Status) Item {
	t.Helper()
	it, ok := r.Item(name)
	if !ok {
		t.Fatalf("%s not checked; items %+v", name, r.Items)
	}
	if it.Status != want {
		t.Errorf("%s = %s (%s, %s), want %s", name, it.Status, it.Reason, it.Figure, want)
	}
	return it
}

// TestCheckEndpoints proves CP-10.2: a vendor endpoint is checked against
// the live server, and each weakness (old TLS, weak suite, bad or expiring
// certificate, no or short HSTS, no security.txt, unreachable) is seen.
func TestCheckEndpoints(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	good := ca.leaf(t, now.Add(-24*time.Hour), now.Add(200*24*time.Hour))
	opts := Options{Roots: ca.pool, Timeout: 5 * time.Second}
	ctx := context.Background()

	t.Run("good server passes every item", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good}, MinVersion: tls.VersionTLS13}, goodSite)
		r := Check(ctx, u, opts)
		want := []string{ItemReachable, ItemTLSVersion, ItemCipherSuite, ItemChain, ItemExpiry, ItemHSTS, ItemSecurityTxt}
		var got []string
		for _, it := range r.Items {
			got = append(got, it.Name)
			if it.Status != Pass {
				t.Errorf("%s = %s (%s)", it.Name, it.Status, it.Reason)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("items %v, want %v", got, want)
		}
		if r.Worst() != Pass {
			t.Errorf("Worst = %s", r.Worst())
		}
		if it, _ := r.Item(ItemTLSVersion); it.Figure != "TLS 1.3" {
			t.Errorf("version figure %q", it.Figure)
		}
		if it, _ := r.Item(ItemHSTS); it.Figure != "max-age=31536000" {
			t.Errorf("hsts figure %q", it.Figure)
		}
		if it, _ := r.Item(ItemExpiry); it.Figure != "199 days" {
			t.Errorf("expiry figure %q", it.Figure)
		}
	})

	t.Run("TLS 1.2 with an ECDHE GCM suite passes", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good}, MaxVersion: tls.VersionTLS12}, goodSite)
		r := Check(ctx, u, opts)
		wantItem(t, r, ItemTLSVersion, Pass)
		if it := wantItem(t, r, ItemCipherSuite, Pass); it.Figure != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" {
			t.Errorf("suite %q", it.Figure)
		}
	})

	t.Run("expired certificate fails the chain", func(t *testing.T) {
		expired := ca.leaf(t, now.Add(-90*24*time.Hour), now.Add(-2*24*time.Hour))
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{expired}}, goodSite)
		r := Check(ctx, u, opts)
		it := wantItem(t, r, ItemChain, Fail)
		if !strings.Contains(it.Reason, "expired") {
			t.Errorf("chain reason %q", it.Reason)
		}
		wantItem(t, r, ItemExpiry, Fail)
		if _, ok := r.Item(ItemHSTS); ok {
			t.Error("HSTS checked over an unverified chain")
		}
		if r.Worst() != Fail {
			t.Errorf("Worst = %s", r.Worst())
		}
	})

	t.Run("certificate from another CA fails the chain", func(t *testing.T) {
		other := newCA(t).leaf(t, now.Add(-time.Hour), now.Add(200*24*time.Hour))
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{other}}, goodSite)
		it := wantItem(t, Check(ctx, u, opts), ItemChain, Fail)
		if it.Reason != "not signed by a trusted authority" {
			t.Errorf("reason %q", it.Reason)
		}
	})

	t.Run("certificate expiring in 10 days warns", func(t *testing.T) {
		soon := ca.leaf(t, now.Add(-24*time.Hour), now.Add(10*24*time.Hour+time.Hour))
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{soon}}, goodSite)
		r := Check(ctx, u, opts)
		wantItem(t, r, ItemChain, Pass)
		if it := wantItem(t, r, ItemExpiry, Warn); it.Figure != "10 days" {
			t.Errorf("figure %q", it.Figure)
		}
		if r.Worst() != Warn {
			t.Errorf("Worst = %s", r.Worst())
		}
	})

	t.Run("TLS 1.0 server fails version and suite", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good},
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, goodSite)
		r := Check(ctx, u, opts)
		if it := wantItem(t, r, ItemTLSVersion, Fail); it.Figure != "TLS 1.0" {
			t.Errorf("version figure %q", it.Figure)
		}
		wantItem(t, r, ItemCipherSuite, Fail)
	})

	t.Run("TLS 1.1 server fails version", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good},
			MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, goodSite)
		if it := wantItem(t, Check(ctx, u, opts), ItemTLSVersion, Fail); it.Figure != "TLS 1.1" {
			t.Errorf("version figure %q", it.Figure)
		}
	})

	t.Run("CBC suite under TLS 1.2 fails the suite", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, goodSite)
		r := Check(ctx, u, opts)
		wantItem(t, r, ItemTLSVersion, Pass)
		if it := wantItem(t, r, ItemCipherSuite, Fail); it.Figure != "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" {
			t.Errorf("suite %q", it.Figure)
		}
	})

	t.Run("missing HSTS fails", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good}}, site{securityTxt: true})
		wantItem(t, Check(ctx, u, opts), ItemHSTS, Fail)
	})

	t.Run("short HSTS max-age warns", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good}}, site{hsts: `max-age="86400"`, securityTxt: true})
		if it := wantItem(t, Check(ctx, u, opts), ItemHSTS, Warn); it.Figure != "max-age=86400" {
			t.Errorf("figure %q", it.Figure)
		}
	})

	t.Run("no security.txt warns", func(t *testing.T) {
		u := serve(t, &tls.Config{Certificates: []tls.Certificate{good}}, site{hsts: goodSite.hsts})
		r := Check(ctx, u, opts)
		wantItem(t, r, ItemSecurityTxt, Warn)
		wantItem(t, r, ItemHSTS, Pass)
	})

	t.Run("redirect off the host is not followed", func(t *testing.T) {
		var elsewhere atomic.Int32
		otherSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			elsewhere.Add(1)
			goodSite.handler().ServeHTTP(w, r)
		}))
		otherSrv.TLS = &tls.Config{Certificates: []tls.Certificate{good}}
		otherSrv.StartTLS()
		t.Cleanup(otherSrv.Close)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
			http.Redirect(w, r, otherSrv.URL+r.URL.Path, http.StatusFound)
		})
		srv := httptest.NewUnstartedServer(mux)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{good}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		r := Check(ctx, srv.URL+"/", opts)
		wantItem(t, r, ItemHSTS, Pass)
		if it := wantItem(t, r, ItemSecurityTxt, Warn); it.Reason != "no security.txt (HTTP 302)" {
			t.Errorf("reason %q", it.Reason)
		}
		if n := elsewhere.Load(); n != 0 {
			t.Errorf("the other host got %d requests", n)
		}
	})

	t.Run("security.txt over 32 KiB warns", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("Contact: mailto:security@vendor.test\n"))
			w.Write(make([]byte, 40<<10))
		})
		srv := httptest.NewUnstartedServer(mux)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{good}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		if it := wantItem(t, Check(ctx, srv.URL+"/", opts), ItemSecurityTxt, Warn); it.Reason != "security.txt is larger than 32 KiB" {
			t.Errorf("reason %q", it.Reason)
		}
	})

	t.Run("closed port fails reachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		r := Check(ctx, "https://"+addr+"/", opts)
		wantItem(t, r, ItemReachable, Fail)
		if len(r.Items) != 1 {
			t.Errorf("items after unreachable: %+v", r.Items)
		}
	})

	t.Run("silent server fails reachable within the timeout", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() { // accept and say nothing until the listener closes
			var conns []net.Conn
			for {
				c, err := l.Accept()
				if err != nil {
					for _, c := range conns {
						c.Close()
					}
					return
				}
				conns = append(conns, c)
			}
		}()
		start := time.Now()
		r := Check(ctx, "https://"+l.Addr().String()+"/", Options{Roots: ca.pool, Timeout: 300 * time.Millisecond})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("check took %s", d)
		}
		if it := wantItem(t, r, ItemReachable, Fail); it.Reason != "no TLS handshake within the timeout" {
			t.Errorf("reason %q", it.Reason)
		}
	})

	t.Run("not an https URL fails", func(t *testing.T) {
		wantItem(t, Check(ctx, "http://example.test/", opts), ItemReachable, Fail)
	})
}

// TestDegraded proves the part of CP-10.2 the alert will use: an item that
// got worse since the previous check is named, one that improved or stayed
// is not.
func TestDegraded(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	good := ca.leaf(t, now.Add(-24*time.Hour), now.Add(200*24*time.Hour))
	opts := Options{Roots: ca.pool, Timeout: 5 * time.Second}
	ctx := context.Background()

	before := Check(ctx, serve(t, &tls.Config{Certificates: []tls.Certificate{good}}, goodSite), opts)
	after := Check(ctx, serve(t, &tls.Config{Certificates: []tls.Certificate{good}}, site{securityTxt: true}), opts)
	if got := after.Degraded(before); !slices.Equal(got, []string{ItemHSTS}) {
		t.Errorf("Degraded = %v, want [hsts]; before %v after %v", got, statuses(before), statuses(after))
	}
	if got := before.Degraded(after); got != nil {
		t.Errorf("an improvement degraded %v", got)
	}
	if got := after.Degraded(Result{}); got != nil {
		t.Errorf("first check degraded %v", got)
	}
	down := Result{Items: []Item{{Name: ItemReachable, Status: Fail}}}
	if got := down.Degraded(before); !slices.Equal(got, []string{ItemReachable}) {
		t.Errorf("unreachable degraded %v", got)
	}
}

func TestHSTSMaxAge(t *testing.T) {
	for _, c := range []struct {
		h   string
		age int64
		ok  bool
	}{
		{"max-age=31536000", 31536000, true},
		{"includeSubDomains; MAX-AGE = 63072000 ; preload", 63072000, true},
		{`max-age="600"`, 600, true},
		{"max-age=0", 0, true},
		{"includeSubDomains", 0, false},
		{"max-age=abc", 0, false},
		{"max-age=-1", 0, false},
		{"max-age=1; max-age=2", 0, false},
	} {
		age, ok := hstsMaxAge(c.h)
		if age != c.age || ok != c.ok {
			t.Errorf("hstsMaxAge(%q) = %d, %v; want %d, %v", c.h, age, ok, c.age, c.ok)
		}
	}
}
