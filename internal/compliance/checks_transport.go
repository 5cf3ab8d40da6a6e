package compliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// transportChecks are the evidence of encryption in transit and of the
// browser defences, taken by connecting to the running HTTPS server as a
// client would.
func transportChecks(src Sources) []Check {
	return []Check{{
		Name:    "transport.tls",
		Clauses: []string{"MTL-4.2.1", "CP-5.1"},
		Description: "Connects to the running HTTPS server as a client, trusting only the server's own certificate: " +
			"TLS 1.0 and 1.1 and TLS 1.2 with only CBC suites must be refused, TLS 1.2 and 1.3 must be accepted with an AEAD suite; " +
			"GET /login must carry Strict-Transport-Security for at least a year and set only Secure, HttpOnly cookies. " +
			"Fails when any of these does not hold, the certificate has expired or the server cannot be reached; " +
			"warns when the certificate is in the last tenth of its lifetime.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkTLS(ctx, src, now) },
	}, {
		Name:    "web.headers",
		Clauses: []string{"CP-6.1"},
		Description: "Asks the running server for /login twice: each answer must carry a strict Content-Security-Policy " +
			"(a fresh nonce per request with 'strict-dynamic', object-src, base-uri and frame-ancestors 'none', no 'unsafe-inline' or 'unsafe-eval') " +
			"and nosniff; then sends a cross-site POST (Sec-Fetch-Site cross-site, a foreign Origin) and a POST with neither header nor form token, " +
			"which must both be refused with 403. Fails when any does not hold or the server cannot be reached.",
		Run: func(ctx context.Context, now time.Time) (Result, error) { return checkWebHeaders(ctx, src, now) },
	}}
}

// probeTimeout bounds each connection the transport checks make.
const probeTimeout = 10 * time.Second

// hstsMinAge is the shortest Strict-Transport-Security max-age accepted:
// one year, the value browsers' preload lists require.
const hstsMinAge = 365 * 24 * time.Hour

// aeadSuites are the TLS 1.2 cipher suites with authenticated encryption
// and forward secrecy; TLS 1.3 suites are all AEAD.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256,
}

// cbcSuites are the CBC suites a client offers in the probe that must be
// refused.
var cbcSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// prober connects to the server as a client that trusts exactly the
// server's configured certificate.
type prober struct {
	addr string
	leaf *x509.Certificate
	base *tls.Config // verifies against leaf, at the check's time
}

// newProber prepares the probes of src's HTTPS server at now.
func newProber(src Sources, now time.Time) (*prober, error) {
	if src.TLSConfig == nil || len(src.TLSConfig.Certificates) == 0 || src.TLSAddr == "" {
		return nil, errUnavailable("the HTTPS server's address and certificate")
	}
	cert := src.TLSConfig.Certificates[0]
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return nil, errUnavailable("the HTTPS server's certificate")
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("the server's certificate: %w", err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	name := ""
	switch {
	case len(leaf.DNSNames) > 0:
		name = leaf.DNSNames[0]
		// A wildcard names no host: ask for one it covers.
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			name = "portico." + rest
		}
	case len(leaf.IPAddresses) > 0:
		name = leaf.IPAddresses[0].String()
	default:
		return nil, errors.New("the server's certificate names no host or address")
	}
	return &prober{addr: src.TLSAddr, leaf: leaf, base: &tls.Config{
		RootCAs: roots, ServerName: name, Time: func() time.Time { return now },
	}}, nil
}

