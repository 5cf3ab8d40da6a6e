package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/support"
)

// supportRoutes are the support desk: customers' tickets, the agents'
// queue and customer lookup, and the customer's view of who saw their
// data (CP-3.3, MTL-3.2.1, MTL-3.2.2). Object-level checks are in
// internal/support.
func (s *Server) supportRoutes() []route {
	if s.support == nil {
		return nil
	}
	return []route{
		{"GET /tickets", access.TicketOwn, s.ticketsPage},
		{"GET /tickets/new", access.TicketOwn, s.ticketNewForm},
		{"POST /tickets", access.TicketOwn, s.ticketOpen},
		{"GET /tickets/{id}", access.TicketOwn, s.ticketPage},
		{"POST /tickets/{id}/reply", access.TicketOwn, s.ticketReply},
		{"POST /tickets/{id}/close", access.TicketOwn, s.ticketClose},
		{"GET /tickets/{id}/attachments/{att}", access.TicketOwn, s.ticketAttachment},

		{"GET /desk", access.TicketQueue, s.deskPage},
		{"GET /desk/tickets/{id}", access.TicketQueue, s.ticketPage},
		{"POST /desk/tickets/{id}/reply", access.TicketQueue, s.ticketReply},
		{"POST /desk/tickets/{id}/status", access.TicketQueue, s.ticketStatus},
		{"POST /desk/tickets/{id}/assign", access.TicketQueue, s.ticketAssign},
		{"GET /desk/tickets/{id}/attachments/{att}", access.TicketQueue, s.ticketAttachment},
		{"GET /desk/customers", access.CustomerLookup, s.customerLookup},
		{"GET /desk/customers/{id}", access.CustomerLookup, s.customerPage},
		{"POST /desk/customers/{id}/reveal", access.CustomerReveal, s.customerReveal},
		{"POST /desk/customers/{id}/report", access.ReportForCustomer, s.customerReport},
		{"POST /desk/customers/{id}/rectify", access.CustomerReveal, s.customerRectify},

		{"GET /account/access-history", access.AccountSelf, s.accessHistory},
		{"GET /account/contact", access.AccountSelf, s.contactForm},
		{"POST /account/contact", access.AccountSelf, s.contactSave},
	}
}

// Plain-text rendering of what people write (CP-6.1): the text is never
// HTML; line breaks are kept and http(s) addresses become links that leak
// nothing (rel=noopener noreferrer nofollow). Built as typed data for
// html/template, which escapes every piece.

// textLine is one line of a message.
type textLine struct{ Parts []textPart }

// textPart is plain text, or a link when URL is set.
type textPart struct {
	Text string
	URL  string
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

func plainText(body string) []textLine {
	var out []textLine
	for _, line := range strings.Split(body, "\n") {
		var l textLine
		rest := line
		for {
			loc := linkPattern.FindStringIndex(rest)
			if loc == nil {
				break
			}
			raw := strings.TrimRight(rest[loc[0]:loc[1]], ".,;:!?)")
			if loc[0] > 0 {
				l.Parts = append(l.Parts, textPart{Text: rest[:loc[0]]})
			}
			if u, err := url.Parse(raw); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
				l.Parts = append(l.Parts, textPart{Text: raw, URL: u.String()})
			} else {
				l.Parts = append(l.Parts, textPart{Text: raw})
			}
			rest = rest[loc[0]+len(raw):]
		}
		if rest != "" {
			l.Parts = append(l.Parts, textPart{Text: rest})
		}
		out = append(out, l)
	}
	return out
}

// ticketRow is a ticket in a list, formatted once in Go: a list page
// renders fifty of them, and formatting in the template goes through
// reflection for every call.
type ticketRow struct {
	ID, Link, Subject string
	Badge             template.HTML // the status badge, from a fixed set
	Assigned          bool
	Updated           string
}

// statusBadges are the status badges, built once from constants: a row
// inserts one without escaping work.
var statusBadges = map[string]template.HTML{
	support.StatusOpen:    `<span class="status status-open">open</span>`,
	support.StatusPending: `<span class="status status-pending">pending</span>`,
	support.StatusClosed:  `<span class="status status-closed">closed</span>`,
}

