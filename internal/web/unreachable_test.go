package web

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/session"
)

// cutProxy forwards TCP connections to PostgreSQL until it is cut: then
// it refuses new connections and drops the open ones, as a database that
// stopped does; restored, it listens on the same port again. A real
// network fault between a node and a real PostgreSQL, not a stand-in.
type cutProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every open connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens on the same address again.
func (p *cutProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestDatabaseUnreachable: while PostgreSQL cannot be reached, a
// signed-in page and /readyz fail at once with 503 and a Retry-After (not
// 500, not a hang), the session cookie is kept, and the same session
// works again as soon as the database is back, without a restart (MTL-1.1).
func TestDatabaseUnreachable(t *testing.T) {
	base := dbtest.PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{URL: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := newTestServerOn(t, d)
	tok := signInFull(t, s, "down@example.com")
	cookie := map[string]string{"Cookie": cookieOf(tok)}
	if w := do(s, "GET", "/account", nil, cookie); w.Code != 200 {
		t.Fatalf("GET /account before the fault = %d", w.Code)
	}

	proxy.cut()
	w := do(s, "GET", "/account", nil, cookie)
	if w.Code != 503 {
		t.Fatalf("GET /account with the database unreachable = %d, want 503 (%.200s)", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == session.CookieName {
			t.Errorf("the session cookie was touched while the database was unreachable: %v", c)
		}
	}
	if !strings.Contains(w.Body.String(), "temporarily unavailable") {
		t.Errorf("the page does not say Portico is temporarily unavailable: %.300s", w.Body.String())
	}
	if strings.Contains(w.Body.String(), proxy.addr) || strings.Contains(w.Body.String(), "dial") {
		t.Errorf("the page shows internals: %.300s", w.Body.String())
	}
	if !strings.Contains(s.logs.String(), "database unreachable") {
		t.Errorf("no log line names the fault:\n%s", s.logs.String())
	}
	if w := do(s, "GET", "/readyz", nil, nil); w.Code != 503 {
		t.Errorf("/readyz with the database unreachable = %d, want 503", w.Code)
	}
	if w := do(s, "GET", "/healthz", nil, nil); w.Code != 200 {
		t.Errorf("/healthz with the database unreachable = %d, want 200 (the process lives)", w.Code)
	}

	proxy.restore()
	if w := do(s, "GET", "/readyz", nil, nil); w.Code != 200 {
		t.Errorf("/readyz after the database came back = %d, want 200", w.Code)
	}
	if w := do(s, "GET", "/account", nil, cookie); w.Code != 200 {
		t.Fatalf("GET /account after the database came back = %d, want 200: the session should have survived", w.Code)
	}
}

func TestUnreachableClassifies(t *testing.T) {
	if db.Unreachable(errors.New("some bug")) || db.Unreachable(nil) {
		t.Fatal("an ordinary error counted as unreachable")
	}
	if !db.Unreachable(&net.OpError{Op: "dial", Err: errors.New("connection refused")}) {
		t.Fatal("a dial error did not count as unreachable")
	}
}

// TestClientGoneIsNotAnError: a request whose client went away (its
// context canceled) while the server worked on it is logged as such, not
// as an internal error that would page an operator (MTL-1.1: the error
// log stays for faults).
func TestClientGoneIsNotAnError(t *testing.T) {
	s := newTestServer(t)
	tok := signInFull(t, s, "gone@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/account", nil).WithContext(ctx)
	r.Header.Set("User-Agent", "test")
	r.Header.Set("Cookie", cookieOf(tok))
	s.ServeHTTP(httptest.NewRecorder(), r)
	logs := s.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a request canceled by its client was logged as an error:\n%s", logs)
	}
	if !strings.Contains(logs, "request canceled by the client") {
		t.Errorf("the canceled request is not in the log:\n%s", logs)
	}
}
