package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/portico/portico/internal/detect"

	"github.com/portico/portico/internal/apperr"
)

//go:embed templates
var templateFS embed.FS

// Page is the data every page template gets. Each page's own data type
// embeds it (typed page data: no map[string]any).
type Page struct {
	Title     string
	Nonce     string // CSP nonce for this response's <script> tags
	CSRFField string
	CSRFToken string // signed double-submit token for this page's forms
	Path      string // current path, for navigation highlighting
	Version   string

	// Error is a message about the form just sent (shown with role=alert);
	// Flash confirms what was just done.
	Error string
	Flash string
	// Refresh, when set, reloads the page every so many seconds for a
	// browser without script (a live page's fallback).
	Refresh int
	// Problems are what is wrong with each input of the form just sent,
	// in the form's order: the page lists them in a summary at the top
	// (linking to each input) and shows each next to its input, which
	// points to it with aria-describedby. Set by formProblems.
	Problems []Problem

	// The signed-in account, for the header: nothing about it is shown
	// to anyone else.
	SignedIn     bool
	FullAccess   bool   // signed in completely (not in a restricted step)
	Unread       int    // unread security notices
	Banner       string // a standing warning: password expiry, MFA prompt
	BannerLink   string
	BannerAction string // the link's words ("" for "Do it now")
	// Nav says which areas the header links to: only those the
	// principal may use (the routes check again).
	Nav Nav
}

// Problem is what is wrong with one input of a form: the input's id and
// the message.
type Problem struct{ Field, Message string }

// Problem returns what is wrong with the input of that id, or "".
func (p Page) Problem(field string) string {
	for _, pr := range p.Problems {
		if pr.Field == field {
			return pr.Message
		}
	}
	return ""
}

// formProblems puts a form's error on the page: its message, and what
// is wrong with each of the form's inputs that it names. fields are the
// form's inputs in their order, each "key" when the error's key for it
// (apperr.Fields) is also its id in the page, or "key=id".
func (p *Page) formProblems(err error, fields ...string) {
	p.Error = formError(err)
	byKey := apperr.FieldsOf(err)
	for _, f := range fields {
		key, id, ok := strings.Cut(f, "=")
		if !ok {
			id = key
		}
		if msg := byKey[key]; msg != "" {
			p.Problems = append(p.Problems, Problem{Field: id, Message: msg})
		}
	}
}

// fieldProblem puts a problem with one input on the page.
func (p *Page) fieldProblem(field, msg string) {
	p.Error = msg
	p.Problems = []Problem{{Field: field, Message: msg}}
}

// Nav are the header's role-dependent links.
type Nav struct {
	Tickets bool   // a customer's support tickets
	Desk    string // the support desk's entry page, "" when not allowed
	Admin   bool   // administration and audit
	// Compliance: the live compliance report (MTL-7.2).
	Compliance bool
}

// page builds the common page data for a response.
func (s *Server) page(w http.ResponseWriter, r *http.Request, title string) Page {
	p := Page{Title: title, Path: r.URL.Path, Version: s.version, CSRFField: CSRFField}
	if info := infoFrom(r.Context()); info != nil {
		p.Nonce = info.nonce
	}
	p.CSRFToken = s.formToken(w, r)
	p.Flash = flashFrom(r)
	s.accountChrome(r, &p)
	return p
}

// pageTemplates are the pages, each parsed on a clone of the layout the
// first time it is rendered: a server keeps only the pages it has shown
// (about 1.8 MB of parse trees for all of them, which the collector's
// GOGC of 400 would multiply in the idle heap). Every page is parsed by
// the tests (TestEveryTemplateParses), so a broken template cannot wait
// for its first visitor in production. html/template escapes by context:
// values are never inserted as HTML.
type pageTemplates struct {
	base  *template.Template
	files map[string]string // page name -> file in templateFS
	mu    sync.Mutex
	pages map[string]*template.Template
}

// parseTemplates parses the layout and lists the pages.
func parseTemplates(static *staticFiles) (*pageTemplates, error) {
	funcs := template.FuncMap{
		"asset":      static.url,
		"reason":     reasonText,
		"method":     methodText,
		"duration":   humanDuration,
		"add":        func(a, b int) int { return a + b },
		"risk":       riskReasonsText,
		"hasPrefix":  strings.HasPrefix,
		"trimPrefix": strings.TrimPrefix,
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	pt := &pageTemplates{base: base, files: map[string]string{}, pages: map[string]*template.Template{}}
	for _, f := range files {
		pt.files[strings.TrimSuffix(path.Base(f), ".html")] = f
	}
	return pt, nil
}

// get returns page name, parsing it on first use.
func (pt *pageTemplates) get(name string) (*template.Template, error) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if t, ok := pt.pages[name]; ok {
		return t, nil
	}
	f, ok := pt.files[name]
	if !ok {
		return nil, fmt.Errorf("no template %q", name)
	}
	t, err := pt.base.Clone()
	if err != nil {
		return nil, err
	}
	if _, err := t.ParseFS(templateFS, f); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	pt.pages[name] = t
	return t, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes page name with status 200.
func (s *Server) render(w http.ResponseWriter, name string, data any) error {
	return s.renderStatus(w, http.StatusOK, name, data)
}

// renderStatus executes the template into a buffer first, so a template
// error never leaves half a page on the wire.
func (s *Server) renderStatus(w http.ResponseWriter, status int, name string, data any) error {
	t, err := s.templates.get(name)
	if err != nil {
		return err
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.ExecuteTemplate(buf, "layout.html", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// methodText names a sign-in method for people.
func methodText(m string) string {
	switch m {
	case "password":
		return "password"
	case "totp":
		return "authenticator app"
	case "recovery-code":
		return "recovery code"
	case "passkey":
		return "passkey"
	case "email-code":
		return "code sent by email"
	}
	return m
}

// reasonText says why a sign-in attempt failed, in words for its owner.
func reasonText(code string) string {
	switch code {
	case "bad_password":
		return "wrong password"
	case "bad_code":
		return "wrong second-factor code"
	case "locked":
		return "account locked"
	case "throttled":
		return "too many attempts"
	case "disabled":
		return "account disabled"
	case "pending":
		return "interrupted"
	case "risk_blocked":
		return "stopped because it looked unusual"
	}
	return code
}

// riskReasonsText says in plain words why a sign-in was scored as it was.
func riskReasonsText(reasons []string) string {
	var out []string
	for _, r := range reasons {
		if t, ok := detect.Explain[r]; ok {
			out = append(out, t)
		}
	}
	return strings.Join(out, "; ")
}