// handshake connects with the base configuration changed by edit and
// returns the connection's state, or the handshake's error.
func (p *prober) handshake(ctx context.Context, edit func(*tls.Config)) (tls.ConnectionState, error) {
	cfg := p.base.Clone()
	if edit != nil {
		edit(cfg)
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: probeTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// refused reports whether a handshake offered only what edit allows was
// refused by the server: an error that is neither a failure to reach it
// nor its certificate failing to verify (which means it accepted).
func (p *prober) refused(ctx context.Context, edit func(*tls.Config)) (bool, error) {
	_, err := p.handshake(ctx, edit)
	var verr *tls.CertificateVerificationError
	var oerr *net.OpError
	switch {
	case err == nil, errors.As(err, &verr):
		return false, nil
	case errors.As(err, &oerr) && oerr.Op == "dial":
		return false, fmt.Errorf("could not connect to %s: %w", p.addr, err)
	}
	return true, nil
}

// client is an HTTPS client over the prober's verified configuration. It
// keeps no connection open after a request: an idle connection would hold
// memory on both sides until the server's idle timeout, every hour.
func (p *prober) client() *http.Client {
	cfg := p.base.Clone()
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   cfg,
			ForceAttemptHTTP2: true,
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{Timeout: probeTimeout}).DialContext,
		},
		Timeout: probeTimeout,
		// A redirect is an answer in itself: the headers are checked on it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// url is the server's address for path.
func (p *prober) url(path string) string { return "https://" + p.addr + path }

// do sends a request for path and returns the response with its body read and closed.
func (p *prober) do(ctx context.Context, c *http.Client, method, path string, header http.Header, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.url(path), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("could not connect to %s: %w", p.addr, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

// Enforces MTL-7.2 (evidence of MTL-4.2.1, CP-5.1): the running server
// speaks only TLS 1.2+ with AEAD suites, sends HSTS and secure cookies, and
// its certificate is valid.
func checkTLS(ctx context.Context, src Sources, now time.Time) (Result, error) {
	p, err := newProber(src, now)
	if err != nil {
		return Result{}, err
	}
	var figs []Figure
	var problems []string
	status := Pass

	// The certificate first: an expired one fails however good the rest.
	left := p.leaf.NotAfter.Sub(now)
	life := p.leaf.NotAfter.Sub(p.leaf.NotBefore)
	figs = append(figs,
		Figure{"certificate expires", p.leaf.NotAfter.UTC().Format(time.DateOnly)},
		Figure{"certificate days left", strconv.Itoa(int(left.Hours() / 24))},
		Figure{"certificate serial", p.leaf.SerialNumber.Text(16)})
	switch {
	case left <= 0:
		return Result{Status: Fail, Summary: fmt.Sprintf("the server's certificate expired on %s", p.leaf.NotAfter.UTC().Format(time.DateOnly)), Figures: figs}, nil
	case now.Before(p.leaf.NotBefore):
		return Result{Status: Fail, Summary: fmt.Sprintf("the server's certificate is not valid before %s", p.leaf.NotBefore.UTC().Format(time.DateOnly)), Figures: figs}, nil
	case left < life/10:
		status = Warn
	}

	// What must be accepted, with an AEAD suite.
	for _, probe := range []struct {
		label string
		edit  func(*tls.Config)
	}{
		{"TLS 1.3", func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }},
		{"TLS 1.2", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12 }},
	} {
		st, err := p.handshake(ctx, probe.edit)
		var oerr *net.OpError
		if errors.As(err, &oerr) && oerr.Op == "dial" {
			return Result{}, fmt.Errorf("could not connect to %s: %w", p.addr, err)
		}
		if err != nil {
			problems = append(problems, probe.label+" refused")
			figs = append(figs, Figure{probe.label, "refused"})
			continue
		}
		suite := tls.CipherSuiteName(st.CipherSuite)
		figs = append(figs, Figure{probe.label, suite})
		if !slices.Contains(aeadSuites, st.CipherSuite) {
			problems = append(problems, probe.label+" negotiated "+suite+", not an AEAD suite")
		}
	}

	// What must be refused.
	for _, probe := range []struct {
		label string
		edit  func(*tls.Config)
	}{
		{"TLS 1.0", func(c *tls.Config) {
			c.MinVersion, c.MaxVersion, c.CipherSuites = tls.VersionTLS10, tls.VersionTLS10, cbcSuites
		}},
		{"TLS 1.1", func(c *tls.Config) {
			c.MinVersion, c.MaxVersion, c.CipherSuites = tls.VersionTLS11, tls.VersionTLS11, cbcSuites
		}},
		{"TLS 1.2 with CBC suites only", func(c *tls.Config) {
			c.MinVersion, c.MaxVersion, c.CipherSuites = tls.VersionTLS12, tls.VersionTLS12, cbcSuites
		}},
	} {
		ok, err := p.refused(ctx, probe.edit)
		if err != nil {
			return Result{}, err
		}
		if ok {
			figs = append(figs, Figure{probe.label, "refused"})
		} else {
			figs = append(figs, Figure{probe.label, "accepted"})
			problems = append(problems, probe.label+" accepted")
		}
	}

	// HSTS and cookies, on the sign-in page.
	hc := p.client()
	defer hc.CloseIdleConnections()
	resp, err := p.do(ctx, hc, http.MethodGet, "/login", nil, "")
	if err != nil {
		return Result{}, err
	}
	figs = append(figs, Figure{"protocol", resp.Proto})
	hsts := resp.Header.Get("Strict-Transport-Security")
	if age, ok := hstsMaxAge(hsts); !ok || age < hstsMinAge {
		problems = append(problems, "no Strict-Transport-Security of a year or more")
		figs = append(figs, Figure{"HSTS", "missing or short"})
	} else {
		figs = append(figs, Figure{"HSTS max-age days", strconv.Itoa(int(age.Hours() / 24))})
	}
	cookies := resp.Cookies()
	weak := 0
	for _, c := range cookies {
		if !c.Secure || !c.HttpOnly {
			weak++
		}
	}
	figs = append(figs, Figure{"cookies set", strconv.Itoa(len(cookies))}, Figure{"cookies without Secure or HttpOnly", strconv.Itoa(weak)})
	if weak > 0 {
		problems = append(problems, fmt.Sprintf("%d cookie(s) without Secure or HttpOnly", weak))
	}

	if len(problems) > 0 {
		return Result{Status: Fail, Summary: "the HTTPS server does not meet the transport policy: " + strings.Join(problems, "; "), Figures: figs}, nil
	}
	if status == Warn {
		return Result{Status: Warn, Summary: fmt.Sprintf("TLS 1.2+ with AEAD suites only, HSTS and secure cookies, but the certificate expires in %d days (%s)",
			int(left.Hours()/24), p.leaf.NotAfter.UTC().Format(time.DateOnly)), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: fmt.Sprintf("TLS 1.2+ with AEAD suites only (TLS 1.0, 1.1 and CBC refused), HSTS and secure cookies; the certificate is valid for %d more days",
		int(left.Hours()/24)), Figures: figs}, nil
}

// hstsMaxAge reads the max-age of a Strict-Transport-Security header.
func hstsMaxAge(h string) (time.Duration, bool) {
	for _, part := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "max-age") {
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0, false
			}
			return time.Duration(n) * time.Second, true
		}
	}
	return 0, false
}

