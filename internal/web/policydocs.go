package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/markdown"
)

// policyDocRoutes are the policy documents, their versions and reviews
// (CP-11.2). The security team, administrators and auditors read them
// (GovernanceRead); administrators write (PolicyDocManage), and
// internal/governance checks again who may approve a version.
func (s *Server) policyDocRoutes() []route {
	if s.policyDocs == nil {
		return nil
	}
	return []route{
		{"GET /policies", access.GovernanceRead, s.policyDocsPage},
		{"GET /policies/new", access.PolicyDocManage, s.policyDocNewForm},
		{"POST /policies", access.PolicyDocManage, s.policyDocImport},
		{"GET /policies/{id}", access.GovernanceRead, s.policyDocPage},
		{"GET /policies/{id}/diff", access.GovernanceRead, s.policyDocDiff},
		{"POST /policies/{id}/versions", access.PolicyDocManage, s.policyDocVersion},
		{"POST /policies/{id}/versions/{n}/approve", access.PolicyDocManage, s.policyDocApprove},
		{"POST /policies/{id}/reviews", access.PolicyDocManage, s.policyDocReview},
		{"POST /policies/{id}/owner", access.PolicyDocManage, s.policyDocOwner},
	}
}

// The confirmations of these pages, kept here so that the file stands on
// its own; they join the fixed list of flashes.
func init() {
	maps.Copy(flashes, map[string]string{
		"policydoc-imported": "The document is imported as a draft. Another administrator must approve it before it is in force.",
		"policydoc-version":  "The new version is saved as a draft. Another administrator must approve it before it is in force.",
		"policydoc-approved": "The version is approved and in force; its review is due as shown.",
		"policydoc-reviewed": "The review is recorded.",
		"policydoc-owner":    "The owner is changed.",
	})
}

// policyDocRow is a document in the list with its review date in words.
type policyDocRow struct {
	governance.Document
	Due     string
	Overdue bool
}

type policyDocsPage struct {
	Page
	Docs      []policyDocRow
	CanManage bool
}

// dueWords says when a document's review is due, in words.
func dueWords(d governance.Document, now time.Time) string {
	switch {
	case d.InForce == 0:
		return "no version in force yet"
	case d.Overdue(now):
		return "overdue by " + span(now.Sub(d.ReviewDue)) + " (due " + d.ReviewDue.UTC().Format("2 Jan 2006") + ")"
	}
	return "due in " + span(d.ReviewDue.Sub(now)) + " (" + d.ReviewDue.UTC().Format("2 Jan 2006") + ")"
}

// span is a long duration in round words: hours, days, or months.
func span(d time.Duration) string {
	day := 24 * time.Hour
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d < day:
		return plural(max(1, int(d.Hours())), "hour")
	case d < 60*day:
		return plural(int(d/day), "day")
	}
	return plural(int(d/(30*day)), "month")
}

// policyDocsPage lists the policy documents with their owner, version in
// force, approval and review date.
//
// Enforces CP-11.2: every document's owner, version in force and review
// date, or that it is overdue or asked for by a significant change, on
// one page readable by auditors.
func (s *Server) policyDocsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	docs, err := s.policyDocs.Documents(ctx)
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := policyDocsPage{Page: s.page(w, r, "Policy documents"), CanManage: access.Allowed(access.PrincipalFrom(ctx), access.PolicyDocManage)}
	for _, d := range docs {
		page.Docs = append(page.Docs, policyDocRow{Document: d, Due: dueWords(d, now), Overdue: d.Overdue(now)})
	}
	return s.render(w, "policy_docs", page)
}

type policyDocNewPage struct {
	Page
	Staff []governance.StaffMember
	Form  formValues
	Max   int // KiB
}