func newTicketRow(t support.Ticket, base string) ticketRow {
	return ticketRow{ID: t.ID, Link: base + t.ID, Subject: t.Subject, Badge: statusBadges[t.Status], Assigned: t.AssigneeID != "",
		Updated: t.UpdatedAt.UTC().Format("2 Jan 2006 15:04 UTC")}
}

type ticketsPage struct {
	Page
	Tickets []ticketRow
}

func (s *Server) ticketsPage(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	ts, err := s.support.ListOwn(r.Context(), p)
	if err != nil {
		return err
	}
	page := ticketsPage{Page: s.page(w, r, "Support")}
	for _, t := range ts {
		page.Tickets = append(page.Tickets, newTicketRow(t, "/tickets/"))
	}
	return s.render(w, "tickets", page)
}

type ticketNewPage struct {
	Page
	Subject, Body string
	Extensions    string
}

func (s *Server) ticketNewForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "ticket_new", ticketNewPage{Page: s.page(w, r, "New ticket"), Extensions: support.AllowedExtensions()})
}

// parseUpload reads a multipart form with its attachments. Each file is
// read with a bound one byte past the limit, so that the service reports
// an oversize file by name.
func parseUpload(r *http.Request) ([]support.NewAttachment, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return nil, parseForm(r)
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apperr.Wrap(apperr.TooLarge, "The files are too large together: at most 15 MB in one message.", err)
		}
		return nil, apperr.Wrap(apperr.BadRequest, "The form could not be read.", err)
	}
	var out []support.NewAttachment
	for _, fh := range r.MultipartForm.File["attachments"] {
		if fh.Filename == "" && fh.Size == 0 {
			continue // the empty file input of a form sent without files
		}
		data, err := readPart(fh)
		if err != nil {
			return nil, err
		}
		out = append(out, support.NewAttachment{Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Data: data})
	}
	return out, nil
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, support.MaxAttachmentBytes+1))
}

func (s *Server) ticketOpen(w http.ResponseWriter, r *http.Request) error {
	atts, err := parseUpload(r)
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	t, err := s.support.Open(r.Context(), p, r.PostFormValue("subject"), r.PostFormValue("body"), atts)
	if err != nil {
		if msg := formError(err); msg != "" {
			page := ticketNewPage{Page: s.page(w, r, "New ticket"), Subject: r.PostFormValue("subject"), Body: r.PostFormValue("body"), Extensions: support.AllowedExtensions()}
			page.Error = msg
			return s.renderStatus(w, formStatus(err), "ticket_new", page)
		}
		return err
	}
	http.Redirect(w, r, "/tickets/"+t.ID+"?done=ticket-opened", http.StatusSeeOther)
	return nil
}

// messageView is a message on the ticket page.
type messageView struct {
	support.Message
	Author string
	Lines  []textLine
}

type ticketPage struct {
	Page
	Ticket   support.Ticket
	Messages []messageView
	Desk     bool   // the agent's view, with status and assignment
	Base     string // "/tickets/ID" or "/desk/tickets/ID"
	Mine     bool   // assigned to the viewer
	Draft    string
	Statuses []string
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderTicket(w, r, http.StatusOK, "", "")
}

func (s *Server) renderTicket(w http.ResponseWriter, r *http.Request, status int, errMsg, draft string) error {
	p := access.PrincipalFrom(r.Context())
	t, err := s.support.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	desk := strings.HasPrefix(r.URL.Path, "/desk/")
	page := ticketPage{Page: s.page(w, r, t.Subject), Ticket: t, Desk: desk, Draft: draft,
		Mine:     t.AssigneeID != "" && t.AssigneeID == p.AccountID,
		Statuses: []string{support.StatusOpen, support.StatusPending, support.StatusClosed}}
	page.Error = errMsg
	page.Base = "/tickets/" + t.ID
	if desk {
		page.Base = "/desk/tickets/" + t.ID
	}
	for _, m := range t.Messages {
		author := "You"
		switch {
		case m.Staff && !desk:
			author = "Support"
		case m.Staff && m.AuthorID == p.AccountID:
			author = "You (support)"
		case m.Staff:
			author = "Support"
		case desk:
			author = "Customer"
		}
		page.Messages = append(page.Messages, messageView{Message: m, Author: author, Lines: plainText(m.Body)})
	}
	return s.renderStatus(w, status, "ticket", page)
}

