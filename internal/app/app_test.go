package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/dbtest"
)

// cheapPolicy is a policy override file with cheap argon2 parameters, set
// through the same file an operator would use.
const cheapPolicy = `[password.argon2]
memory_kib = 64
iterations = 1
parallelism = 1
`

// testConfig returns a configuration for a server on a random loopback port
// with its own data directory. Extra args override.
func testConfig(t *testing.T, dataDir string, extra ...string) config.Config {
	t.Helper()
	policyFile := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyFile, []byte(cheapPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--data-dir", dataDir,
		"--addr", "127.0.0.1:0",
		"--policy-file", policyFile,
		"--shutdown-timeout", "10s",
	}, extra...)
	cfg, err := config.NewLoader("serve", "", config.Storage|config.Policy|config.Server, io.Discard).
		Load(args, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a Portico started by startApp.
type running struct {
	*app.App
	logs   *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

// startApp starts the whole program, as `portico serve` does, and stops it
// when the test ends.
func startApp(t *testing.T, cfg config.Config) *running {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	a, err := app.New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{App: a, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx, io.Discard) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the server down and waits for Run to return.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
		return nil
	}
}

func insecureClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			ForceAttemptHTTP2: true,
		},
		Timeout: 10 * time.Second,
	}
}

// TestServeZeroConfig starts Portico on a fresh data directory: it creates
// the directory 0700, the database, certificate and keyset 0600, and serves
// HTTPS (HTTP/2) with the security headers (CP-5.1, MTL-4.2.1).
func TestServeZeroConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portico-data")
	r := startApp(t, testConfig(t, dir))
	if !strings.HasPrefix(r.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL = %s", r.URL())
	}
	for path, mode := range map[string]os.FileMode{
		dir:                                    0o700,
		filepath.Join(dir, "portico.db"):       0o600,
		filepath.Join(dir, "keys"):             0o700,
		filepath.Join(dir, "keys/master.json"): 0o600,
		filepath.Join(dir, "tls"):              0o700,
		filepath.Join(dir, "tls/cert.pem"):     0o600,
		filepath.Join(dir, "tls/key.pem"):      0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}

	c := insecureClient()
	resp, err := c.Get(r.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz = %d %q", resp.StatusCode, body)
	}
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("protocol = %s, want HTTP/2.0", resp.Proto)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("security headers missing")
	}
	resp, err = c.Get(r.URL() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	resp.Body.Close()

	// A second start on the same directory reuses everything.
	if err := r.stop(t); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	certBefore, _ := os.ReadFile(filepath.Join(dir, "tls/cert.pem"))
	keysBefore, _ := os.ReadFile(filepath.Join(dir, "keys/master.json"))
	r2 := startApp(t, testConfig(t, dir))
	certAfter, _ := os.ReadFile(filepath.Join(dir, "tls/cert.pem"))
	keysAfter, _ := os.ReadFile(filepath.Join(dir, "keys/master.json"))
	if !bytes.Equal(certBefore, certAfter) || !bytes.Equal(keysBefore, keysAfter) {
		t.Fatal("a restart replaced the certificate or keyset")
	}
	r2.stop(t)
}

