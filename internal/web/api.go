package web

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/support"
)

// openAPIDoc is the API's description, kept by hand and checked against
// the route table by TestOpenAPIMatchesRoutes.
//
//go:embed openapi.json
var openAPIDoc []byte

// apiRoutes are the JSON API: what staff do in the browser, for scripts,
// behind the same permissions (a token holds a subset of its holder's).
// Only bearer tokens authenticate here (web/auth.go); every error is JSON
// (web/errors.go).
func (s *Server) apiRoutes() []route {
	rs := []route{
		{"GET /api/v1/openapi.json", access.Public, s.apiDoc},
	}
	if s.tokens == nil {
		return rs
	}
	rs = append(rs,
		route{"GET /api/v1/me", access.TokenOwn, s.apiMe},
		route{"GET /api/v1/users", access.UserRead, s.apiUsers},
		route{"GET /api/v1/users/{id}", access.UserRead, s.apiUser},
		route{"POST /api/v1/users/{id}/disable", access.UserManage, s.apiUserAction},
		route{"POST /api/v1/users/{id}/enable", access.UserManage, s.apiUserAction},
		route{"POST /api/v1/users/{id}/unlock", access.UserManage, s.apiUserAction},
		route{"POST /api/v1/users/{id}/end-sessions", access.UserManage, s.apiUserAction},
	)
	if s.support != nil {
		rs = append(rs,
			route{"GET /api/v1/tickets", access.TicketQueue, s.apiTickets},
			route{"GET /api/v1/tickets/{id}", access.TicketQueue, s.apiTicket},
			route{"POST /api/v1/tickets/{id}/replies", access.TicketQueue, s.apiReply},
			route{"POST /api/v1/tickets/{id}/status", access.TicketQueue, s.apiStatus},
			route{"POST /api/v1/tickets/{id}/assign", access.TicketQueue, s.apiAssign},
		)
	}
	rs = append(rs, s.apiIncidentRoutes()...)
	return rs
}

func (s *Server) apiDoc(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openAPIDoc)
	return err
}

// readJSON decodes a request body into v. Unknown fields are refused: a
// client cannot slip a field (a role, an owner) past a handler that does
// not expect it (CP-4.2, mass assignment).
func readJSON(r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return apperr.New(apperr.UnsupportedMedia, "Send a JSON body with Content-Type: application/json.")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.Wrap(apperr.TooLarge, "The request is too large.", err)
		}
		return apperr.Wrap(apperr.BadRequest, "The JSON body could not be read: "+jsonProblem(err), err)
	}
	if dec.More() {
		return apperr.New(apperr.BadRequest, "Send one JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.BadRequest, "Send one JSON object.")
	}
	return nil
}

// jsonProblem names what is wrong with a body without echoing it.
func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute):
		return "field " + strconv.Quote(ute.Field) + " has the wrong type."
	case errors.As(err, &se):
		return "malformed JSON."
	case err != nil && len(err.Error()) > len("json: unknown field ") && err.Error()[:len("json: unknown field ")] == "json: unknown field ":
		return "unknown field " + err.Error()[len("json: unknown field "):] + "."
	}
	return "malformed JSON."
}

type apiMe struct {
	AccountID string              `json:"account_id"`
	Role      access.Role         `json:"role"`
	TokenID   string              `json:"token_id"`
	Scopes    []access.Permission `json:"scopes"`
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	return writeJSON(w, http.StatusOK, apiMe{AccountID: p.AccountID, Role: p.Role, TokenID: p.TokenID, Scopes: p.Scopes})
}