func (s *Server) ticketReply(w http.ResponseWriter, r *http.Request) error {
	atts, err := parseUpload(r)
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	id := r.PathValue("id")
	if _, err := s.support.Reply(r.Context(), p, id, r.PostFormValue("body"), atts); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderTicket(w, r, formStatus(err), msg, r.PostFormValue("body"))
		}
		return err
	}
	http.Redirect(w, r, ticketBase(r, id)+"?done=reply-sent", http.StatusSeeOther)
	return nil
}

func ticketBase(r *http.Request, id string) string {
	if strings.HasPrefix(r.URL.Path, "/desk/") {
		return "/desk/tickets/" + id
	}
	return "/tickets/" + id
}

func (s *Server) ticketClose(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.support.SetStatus(r.Context(), access.PrincipalFrom(r.Context()), id, support.StatusClosed); err != nil {
		return err
	}
	http.Redirect(w, r, "/tickets/"+id+"?done=ticket-closed", http.StatusSeeOther)
	return nil
}

func (s *Server) ticketStatus(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.support.SetStatus(r.Context(), access.PrincipalFrom(r.Context()), id, r.PostForm.Get("status")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderTicket(w, r, formStatus(err), msg, "")
		}
		return err
	}
	http.Redirect(w, r, "/desk/tickets/"+id+"?done=ticket-updated", http.StatusSeeOther)
	return nil
}

func (s *Server) ticketAssign(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	id := r.PathValue("id")
	to := ""
	if r.PostForm.Get("assignee") == "me" {
		to = p.AccountID
	}
	if err := s.support.Assign(r.Context(), p, id, to); err != nil {
		return err
	}
	http.Redirect(w, r, "/desk/tickets/"+id+"?done=ticket-updated", http.StatusSeeOther)
	return nil
}

