// Package vendorcheck checks one vendor endpoint against the live server
// (CP-10.2, MTL-6.2): whether it is reachable, the TLS version and cipher
// suite it negotiates, its certificate chain and days to expiry, HSTS on
// its page and a /.well-known/security.txt (RFC 9116). Each item is pass,
// warn or fail with a short reason and the figure it was judged on, and
// Degraded tells which items got worse since the previous check.
//
// It is a pure library: it keeps nothing and schedules nothing. The vendor
// register, the scheduled and leased checks every
// governance.vendor_check_interval, the history of results and the alert
// raised when a check degrades are internal/thirdparty's.
//
// The probe is willing to negotiate TLS 1.0 and 1.1 and every cipher suite
// Go knows, so that it sees what a weak server really offers (and fails
// it); over such a connection it sends nothing but a GET of the endpoint
// and a GET of its security.txt, and nothing at all over a connection whose
// certificate chain did not verify.
package vendorcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Status is the verdict on one item; a larger value is worse.
type Status int

// The verdicts, from best to worst. The zero Status means not judged.
const (
	Pass Status = iota + 1
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	}
	return "unknown"
}

// The names of the items of a Result, in the order they are checked.
const (
	ItemReachable   = "reachable"
	ItemTLSVersion  = "tls_version"
	ItemCipherSuite = "cipher_suite"
	ItemChain       = "certificate_chain"
	ItemExpiry      = "certificate_expiry"
	ItemHSTS        = "hsts"
	ItemSecurityTxt = "security_txt"
)

// Item is the verdict on one property of the endpoint.
type Item struct {
	Name   string // one of the Item* names
	Status Status
	Reason string // short, for people: "TLS 1.0 is too old"
	Figure string // what was seen: "TLS 1.3", "12 days", "max-age=31536000"
}

// Result is one check of one endpoint. Items holds only what was checked:
// an unreachable endpoint has the reachable item alone, and the HTTP items
// (HSTS, security.txt) are left out when the certificate chain failed.
type Result struct {
	Endpoint  string
	CheckedAt time.Time
	Items     []Item
	// CertNotAfter is when the leaf certificate the server presented
	// expires (zero when none was seen), for the history of checks.
	CertNotAfter time.Time
}

// Item returns the item of that name, and whether it was checked.
func (r Result) Item(name string) (Item, bool) {
	for _, it := range r.Items {
		if it.Name == name {
			return it, true
		}
	}
	return Item{}, false
}

// Worst is the worst status of the items (Fail for a result with none).
func (r Result) Worst() Status {
	if len(r.Items) == 0 {
		return Fail
	}
	worst := Pass
	for _, it := range r.Items {
		worst = max(worst, it.Status)
	}
	return worst
}

// Degraded names the items whose status is worse than in previous (pass to
// warn, warn to fail, pass to fail), in the order of r. An item checked
// now but not before is compared with pass, so a result that could check
// the HTTP items again does not hide a missing HSTS. A zero previous (no
// check before) degrades nothing.
func (r Result) Degraded(previous Result) []string {
	if len(previous.Items) == 0 {
		return nil
	}
	var out []string
	for _, it := range r.Items {
		before := Pass
		if p, ok := previous.Item(it.Name); ok {
			before = p.Status
		}
		if it.Status > before {
			out = append(out, it.Name)
		}
	}
	return out
}

// Options tune a check. The zero Options checks against the system roots
// with a 10 s timeout and warns 30 days before expiry.
type Options struct {
	// Timeout bounds the TCP connection and TLS handshake, and each HTTP
	// request. Default 10 s.
	Timeout time.Duration
	// ExpiryWarning is how long before the leaf certificate expires the
	// expiry item warns. Default 30 days.
	ExpiryWarning time.Duration
	// Roots verify the chain instead of the system roots (for tests).
	Roots *x509.CertPool
	// Now is the time the chain is verified at; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Check checks the https:// endpoint. It never returns an error: what
// cannot be checked is an item that fails with the reason.
func Check(ctx context.Context, endpoint string, opts Options) Result {
	opts = opts.withDefaults()
	res := Result{Endpoint: endpoint, CheckedAt: opts.Now()}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		res.Items = append(res.Items, Item{Name: ItemReachable, Status: Fail, Reason: "the endpoint is not an https:// URL"})
		return res
	}
	host := u.Hostname()
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(host, "443")
	}

	state, err := handshake(ctx, addr, host, opts.Timeout)
	if err != nil {
		res.Items = append(res.Items, Item{Name: ItemReachable, Status: Fail, Reason: reachReason(err), Figure: addr})
		return res
	}
	res.Items = append(res.Items,
		Item{Name: ItemReachable, Status: Pass, Reason: "TCP and TLS handshake succeeded", Figure: addr},
		judgeVersion(state.Version),
		judgeSuite(state.Version, state.CipherSuite))
	if len(state.PeerCertificates) > 0 {
		res.CertNotAfter = state.PeerCertificates[0].NotAfter.UTC()
	}
	chain := judgeChain(state, host, opts)
	res.Items = append(res.Items, chain, judgeExpiry(state, res.CheckedAt, opts.ExpiryWarning))
	if chain.Status != Pass {
		return res
	}
	client := newClient(host, opts)
	defer client.CloseIdleConnections()
	res.Items = append(res.Items, checkHSTS(ctx, client, u), checkSecurityTxt(ctx, client, u))
	return res
}

