package clustertest

import (
	"bufio"
	"crypto/tls"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/session"
)

// Browser is one person's browser, talking to the cluster through the
// balancer over HTTPS on keep-alive connections. It keeps its cookies,
// sends one user agent, and claims one client address.
//
// The address is sent as X-Forwarded-For; HAProxy appends the address of
// the connection (127.0.0.1, which every node trusts as a proxy), so the
// nodes take the browser's address as the client's, as they would behind
// a CDN in front of the balancer. Give each test its own addresses (in
// its own /24) so that rate limits and detection of one test do not reach
// another.
type Browser struct {
	c *Cluster
	// IP is the client address the browser claims; "" claims none.
	IP string
	// UserAgent is sent with every request: a session is bound to its
	// browser, and a different one ends it.
	UserAgent string
	// FetchMetadata sends Sec-Fetch-Site: same-origin, as browsers do,
	// which is what lets a POST through Portico's cross-origin
	// protection. Without it, a POST must carry the signed form token
	// (FormToken) of a page.
	FetchMetadata bool

	jar       *cookiejar.Jar
	transport *http.Transport
	client    *http.Client
}

// Response is an answer as the browser saw it.
type Response struct {
	Status    int
	Location  string // of a redirect
	Node      string // the node that served it (X-Portico-Node)
	RequestID string // X-Request-Id: the request's ID in the node's logs and the audit trail
	Header    http.Header
	Body      string
}

// NewBrowser returns a browser claiming address ip with user agent ua
// that sends Fetch Metadata. It is closed when t ends.
func (c *Cluster) NewBrowser(t testing.TB, ip, ua string) *Browser {
	t.Helper()
	b := c.newBrowser(ip, ua)
	t.Cleanup(b.Close)
	return b
}

func (c *Cluster) newBrowser(ip, ua string) *Browser {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: c.caPool, ServerName: "127.0.0.1"},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     5 * time.Second, // under HAProxy's keep-alive timeout
	}
	return &Browser{
		c: c, IP: ip, UserAgent: ua, FetchMetadata: true, jar: jar, transport: tr,
		client: &http.Client{
			Transport: tr,
			Jar:       jar,
			Timeout:   30 * time.Second,
			// A browser follows redirects; tests want to see each step.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// probe is a browser without an address, for health checks.
func (c *Cluster) probe() *Browser { return c.newBrowser("", "clustertest-probe") }

// Close closes the browser's idle connections.
func (b *Browser) Close() { b.transport.CloseIdleConnections() }

// Get requests path through the balancer. With node set, the request is
// pinned to that node (PinHeader) and t fails if another one answers;
// with node "", the balancer chooses.
func (b *Browser) Get(t testing.TB, node, path string) Response {
	t.Helper()
	return b.do(t, "GET", node, path, nil)
}

// Post sends form to path through the balancer, pinned to node as Get is.
func (b *Browser) Post(t testing.TB, node, path string, form url.Values) Response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return b.do(t, "POST", node, path, form)
}

func (b *Browser) do(t testing.TB, method, node, path string, form url.Values) Response {
	t.Helper()
	r, err := b.try(method, node, path, form)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if node != "" && r.Node != node {
		t.Fatalf("%s %s: pinned to %s, answered by %q (status %d)", method, path, node, r.Node, r.Status)
	}
	return r
}

func (b *Browser) try(method, node, path string, form url.Values) (Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.c.balancer+path, body)
	if err != nil {
		return Response{}, err
	}
	b.prepare(req, node)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Response{}, err
	}
	return Response{
		Status:    resp.StatusCode,
		Location:  resp.Header.Get("Location"),
		Node:      resp.Header.Get(NodeHeader),
		RequestID: resp.Header.Get("X-Request-Id"),
		Header:    resp.Header,
		Body:      string(raw),
	}, nil
}

