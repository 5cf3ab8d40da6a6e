package alertout

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// collector is a syslog-over-TLS receiver (RFC 5425) on 127.0.0.1.
type collector struct {
	addr       string
	closeAfter int // hang up after this many messages on a connection; 0: never
	mu         sync.Mutex
	msgs       []string
	conns      int
	closed     int
}

// startCollector listens with cert; cfg adjusts the server's TLS.
func startCollector(t testing.TB, cert tls.Certificate, cfg func(*tls.Config)) *collector {
	return startCollectorClosing(t, cert, cfg, 0)
}

// startCollectorClosing starts a collector that hangs up after closeAfter
// messages on each connection.
func startCollectorClosing(t testing.TB, cert tls.Certificate, cfg func(*tls.Config), closeAfter int) *collector {
	t.Helper()
	sc := &tls.Config{Certificates: []tls.Certificate{cert}}
	if cfg != nil {
		cfg(sc)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sc)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{addr: ln.Addr().String(), closeAfter: closeAfter}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns++
			c.mu.Unlock()
			wg.Go(func() {
				c.read(t, conn)
				conn.Close()
				c.mu.Lock()
				c.closed++
				c.mu.Unlock()
			})
		}
	})
	return c
}

// read parses octet-counted frames (RFC 5425: MSG-LEN SP SYSLOG-MSG) until
// the connection ends.
func (c *collector) read(t testing.TB, conn net.Conn) {
	r := bufio.NewReader(conn)
	for read := 0; c.closeAfter == 0 || read < c.closeAfter; read++ {
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

// counts reports the messages and connections so far.
func (c *collector) counts() (msgs, conns int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs), c.conns
}

// wait returns the first n messages, waiting for them to arrive.
func (c *collector) wait(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := append([]string(nil), c.msgs...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector got %d messages, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSyslogOverTLS: alerts reach a TLS collector as RFC 5424 messages in
// RFC 5425 frames: PRI from facility authpriv and the alert's severity,
// version 1, the queue time, host and app names, MSGID alert, structured
// data with the IDs, rule and severity escaped, and the payload JSON as
// MSG; the pass's alerts share one connection (CP-8.1).
func TestSyslogOverTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	eachWithClock(t, func(t *testing.T, d *db.DB, c *dbtest.Clock) {
		col := startCollector(t, cert, nil)
		s, _ := newTestService(t, d, Config{
			SyslogAddr: col.addr, SyslogTLS: &tls.Config{RootCAs: pool},
			Hostname: "portico-1", AppName: "portico",
		})
		alerts := []alert{
			{ID: "al_1", Rule: `odd "rule" \ with ] in it`, Severity: "high", Count: 3},
			{ID: "al_2", Rule: "slow-brute-force", Severity: "low", Count: 40},
		}
		queue(t, s, alerts[0])
		c.Add(time.Second)
		queue(t, s, alerts[1])
		queuedAt := []time.Time{t0, t0.Add(time.Second)}
		c.Add(time.Minute) // sent later than queued
		deliver(t, s, 2, 0)

		msgs := col.wait(t, 2)
		rs := rows(t, d)
		for i, a := range alerts {
			payload, _ := json.Marshal(a)
			pri := map[string]string{"high": "<82>", "low": "<84>"}[a.Severity] // 10*8 + crit(2) / warning(4)
			wantSD := `[portico@32473 event="` + rs[i].id + `" id="` + a.ID + `" rule="` + strings.NewReplacer(`"`, `\"`, `\`, `\\`, `]`, `\]`).Replace(a.Rule) + `" severity="` + a.Severity + `"]`
			want := pri + "1 " + queuedAt[i].Format("2006-01-02T15:04:05.000000Z") + " portico-1 portico " + s.procID + " alert " + wantSD + " " + string(payload)
			if msgs[i] != want {
				t.Errorf("message %d:\n got %s\nwant %s", i, msgs[i], want)
			}
			if rs[i].status != "sent" {
				t.Errorf("row %d = %+v, want sent", i, rs[i])
			}
		}
		// The fields of one message, read as a collector would.
		parts := strings.SplitN(msgs[0], " ", 7)
		if parts[0] != "<82>1" || parts[5] != "alert" || !strings.HasPrefix(parts[6], "[portico@32473 ") {
			t.Errorf("header fields = %q", parts[:6])
		}
		if !strings.HasSuffix(msgs[0], "] "+rs[0].payload) {
			t.Errorf("MSG is not the payload JSON: %s", msgs[0])
		}
		if _, conns := col.counts(); conns != 1 {
			t.Errorf("%d connections for one pass, want 1", conns)
		}
	})
}

// TestSyslogRefusesUntrustedCollector: a collector whose certificate is
// not trusted gets nothing, and the alert waits for a retry.
func TestSyslogRefusesUntrustedCollector(t *testing.T) {
	cert, _ := selfSigned(t)
	d := dbtest.SQLite(t, dbtest.Options{})
	col := startCollector(t, cert, nil)
	s, _ := newTestService(t, d, Config{SyslogAddr: col.addr, SyslogTLS: &tls.Config{RootCAs: x509.NewCertPool()}})
	queue(t, s, alert{ID: "al_1", Rule: "r", Severity: "high"})
	queue(t, s, alert{ID: "al_2", Rule: "r", Severity: "high"})
	deliver(t, s, 0, 2)
	for _, r := range rows(t, d) {
		if r.status != "pending" || r.lastError != "syslog: the receiver's TLS certificate is not trusted" {
			t.Errorf("row = %+v, want pending, certificate not trusted", r)
		}
	}
	if n, _ := col.counts(); n != 0 {
		t.Fatalf("collector got %d messages", n)
	}
}

// TestSyslogRequiresTLS12: even when the given TLS configuration allows
// TLS 1.0, the collector must speak TLS 1.2 or later.
func TestSyslogRequiresTLS12(t *testing.T) {
	cert, pool := selfSigned(t)
	d := dbtest.SQLite(t, dbtest.Options{})
	col := startCollector(t, cert, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })
	s, _ := newTestService(t, d, Config{SyslogAddr: col.addr, SyslogTLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}})
	queue(t, s, alert{ID: "al_1", Rule: "r", Severity: "high"})
	deliver(t, s, 0, 1)
	if r := onlyRow(t, d); r.status != "pending" || r.lastError != "syslog: TLS handshake failed" {
		t.Fatalf("row = %+v, want pending, handshake failed", r)
	}
}