func (s *Server) policyDocNewForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderPolicyDocNew(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderPolicyDocNew(w http.ResponseWriter, r *http.Request, status int, formErr error, form formValues) error {
	ctx := r.Context()
	staff, err := s.policyDocs.Staff(ctx)
	if err != nil {
		return err
	}
	page := policyDocNewPage{Page: s.page(w, r, "Import a policy document"), Staff: staff, Form: form, Max: governance.MaxBodyBytes >> 10}
	if page.Form == nil {
		page.Form = formValues{"owner": {access.PrincipalFrom(ctx).AccountID}}
	}
	if formErr != nil {
		page.formProblems(formErr, "title", "id", "owner", "file", "body", "summary")
	}
	return s.renderStatus(w, status, "policy_doc_new", page)
}

// policyDocImport imports a document from an uploaded Markdown file or
// pasted text.
func (s *Server) policyDocImport(w http.ResponseWriter, r *http.Request) error {
	body, uploaded, err := policyDocUpload(r)
	if err != nil {
		if apperr.CodeOf(err) != apperr.Invalid {
			return err
		}
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	if err == nil {
		if !uploaded {
			body = f.Get("body")
		} else if strings.TrimSpace(f.Get("body")) != "" {
			err = apperr.InField("body", apperr.New(apperr.Invalid, "Upload a file or paste the text, not both."))
		}
	}
	var doc governance.Document
	if err == nil {
		doc, err = s.policyDocs.Import(ctx, governance.NewDocument{ID: f.Get("id"), Title: f.Get("title"), Owner: f.Get("owner"), Body: body,
			Summary: f.Get("summary")}, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" {
			return s.renderPolicyDocNew(w, r, formStatus(err), err, f)
		}
		return err
	}
	http.Redirect(w, r, "/policies/"+doc.ID+"?done=policydoc-imported", http.StatusSeeOther)
	return nil
}

// policyDocUpload reads the import form, multipart or not, and the
// uploaded file's text when one was sent.
func policyDocUpload(r *http.Request) (string, bool, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return "", false, parseForm(r)
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", false, apperr.Wrap(apperr.TooLarge, "The request is too large.", err)
		}
		return "", false, apperr.Wrap(apperr.BadRequest, "The form could not be read.", err)
	}
	r.PostForm = url.Values(r.MultipartForm.Value)
	fhs := r.MultipartForm.File["file"]
	if len(fhs) == 0 || (fhs[0].Filename == "" && fhs[0].Size == 0) {
		return "", false, nil // the empty file input of a form sent without a file
	}
	f, err := fhs[0].Open()
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, governance.MaxBodyBytes+1))
	if err != nil {
		return "", false, err
	}
	body, err := governance.UploadedBody(fhs[0].Filename, data)
	return body, true, err
}

type policyDocPage struct {
	Page
	Doc      governance.Document
	Due      string
	Overdue  bool
	Versions []governance.Version
	Reviews  []governance.Review
	// Shown is the version on the page (?version=N, else the one in
	// force, else the newest), rendered in Body.
	Shown     governance.Version
	Body      template.HTML
	DiffFrom  int
	DiffTo    int
	CanManage bool
	Me        string
	Staff     []governance.StaffMember
	Outcomes  []string
	Today     string
	// Form holds what was sent when a form is shown again with an error.
	Form formValues
}

// policyDocPage shows a document: its version in force rendered, its
// versions, reviews and, to administrators, the forms to write a
// version, approve a draft, record a review and change the owner.
//
// Enforces CP-11.2: the version in force, who approved it, its owner,
// review date and reviews are on one page readable by auditors.
func (s *Server) policyDocPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderPolicyDoc(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderPolicyDoc(w http.ResponseWriter, r *http.Request, status int, formErr error, form formValues) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	id := r.PathValue("id")
	doc, err := s.policyDocs.Document(ctx, id)
	if err != nil {
		return err
	}
	versions, err := s.policyDocs.Versions(ctx, id)
	if err != nil {
		return err
	}
	reviews, err := s.policyDocs.Reviews(ctx, id)
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := policyDocPage{Page: s.page(w, r, doc.Title), Doc: doc, Due: dueWords(doc, now), Overdue: doc.Overdue(now), Versions: versions, Reviews: reviews,
		CanManage: access.Allowed(p, access.PolicyDocManage), Me: p.AccountID, Outcomes: governance.Outcomes, Today: now.UTC().Format("2006-01-02"), Form: form}
	page.DiffFrom, page.DiffTo = governance.DefaultDiff(doc)
	shown := doc.InForce
	if shown == 0 {
		shown = doc.Latest
	}
	if v := r.URL.Query().Get("version"); v != "" {
		if shown, err = strconv.Atoi(v); err != nil {
			return governance.ErrNoVersion
		}
	}
	for _, v := range versions {
		if v.Number == shown {
			page.Shown = v
		}
	}
	if page.Shown.Number == 0 {
		return governance.ErrNoVersion
	}
	page.Body = markdown.Render(page.Shown.Body)
	if page.CanManage {
		if page.Staff, err = s.policyDocs.Staff(ctx); err != nil {
			return err
		}
		if page.Form == nil {
			page.Form = formValues{"owner": {doc.Owner}, "reviewed_at": {page.Today}}
			if len(versions) > 0 {
				page.Form["body"] = []string{versions[0].Body}
				page.Form["version"] = []string{strconv.Itoa(versions[0].Number)}
			}
		}
	}
	if formErr != nil {
		page.formProblems(formErr, "body", "summary", "outcome", "version", "reviewed_at", "notes", "owner")
	}
	return s.renderStatus(w, status, "policy_doc", page)
}