// ticketAttachment serves a file as a download that no browser will
// render or run: the stored, content-checked type, nosniff, attachment
// disposition and a CSP that forbids everything.
func (s *Server) ticketAttachment(w http.ResponseWriter, r *http.Request) error {
	a, data, err := s.support.Attachment(r.Context(), access.PrincipalFrom(r.Context()), r.PathValue("id"), r.PathValue("att"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename*=UTF-8''%s", url.PathEscape(a.Name)))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(data)
	return err
}

type deskPage struct {
	Page
	Tickets  []ticketRow
	Status   string
	Assignee string
	Email    string
}

func (s *Server) deskPage(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	q := r.URL.Query()
	f := support.QueueFilter{Status: q.Get("status")}
	switch q.Get("assignee") {
	case "me":
		f.AssigneeID = p.AccountID
	case "none":
		f.AssigneeID = "none"
	}
	ts, err := s.support.Queue(r.Context(), p, f)
	if err != nil {
		return err
	}
	page := deskPage{Page: s.page(w, r, "Support desk"), Status: q.Get("status"), Assignee: q.Get("assignee")}
	for _, t := range ts {
		page.Tickets = append(page.Tickets, newTicketRow(t, "/desk/tickets/"))
	}
	return s.render(w, "desk", page)
}

type customerPage struct {
	Page
	Customer  support.CustomerView
	Fields    []customerField
	Tickets   []ticketRow
	CanReveal bool
	CanReport bool
	Grant     time.Duration
}

// customerField is one personal field as support sees it.
type customerField struct {
	Name     string // "email", "name", "phone"
	Label    string
	Masked   string
	Clear    string // set while a grant lasts
	Until    time.Time
	Revealed bool
}

func (s *Server) customerLookup(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	email := strings.TrimSpace(r.URL.Query().Get("email"))
	if email == "" {
		return s.render(w, "desk_lookup", deskPage{Page: s.page(w, r, "Find a customer")})
	}
	v, err := s.support.Lookup(r.Context(), p, email)
	if err != nil {
		if msg := formError(err); msg != "" {
			page := deskPage{Page: s.page(w, r, "Find a customer"), Email: email}
			page.Error = msg
			return s.renderStatus(w, http.StatusNotFound, "desk_lookup", page)
		}
		return err
	}
	http.Redirect(w, r, "/desk/customers/"+v.AccountID, http.StatusSeeOther)
	return nil
}

func (s *Server) customerPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderCustomer(w, r, http.StatusOK, "")
}

func (s *Server) renderCustomer(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	p := access.PrincipalFrom(r.Context())
	v, err := s.support.Customer(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	page := customerPage{Page: s.page(w, r, "Customer"), Customer: v,
		CanReveal: access.Allowed(p, access.CustomerReveal), CanReport: access.Allowed(p, access.ReportForCustomer),
		Grant: s.profile.Access.RevealGrant.Duration}
	page.Error = errMsg
	masked := map[string]string{support.FieldEmail: v.EmailMasked, support.FieldName: v.NameMasked, support.FieldPhone: v.PhoneMasked}
	labels := map[string]string{support.FieldEmail: "Email", support.FieldName: "Name", support.FieldPhone: "Phone"}
	for _, f := range support.Fields() {
		cf := customerField{Name: f, Label: labels[f], Masked: masked[f]}
		if c, ok := v.Revealed[f]; ok {
			cf.Clear, cf.Revealed = c, true
			for _, g := range v.Grants {
				if g.Field == f && g.ExpiresAt.After(cf.Until) {
					cf.Until = g.ExpiresAt
				}
			}
		}
		page.Fields = append(page.Fields, cf)
	}
	for _, t := range v.Tickets {
		page.Tickets = append(page.Tickets, newTicketRow(t, "/desk/tickets/"))
	}
	return s.renderStatus(w, status, "customer", page)
}

func (s *Server) customerReveal(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	id := r.PathValue("id")
	if _, err := s.support.Reveal(r.Context(), p, id, r.PostForm.Get("field"), r.PostForm.Get("reason")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderCustomer(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/desk/customers/"+id+"?done=revealed", http.StatusSeeOther)
	return nil
}

func (s *Server) customerReport(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	id := r.PathValue("id")
	if _, err := s.support.ReportForCustomer(r.Context(), p, id, r.PostForm.Get("note")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderCustomer(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/desk/customers/"+id+"?done=report-filed", http.StatusSeeOther)
	return nil
}

type accessHistoryPage struct {
	Page
	Grants []support.Grant
	Now    time.Time
}

func (s *Server) accessHistory(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	gs, err := s.support.AccessHistory(r.Context(), p, p.AccountID)
	if err != nil {
		return err
	}
	return s.render(w, "access_history", accessHistoryPage{Page: s.page(w, r, "Who saw your data"), Grants: gs, Now: s.db.Now()})
}

type contactPage struct {
	Page
	Name, Phone string
}

func (s *Server) contactForm(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	acct := accountFrom(ctx)
	name, err := s.identity.Name(ctx, acct.ID)
	if err != nil {
		return err
	}
	phone, err := s.identity.Phone(ctx, acct.ID)
	if err != nil {
		return err
	}
	return s.render(w, "contact", contactPage{Page: s.page(w, r, "Name and phone"), Name: name, Phone: phone})
}

func (s *Server) contactSave(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	acct := accountFrom(r.Context())
	name, phone := r.PostForm.Get("name"), r.PostForm.Get("phone")
	if err := s.identity.SetContact(r.Context(), acct.ID, name, phone); err != nil {
		if msg := formError(err); msg != "" {
			page := contactPage{Page: s.page(w, r, "Name and phone"), Name: name, Phone: phone}
			page.formProblems(err, "name", "phone")
			return s.renderStatus(w, formStatus(err), "contact", page)
		}
		return err
	}
	http.Redirect(w, r, "/account?done=contact-saved", http.StatusSeeOther)
	return nil
}

// customerRectify corrects a customer's name or phone on their behalf.
func (s *Server) customerRectify(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	f := r.PostForm
	if err := s.support.Rectify(r.Context(), access.PrincipalFrom(r.Context()), id, f.Get("field"), f.Get("value"), f.Get("reason")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderCustomer(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/desk/customers/"+id+"?done=rectified", http.StatusSeeOther)
	return nil
}