type apiUserJSON struct {
	ID              string      `json:"id"`
	EmailMasked     string      `json:"email_masked"`
	Name            string      `json:"name"` // the holder's own contact name, "" if none: tells accounts apart
	Role            access.Role `json:"role"`
	Status          string      `json:"status"`
	CreatedAt       time.Time   `json:"created_at"`
	LastSignInAt    *time.Time  `json:"last_sign_in_at"`
	Locked          bool        `json:"locked"`
	MFA             bool        `json:"mfa"`
	ContractorUntil *time.Time  `json:"contractor_until"`
	TrainingDue     *time.Time  `json:"training_due"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) userJSON(a identity.AccountSummary) apiUserJSON {
	return apiUserJSON{ID: a.ID, EmailMasked: a.EmailMasked, Name: a.Name, Role: a.Role, Status: a.Status, CreatedAt: a.CreatedAt.UTC(),
		LastSignInAt: optTime(a.LastSignInAt), Locked: s.db.Now().Before(a.LockedUntil), MFA: a.HasSecondFactor(),
		ContractorUntil: optTime(a.ContractorUntil), TrainingDue: optTime(s.identity.TrainingDue(a.Account))}
}

type apiUserList struct {
	Users  []apiUserJSON `json:"users"`
	Total  int           `json:"total"`
	Offset int           `json:"offset"`
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	list, total, err := s.identity.SearchAccounts(r.Context(), access.PrincipalFrom(r.Context()),
		identity.AccountQuery{Email: q.Get("email"), Role: access.Role(q.Get("role")), Status: q.Get("status"), Limit: limit, Offset: max(offset, 0)})
	if err != nil {
		return err
	}
	out := apiUserList{Users: []apiUserJSON{}, Total: total, Offset: max(offset, 0)}
	for _, a := range list {
		out.Users = append(out.Users, s.userJSON(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiUser(w http.ResponseWriter, r *http.Request) error {
	a, err := s.identity.AdminAccount(r.Context(), access.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userJSON(a))
}

func (s *Server) apiUserAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	id := r.PathValue("id")
	req, err := s.accountAction(ctx, p, id, r.URL.Path[len("/api/v1/users/"+id+"/"):])
	if err != nil {
		return err
	}
	if req != "" {
		// Disabling an administrator waits for a second one (CP-4.2).
		return writeJSON(w, http.StatusAccepted, map[string]string{"status": "pending_approval", "approval_request": req})
	}
	a, err := s.identity.AdminAccount(ctx, p, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userJSON(a))
}

type apiAttachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

type apiMessage struct {
	ID          string          `json:"id"`
	AuthorID    string          `json:"author_id"`
	Staff       bool            `json:"staff"`
	Body        string          `json:"body"`
	CreatedAt   time.Time       `json:"created_at"`
	Attachments []apiAttachment `json:"attachments"`
}

type apiTicketJSON struct {
	ID         string       `json:"id"`
	CustomerID string       `json:"customer_id"`
	Subject    string       `json:"subject"`
	Status     string       `json:"status"`
	AssigneeID *string      `json:"assignee_id"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	ClosedAt   *time.Time   `json:"closed_at"`
	Messages   []apiMessage `json:"messages,omitempty"`
}

func ticketJSON(t support.Ticket) apiTicketJSON {
	out := apiTicketJSON{ID: t.ID, CustomerID: t.AccountID, Subject: t.Subject, Status: t.Status,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(), ClosedAt: optTime(t.ClosedAt)}
	if t.AssigneeID != "" {
		a := t.AssigneeID
		out.AssigneeID = &a
	}
	for _, m := range t.Messages {
		am := apiMessage{ID: m.ID, AuthorID: m.AuthorID, Staff: m.Staff, Body: m.Body, CreatedAt: m.CreatedAt.UTC(), Attachments: []apiAttachment{}}
		for _, a := range m.Attachments {
			am.Attachments = append(am.Attachments, apiAttachment{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size})
		}
		out.Messages = append(out.Messages, am)
	}
	return out
}

type apiTicketList struct {
	Tickets []apiTicketJSON `json:"tickets"`
}

func (s *Server) apiTickets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ts, err := s.support.Queue(r.Context(), access.PrincipalFrom(r.Context()),
		support.QueueFilter{Status: q.Get("status"), AssigneeID: q.Get("assignee"), Limit: limit})
	if err != nil {
		return err
	}
	out := apiTicketList{Tickets: []apiTicketJSON{}}
	for _, t := range ts {
		out.Tickets = append(out.Tickets, ticketJSON(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTicket(w http.ResponseWriter, r *http.Request) error {
	t, err := s.support.Get(r.Context(), access.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ticketJSON(t))
}

func (s *Server) apiReply(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Body string `json:"body"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	if _, err := s.support.Reply(r.Context(), p, r.PathValue("id"), in.Body, nil); err != nil {
		return err
	}
	t, err := s.support.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, ticketJSON(t))
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	if err := s.support.SetStatus(r.Context(), p, r.PathValue("id"), in.Status); err != nil {
		return err
	}
	t, err := s.support.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ticketJSON(t))
}

func (s *Server) apiAssign(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		AssigneeID string `json:"assignee_id"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	if err := s.support.Assign(r.Context(), p, r.PathValue("id"), in.AssigneeID); err != nil {
		return err
	}
	t, err := s.support.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ticketJSON(t))
}