// cspDirectives splits a Content-Security-Policy into its directives.
func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[strings.ToLower(f[0])] = f[1:]
		}
	}
	return out
}

// cspProblems says what a CSP lacks to be strict, and returns its nonce.
func cspProblems(csp string) (nonce string, problems []string) {
	if csp == "" {
		return "", []string{"no Content-Security-Policy"}
	}
	d := cspDirectives(csp)
	for _, v := range d["script-src"] {
		if strings.HasPrefix(v, "'nonce-") {
			nonce = strings.TrimSuffix(strings.TrimPrefix(v, "'nonce-"), "'")
		}
	}
	if nonce == "" {
		problems = append(problems, "script-src has no nonce")
	}
	if !slices.Contains(d["script-src"], "'strict-dynamic'") {
		problems = append(problems, "script-src lacks 'strict-dynamic'")
	}
	for _, name := range []string{"object-src", "base-uri", "frame-ancestors"} {
		if !slices.Equal(d[name], []string{"'none'"}) {
			problems = append(problems, name+" is not 'none'")
		}
	}
	for _, vals := range d {
		for _, v := range vals {
			if v == "'unsafe-inline'" || v == "'unsafe-eval'" {
				problems = append(problems, "it allows "+v)
			}
		}
	}
	return nonce, problems
}

// Enforces MTL-7.2 (evidence of CP-6.1): the running server sends a
// strict nonce CSP that changes with each request, and refuses
// cross-site and token-less state-changing requests.
func checkWebHeaders(ctx context.Context, src Sources, now time.Time) (Result, error) {
	p, err := newProber(src, now)
	if err != nil {
		return Result{}, err
	}
	c := p.client()
	defer c.CloseIdleConnections()
	var figs []Figure
	var problems []string
	var nonces []string
	for range 2 {
		resp, err := p.do(ctx, c, http.MethodGet, "/login", nil, "")
		if err != nil {
			return Result{}, err
		}
		nonce, probs := cspProblems(resp.Header.Get("Content-Security-Policy"))
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			probs = append(probs, "no X-Content-Type-Options nosniff")
		}
		for _, pr := range probs {
			if !slices.Contains(problems, pr) {
				problems = append(problems, pr)
			}
		}
		nonces = append(nonces, nonce)
	}
	if nonces[0] != "" && nonces[0] == nonces[1] {
		problems = append(problems, "the CSP nonce is the same on two requests")
	}
	figs = append(figs, Figure{"CSP nonce fresh per request", strconv.FormatBool(nonces[0] != "" && nonces[0] != nonces[1])})

	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	cross := form.Clone()
	cross.Set("Sec-Fetch-Site", "cross-site")
	cross.Set("Origin", "https://evidence-probe.invalid")
	for _, probe := range []struct {
		label  string
		header http.Header
	}{
		{"cross-site POST /login", cross},
		{"POST /login without Fetch Metadata, Origin or form token", form},
	} {
		// An empty form: a refusal never reads it, and a server that
		// wrongly lets it through signs no one in.
		resp, err := p.do(ctx, c, http.MethodPost, "/login", probe.header, "")
		if err != nil {
			return Result{}, err
		}
		figs = append(figs, Figure{probe.label, strconv.Itoa(resp.StatusCode)})
		if resp.StatusCode != http.StatusForbidden {
			problems = append(problems, fmt.Sprintf("%s answered %d, not 403", probe.label, resp.StatusCode))
		}
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Summary: "the browser defences do not hold: " + strings.Join(problems, "; "), Figures: figs}, nil
	}
	return Result{Status: Pass, Summary: "a strict CSP with a fresh nonce per request on /login; cross-site and token-less POSTs are refused with 403", Figures: figs}, nil
}