// probeConfig accepts every version from TLS 1.0 and every suite Go
// implements, secure or not, so that the server's own choice is seen.
func probeConfig(host string) *tls.Config {
	var suites []uint16
	for _, s := range tls.CipherSuites() {
		suites = append(suites, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		suites = append(suites, s.ID)
	}
	return &tls.Config{
		ServerName:   host,
		MinVersion:   tls.VersionTLS10,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: suites,
	}
}

// handshake connects and completes a TLS handshake without verifying the
// chain (judgeChain does, so that a bad chain is reported, not refused),
// then closes the connection without sending anything.
func handshake(ctx context.Context, addr, host string, timeout time.Duration) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg := probeConfig(host)
	cfg.InsecureSkipVerify = true
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}

func reachReason(err error) string {
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout() {
		return "no TLS handshake within the timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "TCP connection failed: " + op.Err.Error()
	}
	return "TLS handshake failed: " + err.Error()
}

func judgeVersion(v uint16) Item {
	it := Item{Name: ItemTLSVersion, Figure: tls.VersionName(v)}
	switch v {
	case tls.VersionTLS13, tls.VersionTLS12:
		it.Status, it.Reason = Pass, it.Figure+" is acceptable"
	default:
		it.Status, it.Reason = Fail, it.Figure+" is too old (TLS 1.2 or 1.3 needed)"
	}
	return it
}

// judgeSuite passes a suite that is an AEAD with forward secrecy: every
// TLS 1.3 suite, and under older versions an ECDHE suite with GCM or
// ChaCha20-Poly1305 that Go does not list as insecure.
func judgeSuite(version, id uint16) Item {
	name := tls.CipherSuiteName(id)
	it := Item{Name: ItemCipherSuite, Figure: name}
	if version == tls.VersionTLS13 {
		it.Status, it.Reason = Pass, "TLS 1.3 suite"
		return it
	}
	for _, s := range tls.InsecureCipherSuites() {
		if s.ID == id {
			it.Status, it.Reason = Fail, "insecure cipher suite"
			return it
		}
	}
	known := false
	for _, s := range tls.CipherSuites() {
		known = known || s.ID == id
	}
	fs := hasAny(name, "_ECDHE_", "_DHE_")
	aead := hasAny(name, "_GCM_", "_CHACHA20_POLY1305")
	switch {
	case !known:
		it.Status, it.Reason = Fail, "unknown cipher suite"
	case !fs:
		it.Status, it.Reason = Fail, "no forward secrecy (static RSA key exchange)"
	case !aead:
		it.Status, it.Reason = Fail, "not an AEAD (CBC mode)"
	default:
		it.Status, it.Reason = Pass, "AEAD with forward secrecy"
	}
	return it
}

func hasAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// judgeChain verifies the presented chain against the roots for the host,
// at opts.Now.
func judgeChain(state tls.ConnectionState, host string, opts Options) Item {
	it := Item{Name: ItemChain}
	if len(state.PeerCertificates) == 0 {
		it.Status, it.Reason = Fail, "no certificate presented"
		return it
	}
	leaf := state.PeerCertificates[0]
	it.Figure = leaf.Subject.String()
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   opts.Now(),
	})
	if err == nil {
		it.Status, it.Reason = Pass, "chain verified for "+host
		return it
	}
	it.Status, it.Reason = Fail, chainReason(err, leaf, host)
	return it
}

func chainReason(err error, leaf *x509.Certificate, host string) string {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		if inv.Cert != nil && inv.Cert != leaf {
			return "a certificate of the chain has expired or is not yet valid"
		}
		return fmt.Sprintf("certificate expired or not yet valid (valid %s to %s)",
			leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
	case errors.As(err, &unk):
		return "not signed by a trusted authority"
	case errors.As(err, &hn):
		return "certificate is not valid for " + host
	}
	return "chain does not verify: " + err.Error()
}

func judgeExpiry(state tls.ConnectionState, now time.Time, warn time.Duration) Item {
	it := Item{Name: ItemExpiry}
	if len(state.PeerCertificates) == 0 {
		it.Status, it.Reason = Fail, "no certificate presented"
		return it
	}
	notAfter := state.PeerCertificates[0].NotAfter
	left := notAfter.Sub(now)
	days := int(left.Hours() / 24)
	it.Figure = fmt.Sprintf("%d days", days)
	switch {
	case left <= 0:
		it.Status, it.Reason = Fail, "expired on "+notAfter.UTC().Format(time.DateOnly)
	case left < warn:
		it.Status, it.Reason = Warn, "expires on "+notAfter.UTC().Format(time.DateOnly)
	default:
		it.Status, it.Reason = Pass, "expires on "+notAfter.UTC().Format(time.DateOnly)
	}
	return it
}