// TestSyslogReconnectsWhenClosed: a collector that hung up between two
// alerts of a pass (an idle timeout, a restart) gets the second one on a
// new connection, not written into the dead one and lost.
func TestSyslogReconnectsWhenClosed(t *testing.T) {
	cert, pool := selfSigned(t)
	d := dbtest.SQLite(t, dbtest.Options{})
	col := startCollectorClosing(t, cert, nil, 1)
	s, _ := newTestService(t, d, Config{SyslogAddr: col.addr, SyslogTLS: &tls.Config{RootCAs: pool}})
	sl := &syslogConn{s: s}
	defer sl.close()
	a := claimed{id: "x", channel: Syslog, payload: []byte(`{"id":"al_1"}`), createdAt: t0}
	if o := sl.send(t.Context(), a); !o.sent {
		t.Fatalf("first send: %+v", o)
	}
	col.wait(t, 1)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		col.mu.Lock()
		closed := col.closed
		col.mu.Unlock()
		if closed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the collector did not hang up")
		}
	}
	time.Sleep(20 * time.Millisecond) // let the close reach the client
	if o := sl.send(t.Context(), a); !o.sent {
		t.Fatalf("second send: %+v", o)
	}
	col.wait(t, 2)
}

// TestSyslogFormat: severities map to syslog's, unknown ones are not
// filed below medium, and SD values and header fields are escaped.
func TestSyslogFormat(t *testing.T) {
	for sev, want := range map[string]int{"low": 4, "medium": 3, "high": 2, "critical": 2, "HIGH": 2, "": 3, "bogus": 3} {
		if got := syslogSeverity(sev); got != want {
			t.Errorf("syslogSeverity(%q) = %d, want %d", sev, got, want)
		}
	}
	var b strings.Builder
	writeParam(&b, "rule", `a"b\c]d`)
	if got, want := b.String(), ` rule="a\"b\\c\]d"`; got != want {
		t.Errorf("writeParam = %s, want %s", got, want)
	}
	for in, want := range map[string]string{"": "-", "host name\n": "hostname", "héllo": "hllo", strings.Repeat("a", 60): strings.Repeat("a", 48)} {
		if got := headerField(in, 48); got != want {
			t.Errorf("headerField(%q) = %q, want %q", in, got, want)
		}
	}
	if got := string(frame([]byte("héllo"))); got != "6 héllo" {
		t.Errorf("frame counts %q, want octets", got)
	}
	f := payloadFields([]byte(`{"id":"x", "severity":3, "rule":null}`), "id", "rule", "severity", "missing")
	if f["id"] != "x" || f["severity"] != "3" || len(f) != 2 {
		t.Errorf("payloadFields = %v", f)
	}
}