// TestTLSPolicy: TLS 1.2+ with AEAD suites only (CP-5.1, MTL-4.2.1).
func TestTLSPolicy(t *testing.T) {
	r := startApp(t, testConfig(t, t.TempDir()))
	addr := strings.TrimPrefix(r.URL(), "https://")
	cases := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 with AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.1 is refused", &tls.Config{MaxVersion: tls.VersionTLS11}, false},
		{"CBC suites are refused", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.InsecureSkipVerify = true
			conn, err := tls.Dial("tcp", addr, tc.cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

// TestPlainHTTPOnlyRedirects: the optional plain listener sends GET to
// HTTPS and refuses anything else, so no form travels in clear text
// (CP-5.1, MTL-4.2.1).
func TestPlainHTTPOnlyRedirects(t *testing.T) {
	r := startApp(t, testConfig(t, t.TempDir(), "--http-addr", "127.0.0.1:0"))
	plain := "http://" + r.RedirectAddr()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(plain + "/login?next=%2Faccount")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("GET over HTTP = %d", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != r.URL()+"/login?next=%2Faccount" {
		t.Fatalf("Location = %q, want %q", loc, r.URL()+"/login?next=%2Faccount")
	}
	resp, err = noFollow.Post(plain+"/login", "application/x-www-form-urlencoded", strings.NewReader("password=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST over HTTP = %d, want 400", resp.StatusCode)
	}
}

// TestMetricsEndpoint: Prometheus metrics on their own listener, with
// request counts by route pattern and the audit chain head (CP-8.1, CP-5.3).
func TestMetricsEndpoint(t *testing.T) {
	r := startApp(t, testConfig(t, t.TempDir(), "--metrics-addr", "127.0.0.1:0"))
	c := insecureClient()
	resp, err := c.Get(r.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The metrics are not on the public listener.
	resp, err = c.Get(r.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/metrics on the public listener = %d, want 404", resp.StatusCode)
	}
	var text string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.MetricsURL())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if strings.Contains(text, "portico_audit_head_info") && strings.Contains(text, `route="GET /{$}"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`portico_http_requests_total{method="GET",route="GET /{$}",status="200"} 1`,
		"portico_http_request_duration_seconds_bucket",
		"portico_audit_head_sequence",
		"portico_audit_head_info",
		"go_goroutines",
		"portico_build_info",
		// Detection (CP-8.1): alerts by state and the oldest unseen one.
		`portico_alerts{state="new"} 0`,
		"portico_alert_oldest_new_age_seconds 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestGracefulShutdown: a request in flight when shutdown begins still gets
// its answer; afterwards the database is closed cleanly and the audit
// chain, with the start and stop events, verifies (MTL-1.1, CP-5.3).
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	r := startApp(t, cfg)
	c := insecureClient()

	// Start a request whose body arrives slowly, then begin shutdown.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", r.URL()+"/healthz", pr)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	result := make(chan int, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	pw.Write([]byte("a=1"))
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop(t) }()
	time.Sleep(300 * time.Millisecond)
	pw.Write([]byte("&b=2"))
	pw.Close()
	if code := <-result; code != http.StatusMethodNotAllowed {
		t.Fatalf("in-flight request got %d, want its normal answer (405)", code)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if !strings.Contains(r.logs.String(), "portico stopped") {
		t.Fatal("no clean stop logged")
	}

	s, err := app.OpenStorage(context.Background(), cfg, app.Existing, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Audit.Verify(context.Background(), audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
	var actions []string
	var buf bytes.Buffer
	if _, err := s.Audit.Export(context.Background(), &buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"action":"schema.migrate"`, `"action":"system.start"`, `"action":"system.stop"`} {
		if !strings.Contains(buf.String(), want) {
			actions = append(actions, want)
		}
	}
	if len(actions) > 0 {
		t.Fatalf("audit trail lacks %v", actions)
	}
}

// TestServeOnPostgres runs the whole program on PostgreSQL.
func TestServeOnPostgres(t *testing.T) {
	url := dbtest.PostgresURL(t)
	r := startApp(t, testConfig(t, t.TempDir(), "--database-url", url))
	resp, err := insecureClient().Get(r.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz = %d", resp.StatusCode)
	}
	if r.Storage().DB.Dialect() != "postgres" {
		t.Fatal("not on PostgreSQL")
	}
}

// TestSlowClientIsCut: the server's read-header timeout is in effect, so a
// client that never finishes its headers (slowloris) loses its connection
// instead of holding it (MTL-1.1, availability).
func TestSlowClientIsCut(t *testing.T) {
	r := startApp(t, testConfig(t, t.TempDir(), "--read-header-timeout", "500ms", "--read-timeout", "1s"))
	conn, err := tls.Dial("tcp", strings.TrimPrefix(r.URL(), "https://"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n")); err != nil {
		t.Fatal(err)
	}
	// Generous: the point is that the server closes it at all.
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := io.ReadAll(conn)
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept a connection with unfinished headers open (read %q)", b)
	}
}