// policyDocFormError shows a form's error on the document's page, or
// returns it to the one renderer when it is not about the form.
func (s *Server) policyDocFormError(w http.ResponseWriter, r *http.Request, err error, form formValues) error {
	if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
		return s.renderPolicyDoc(w, r, formStatus(err), err, form)
	}
	return err
}

// policyDocVersion saves an edit as the next version, a draft.
func (s *Server) policyDocVersion(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	v, err := s.policyDocs.NewVersion(ctx, r.PathValue("id"), f.Get("body"), f.Get("summary"), access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return s.policyDocFormError(w, r, err, f)
	}
	http.Redirect(w, r, fmt.Sprintf("/policies/%s?version=%d&done=policydoc-version", url.PathEscape(v.DocumentID), v.Number), http.StatusSeeOther)
	return nil
}

// policyDocApprove approves a draft; internal/governance refuses its
// author (four eyes) and anyone but an administrator.
func (s *Server) policyDocApprove(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		return governance.ErrNoVersion
	}
	id := r.PathValue("id")
	if _, err := s.policyDocs.Approve(ctx, id, n, access.PrincipalFrom(ctx).AccountID); err != nil {
		return s.policyDocFormError(w, r, err, nil)
	}
	http.Redirect(w, r, "/policies/"+url.PathEscape(id)+"?done=policydoc-approved", http.StatusSeeOther)
	return nil
}

// policyDocReview records a review of the version in force.
func (s *Server) policyDocReview(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	in := governance.ReviewInput{Outcome: f.Get("outcome"), Notes: f.Get("notes")}
	var err error
	if in.Outcome == governance.OutcomeChanged {
		if in.Version, err = strconv.Atoi(f.Get("version")); err != nil {
			err = apperr.InField("version", apperr.New(apperr.Invalid, "Name the version the review led to."))
		}
	}
	if err == nil && f.Get("reviewed_at") != s.db.Now().UTC().Format("2006-01-02") {
		// A review held on an earlier day counts from that day; one held
		// today from now.
		if in.ReviewedAt, err = parseDate(f.Get("reviewed_at")); err != nil {
			err = apperr.InField("reviewed_at", err)
		}
	}
	if err == nil {
		_, err = s.policyDocs.RecordReview(ctx, r.PathValue("id"), in, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		return s.policyDocFormError(w, r, err, f)
	}
	http.Redirect(w, r, "/policies/"+url.PathEscape(r.PathValue("id"))+"?done=policydoc-reviewed", http.StatusSeeOther)
	return nil
}

// policyDocOwner changes the document's owner.
func (s *Server) policyDocOwner(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	if err := s.policyDocs.ChangeOwner(ctx, r.PathValue("id"), f.Get("owner"), access.PrincipalFrom(ctx).AccountID); err != nil {
		return s.policyDocFormError(w, r, err, f)
	}
	http.Redirect(w, r, "/policies/"+url.PathEscape(r.PathValue("id"))+"?done=policydoc-owner", http.StatusSeeOther)
	return nil
}

type policyDocDiffPage struct {
	Page
	Doc      governance.Document
	Versions []governance.Version
	From, To int
	Lines    []governance.DiffLine
}

// policyDocDiff shows what changed between two versions, line by line
// (?from=N&to=M; by default the version in force and the draft after
// it, or the version before it).
//
// Enforces CP-11.2: each version's change is visible to its approver and
// to auditors.
func (s *Server) policyDocDiff(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	doc, err := s.policyDocs.Document(ctx, id)
	if err != nil {
		return err
	}
	versions, err := s.policyDocs.Versions(ctx, id)
	if err != nil {
		return err
	}
	page := policyDocDiffPage{Page: s.page(w, r, "Changes to "+doc.Title), Doc: doc, Versions: versions}
	page.From, page.To = governance.DefaultDiff(doc)
	q := r.URL.Query()
	for _, p := range []struct {
		key string
		n   *int
	}{{"from", &page.From}, {"to", &page.To}} {
		if v := q.Get(p.key); v != "" {
			if *p.n, err = strconv.Atoi(v); err != nil {
				return governance.ErrNoVersion
			}
		}
	}
	if page.From != 0 || page.To != 0 {
		if page.Lines, err = s.policyDocs.Diff(ctx, id, page.From, page.To); err != nil {
			return err
		}
	}
	return s.render(w, "policy_doc_diff", page)
}