func (b *Browser) prepare(req *http.Request, node string) {
	req.Header.Set("User-Agent", b.UserAgent)
	if b.IP != "" {
		req.Header.Set("X-Forwarded-For", b.IP)
	}
	if b.FetchMetadata {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if node != "" {
		req.Header.Set(PinHeader, node)
	}
}

// Session returns the browser's session token (the session cookie), or "".
func (b *Browser) Session() string {
	u, _ := url.Parse(b.c.balancer)
	for _, ck := range b.jar.Cookies(u) {
		if ck.Name == session.CookieName {
			return ck.Value
		}
	}
	return ""
}

// SetSession replaces the browser's session cookie with token: a stolen
// or kept copy of a token, as an attacker would replay it.
func (b *Browser) SetSession(token string) {
	u, _ := url.Parse(b.c.balancer)
	b.jar.SetCookies(u, []*http.Cookie{{Name: session.CookieName, Value: token, Path: "/", Secure: true, HttpOnly: true}})
}

var formTokenRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// FormToken returns the signed form token of the first form in a page.
func FormToken(page string) string {
	m := formTokenRe.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// SignInPassword sends the password step to node and returns the answer:
// 303 to the second factor (/login/mfa) or to its enrolment
// (/account/mfa/setup) when it succeeded, the form again (200) when not.
func (b *Browser) SignInPassword(t testing.TB, node, email, password string) Response {
	t.Helper()
	return b.Post(t, node, "/login", url.Values{"email": {email}, "password": {password}})
}

// SignIn signs in with both factors: the password on passwordNode and
// the next code of a on codeNode. It fails t unless the browser ends up
// signed in.
func (b *Browser) SignIn(t testing.TB, email, password string, a *Authenticator, passwordNode, codeNode string) {
	t.Helper()
	r := b.SignInPassword(t, passwordNode, email, password)
	if r.Status != http.StatusSeeOther || r.Location != "/login/mfa" {
		t.Fatalf("password step on %s: %d to %q, want 303 to /login/mfa", r.Node, r.Status, r.Location)
	}
	r = b.Post(t, codeNode, "/login/mfa", url.Values{"code": {a.Code(t)}})
	if r.Status != http.StatusSeeOther || r.Location != "/account" {
		t.Fatalf("second factor on %s: %d to %q, want 303 to /account", r.Node, r.Status, r.Location)
	}
}

var totpSecretRe = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// Enrol signs a new account in with its password and sets up an
// authenticator app, as its owner does at first sign-in, spreading the
// steps over the nodes (nodes[i%len]: the password, the start of the
// enrolment, the page with the key, the first code). The browser is then
// signed in with both factors. It returns the authenticator.
func (b *Browser) Enrol(t testing.TB, email, password string, nodes ...string) *Authenticator {
	t.Helper()
	if len(nodes) == 0 {
		nodes = b.c.Names()
	}
	on := func(i int) string { return nodes[i%len(nodes)] }
	r := b.SignInPassword(t, on(0), email, password)
	if r.Status != http.StatusSeeOther || r.Location != "/account/mfa/setup" {
		t.Fatalf("enrolment: password step: %d to %q, want 303 to /account/mfa/setup", r.Status, r.Location)
	}
	if r = b.Post(t, on(1), "/account/mfa/totp/start", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("enrolment: start: %d to %q", r.Status, r.Location)
	}
	r = b.Get(t, on(2), "/account/mfa/setup")
	m := totpSecretRe.FindStringSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil {
		t.Fatalf("enrolment: setup page: %d without a key", r.Status)
	}
	a := &Authenticator{Secret: strings.ReplaceAll(html.UnescapeString(m[1]), " ", "")}
	r = b.Post(t, on(3), "/account/mfa/totp/confirm", url.Values{"code": {a.Code(t)}})
	// The recovery codes are shown once (200), or the browser goes on.
	if r.Status != http.StatusOK && r.Status != http.StatusSeeOther {
		t.Fatalf("enrolment: confirm: %d to %q", r.Status, r.Location)
	}
	if r = b.Get(t, on(4), "/account"); r.Status != http.StatusOK {
		t.Fatalf("enrolment: /account after enrolment: %d to %q", r.Status, r.Location)
	}
	return a
}

// Authenticator is an authenticator app: it makes the TOTP codes of the
// key shown at enrolment (RFC 6238, 30-second steps) and remembers the
// newest step it used, since the server never accepts a step twice.
type Authenticator struct {
	Secret string
	last   int64
}

const totpPeriod = 30

// Code returns a code the server accepts now (of the current step or
// the next, one step of tolerance) that has not been used, waiting for
// the clock when both were.
func (a *Authenticator) Code(t testing.TB) string {
	t.Helper()
	now := time.Now().Unix() / totpPeriod
	step := max(a.last+1, now)
	if step > now+1 {
		wait := time.Until(time.Unix((step-1)*totpPeriod, 0)) + 500*time.Millisecond
		t.Logf("waiting %v for a fresh TOTP step", wait.Round(time.Second))
		time.Sleep(wait)
	}
	a.last = step
	return a.codeAt(step)
}

// LastCode returns the code Code returned last: replaying it must fail.
func (a *Authenticator) LastCode() string { return a.codeAt(a.last) }

func (a *Authenticator) codeAt(step int64) string {
	c, err := totp.GenerateCode(a.Secret, time.Unix(step*totpPeriod, 0))
	if err != nil {
		panic(err)
	}
	return c
}

// Stream is a server-sent event stream (the security team's live feed)
// read in the background: it counts the events by ID.
type Stream struct {
	// Node served the stream.
	Node string

	mu   sync.Mutex
	ids  map[string]int
	done chan struct{}
}

// Stream opens the event stream at path, pinned to node, with the
// browser's session. It is closed when t ends.
func (b *Browser) Stream(t testing.TB, node, path string) *Stream {
	t.Helper()
	req, err := http.NewRequest("GET", b.c.balancer+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.prepare(req, node)
	req.Header.Set("Accept", "text/event-stream")
	c := *b.client
	c.Timeout = 0 // the stream stays open
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stream{Node: resp.Header.Get(NodeHeader), ids: map[string]int{}, done: make(chan struct{})}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("%s on %s: %d %s", path, s.Node, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if node != "" && s.Node != node {
		resp.Body.Close()
		t.Fatalf("%s: pinned to %s, served by %q", path, node, s.Node)
	}
	t.Cleanup(func() {
		resp.Body.Close()
		<-s.done
	})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				s.mu.Lock()
				s.ids[id]++
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// Count returns how many times the event id has arrived.
func (s *Stream) Count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}
