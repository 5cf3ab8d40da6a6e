package app_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/alertout"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
)

// TestAlertsReachWebhookAndSyslog (CP-3.2, CP-8.1), on SQLite and
// PostgreSQL: a running server started with --alert-webhook-url,
// --alert-webhook-secret-file, --alert-syslog-addr and
// --alert-syslog-ca-file delivers an alert raised by detection to both of
// the security team's tools on its own: a JSON POST to the webhook whose
// signature alertout.Verify accepts and whose rule is credential_stuffing
// (with no client address in it), and an RFC 5424 message in an RFC 5425
// frame over TLS, verified against the CA file, to the syslog collector,
// for the same alert.
func TestAlertsReachWebhookAndSyslog(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { alertDeliveryFlow(t, tc.extra(t)...) })
	}
}

func alertDeliveryFlow(t *testing.T, extra ...string) {
	dir := t.TempDir()
	secret := []byte(strings.ToLower(rand.Text() + rand.Text())) // 52 bytes
	secretFile := filepath.Join(dir, "webhook.secret")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := startWebhookReceiver(t)
	cert, caFile := syslogCertificate(t, dir)
	col := startSyslogCollector(t, cert)

	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL(), append(extra,
		"--alert-webhook-url", hook.url+"/alerts",
		"--alert-webhook-secret-file", secretFile,
		"--alert-syslog-addr", col.addr,
		"--alert-syslog-ca-file", caFile,
	)...)
	r := startApp(t, cfg)
	ids := identityFor(t, r, cfg)

	// A stuffing run from 203.0.113.0/24: 25 addresses without accounts.
	ctx := context.Background()
	for i := range 25 {
		ip := fmt.Sprintf("203.0.113.%d", 10+i%7)
		_, err := ids.Login(audit.WithRequest(ctx, audit.Request{IP: ip}), identity.Credentials{Email: fmt.Sprintf("victim%d@example.test", i),
			Password: "hunter2-hunter2", IP: ip, UserAgent: "python-requests/2.32"})
		if err == nil {
			t.Fatal("an unknown address signed in")
		}
	}

	// The detector follows the trail about once a second and queues the
	// alert; the outbox worker runs every 5 seconds and tries at once.
	req := hook.waitFor(t, 30*time.Second, func(p alertPayload) bool { return p.Rule == "credential_stuffing" })
	if err := alertout.Verify(secret, req.header.Get(alertout.HeaderTimestamp), req.header.Get(alertout.HeaderSignature), req.body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("the webhook's signature does not verify: %v", err)
	}
	if err := alertout.Verify([]byte(strings.Repeat("x", 32)), req.header.Get(alertout.HeaderTimestamp), req.header.Get(alertout.HeaderSignature), req.body, time.Now(), 5*time.Minute); err == nil {
		t.Fatal("the webhook's signature verifies with another secret")
	}
	if req.header.Get("Content-Type") != "application/json" || req.header.Get(alertout.HeaderEventID) == "" {
		t.Errorf("webhook headers %v", req.header)
	}
	if req.payload.ID == "" || req.payload.Severity != "high" || !strings.Contains(req.payload.URL, "/security/alerts/"+req.payload.ID) {
		t.Errorf("webhook payload %s", req.body)
	}
	if strings.Contains(string(req.body), "203.0.113") {
		t.Errorf("the webhook payload names a client address: %s", req.body)
	}

	// The same alert on syslog: PRI <82> (authpriv, critical for high),
	// version 1, the app name, MSGID alert, the structured data, and the
	// payload JSON as MSG.
	msg := col.waitFor(t, 30*time.Second, func(m string) bool { return strings.Contains(m, `rule="credential_stuffing"`) })
	frame := regexp.MustCompile(`^<82>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ portico \d+ alert \[portico@32473 event="[a-z2-7]+" id="` +
		regexp.QuoteMeta(req.payload.ID) + `" rule="credential_stuffing" severity="high"\] (\{.*\})$`)
	m := frame.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("syslog message is not the RFC 5424 frame of the alert:\n%s", msg)
	}
	var sp alertPayload
	if err := json.Unmarshal([]byte(m[1]), &sp); err != nil || sp.ID != req.payload.ID || sp.Rule != "credential_stuffing" {
		t.Fatalf("syslog MSG %s: %v", m[1], err)
	}
}

// alertPayload is the part of an alert's JSON the test reads.
type alertPayload struct {
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	URL      string `json:"url"`
}

// webhookRequest is one request the receiver got.
type webhookRequest struct {
	header  http.Header
	body    []byte
	payload alertPayload
}

// webhookReceiver is a SIEM's webhook on loopback (plain http is allowed
// there).
type webhookReceiver struct {
	url  string
	mu   sync.Mutex
	reqs []webhookRequest
}

func startWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	rc := &webhookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || r.URL.Path != "/alerts" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req := webhookRequest{header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &req.payload); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, req)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

// waitFor returns the first request whose payload matches, waiting up to
// d for it.
func (rc *webhookReceiver) waitFor(t *testing.T, d time.Duration, match func(alertPayload) bool) webhookRequest {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		rc.mu.Lock()
		reqs := append([]webhookRequest(nil), rc.reqs...)
		rc.mu.Unlock()
		for _, r := range reqs {
			if match(r.payload) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook got no matching alert within %s (%d requests)", d, len(reqs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syslogCertificate makes a self-signed CA certificate for 127.0.0.1 and
// writes it to a PEM file, as an operator would give --alert-syslog-ca-file.
func syslogCertificate(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test syslog collector"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "syslog-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

// syslogCollector is a syslog-over-TLS receiver (RFC 5425) on 127.0.0.1.
type syslogCollector struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

func startSyslogCollector(t *testing.T, cert tls.Certificate) *syslogCollector {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	c := &syslogCollector{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(conn, true)
			wg.Go(func() {
				defer conn.Close()
				c.read(t, conn)
			})
		}
	})
	return c
}

// read parses octet-counted frames (MSG-LEN SP SYSLOG-MSG) until the
// connection ends.
func (c *syslogCollector) read(t *testing.T, conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		n, err := r.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
		if err != nil || size <= 0 || strings.HasPrefix(n, "0") {
			t.Errorf("bad MSG-LEN %q", n)
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			t.Errorf("frame shorter than its MSG-LEN %d: %v", size, err)
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, string(msg))
		c.mu.Unlock()
	}
}

// waitFor returns the first message that matches, waiting up to d for it.
func (c *syslogCollector) waitFor(t *testing.T, d time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c.mu.Lock()
		msgs := append([]string(nil), c.msgs...)
		c.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the syslog collector got no matching message within %s (%d messages)", d, len(msgs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
