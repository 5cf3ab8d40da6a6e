package web

import (
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/thirdparty"
)

// vendorRoutes are the register of third parties (CP-10.1, CP-10.2,
// MTL-6.1, MTL-6.2, MTL-1.2). Security, administrators and auditors
// (GovernanceRead) read it; the security team (VendorManage) writes, and
// internal/thirdparty checks again who may approve. A vendor answers its
// assessment through a single-use link, without an account.
func (s *Server) vendorRoutes() []route {
	if s.vendors == nil {
		return nil
	}
	return []route{
		{"GET /vendors", access.GovernanceRead, s.vendorsPage},
		{"GET /vendors/new", access.VendorManage, s.vendorNewForm},
		{"POST /vendors", access.VendorManage, s.vendorRegister},
		{"GET /vendors/{id}", access.GovernanceRead, s.vendorPage},
		{"GET /vendors/{id}/edit", access.VendorManage, s.vendorEditForm},
		{"POST /vendors/{id}/edit", access.VendorManage, s.vendorEdit},
		{"POST /vendors/{id}/approve", access.VendorManage, s.vendorApprove},
		{"POST /vendors/{id}/retire", access.VendorManage, s.vendorRetire},
		{"POST /vendors/{id}/check", access.VendorManage, s.vendorCheckNow},
		{"POST /vendors/{id}/assessments", access.VendorManage, s.vendorAssessmentStart},
		{"GET /vendors/{id}/assessments/{aid}", access.GovernanceRead, s.vendorAssessmentPage},
		{"POST /vendors/{id}/assessments/{aid}/answers", access.VendorManage, s.vendorAssessmentAnswer},
		{"POST /vendors/{id}/assessments/{aid}/link", access.VendorManage, s.vendorAssessmentLink},
		{"POST /vendors/{id}/assessments/{aid}/approve", access.VendorManage, s.vendorAssessmentApprove},
		{"POST /vendors/{id}/agreements", access.VendorManage, s.vendorAgreementAdd},
		{"GET /vendors/{id}/agreements/{gid}", access.GovernanceRead, s.vendorAgreementFile},
		{"POST /vendors/{id}/people", access.VendorManage, s.vendorPersonLink},
		{"POST /vendors/{id}/people/{account}/remove", access.VendorManage, s.vendorPersonUnlink},
		// The vendor's own link (MTL-6.1): the token is the credential.
		{"GET /vendor-assessment/{token}", access.Public, s.vendorLinkForm},
		{"POST /vendor-assessment/{token}", access.Public, s.vendorLinkAnswer},
	}
}

func init() {
	maps.Copy(flashes, map[string]string{
		"vendor-registered":   "The vendor is registered as proposed. Assess it, then approve it.",
		"vendor-updated":      "The vendor's details are saved.",
		"vendor-approved":     "The vendor is approved.",
		"vendor-retired":      "The vendor is retired: its endpoints are no longer checked.",
		"vendor-checked":      "The vendor's endpoints were checked just now; the results are below.",
		"assessment-started":  "The assessment is open: answer it here, or send the vendor a link.",
		"assessment-answered": "The answers are saved and scored. Another member of the security team approves the assessment.",
		"assessment-approved": "The assessment is approved; the vendor's next review date is set.",
		"agreement-added":     "The agreement is kept with its file.",
		"person-linked":       "The account is linked to the vendor.",
		"person-unlinked":     "The account is no longer linked to the vendor.",
	})
}

type vendorRow struct {
	thirdparty.Vendor
	AgreementExpiry time.Time
	AgreementLapsed bool
	LastCheck       string
	ReviewOverdue   bool
}

type vendorsPage struct {
	Page
	Vendors   []vendorRow
	CanManage bool
}

// vendorsPage is the register: each vendor's tier, status, next review,
// agreement expiry and last check.
//
// Enforces CP-10.1: the register and each vendor's tier are on one page,
// readable by auditors.
func (s *Server) vendorsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	all, err := s.vendors.List(ctx)
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := vendorsPage{Page: s.page(w, r, "Vendors"), CanManage: access.Allowed(access.PrincipalFrom(ctx), access.VendorManage)}
	for _, v := range all {
		row := vendorRow{Vendor: v, ReviewOverdue: v.Status != thirdparty.StatusRetired && !v.ReviewDue.IsZero() && now.After(v.ReviewDue)}
		ags, err := s.vendors.Agreements(ctx, v.ID)
		if err != nil {
			return err
		}
		row.AgreementExpiry = thirdparty.NextAgreementExpiry(ags, now)
		row.AgreementLapsed = !row.AgreementExpiry.IsZero() && !now.Before(row.AgreementExpiry)
		if row.LastCheck, err = s.vendors.LastStatus(ctx, v); err != nil {
			return err
		}
		page.Vendors = append(page.Vendors, row)
	}
	return s.render(w, "vendors", page)
}

type vendorFormPage struct {
	Page
	// ID is the vendor being edited ("" for a new one).
	ID         string
	Categories []string
	Staff      []thirdparty.StaffMember
	Form       thirdparty.NewVendor
	Endpoints  string
}

func (s *Server) vendorNewForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderVendorForm(w, r, http.StatusOK, nil, "", thirdparty.NewVendor{Owner: access.PrincipalFrom(r.Context()).AccountID})
}

func (s *Server) renderVendorForm(w http.ResponseWriter, r *http.Request, status int, formErr error, id string, f thirdparty.NewVendor) error {
	staff, err := s.vendors.Staff(r.Context())
	if err != nil {
		return err
	}
	title := "Register a vendor"
	if id != "" {
		title = "Edit " + f.Name
	}
	page := vendorFormPage{Page: s.page(w, r, title), ID: id, Categories: s.vendors.DataCategories(), Staff: staff, Form: f,
		Endpoints: strings.Join(f.Endpoints, "\n")}
	if formErr != nil {
		page.formProblems(formErr, "name", "service", "categories", "endpoints", "owner")
	}
	return s.renderStatus(w, status, "vendor_new", page)
}

func (s *Server) vendorRegister(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := thirdparty.NewVendor{Name: r.PostForm.Get("name"), Service: r.PostForm.Get("service"), DataCategories: r.PostForm["categories"],
		Endpoints: strings.Fields(r.PostForm.Get("endpoints")), Owner: r.PostForm.Get("owner")}
	v, err := s.vendors.Register(ctx, f, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if formError(err) != "" {
			return s.renderVendorForm(w, r, formStatus(err), err, "", f)
		}
		return err
	}
	http.Redirect(w, r, "/vendors/"+v.ID+"?done=vendor-registered", http.StatusSeeOther)
	return nil
}

func (s *Server) vendorEditForm(w http.ResponseWriter, r *http.Request) error {
	v, err := s.vendors.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.renderVendorForm(w, r, http.StatusOK, nil, v.ID,
		thirdparty.NewVendor{Name: v.Name, Service: v.Service, DataCategories: v.DataCategories, Endpoints: v.Endpoints, Owner: v.Owner})
}

// vendorEdit saves a vendor's details; its tier follows the categories.
func (s *Server) vendorEdit(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	f := thirdparty.NewVendor{Name: r.PostForm.Get("name"), Service: r.PostForm.Get("service"), DataCategories: r.PostForm["categories"],
		Endpoints: strings.Fields(r.PostForm.Get("endpoints")), Owner: r.PostForm.Get("owner")}
	if err := s.vendors.Update(ctx, id, f, access.PrincipalFrom(ctx).AccountID); err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderVendorForm(w, r, formStatus(err), err, id, f)
		}
		return err
	}
	http.Redirect(w, r, "/vendors/"+id+"?done=vendor-updated", http.StatusSeeOther)
	return nil
}

type vendorPage struct {
	Page
	Vendor          thirdparty.Vendor
	ReviewOverdue   bool
	Checks          []thirdparty.CheckRecord
	Assessments     []thirdparty.Assessment
	Agreements      []thirdparty.Agreement
	People          []thirdparty.Person
	Staff           []thirdparty.StaffMember
	Clauses         []struct{ ID, Name string }
	CanManage       bool
	Now             time.Time
	Today           string
	AgreementKind   string
	MaxAgreementMiB int
}

// vendorPage is one vendor: its details, endpoints with their check
// history, assessments, agreements and people.
func (s *Server) vendorPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderVendor(w, r, http.StatusOK, nil)
}

func (s *Server) renderVendor(w http.ResponseWriter, r *http.Request, status int, formErr error) error {
	ctx := r.Context()
	v, err := s.vendors.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := vendorPage{Page: s.page(w, r, v.Name), Vendor: v, CanManage: access.Allowed(access.PrincipalFrom(ctx), access.VendorManage),
		Clauses: thirdparty.SecurityClauses, Now: now, Today: now.Format(time.DateOnly), MaxAgreementMiB: thirdparty.MaxAgreementBytes >> 20,
		ReviewOverdue: v.Status != thirdparty.StatusRetired && !v.ReviewDue.IsZero() && now.After(v.ReviewDue)}
	if page.Checks, err = s.vendors.Checks(ctx, v.ID, 50); err != nil {
		return err
	}
	if page.Assessments, err = s.vendors.Assessments(ctx, v.ID); err != nil {
		return err
	}
	if page.Agreements, err = s.vendors.Agreements(ctx, v.ID); err != nil {
		return err
	}
	if page.People, err = s.vendors.People(ctx, v.ID); err != nil {
		return err
	}
	if page.CanManage {
		if page.Staff, err = s.vendors.Staff(ctx); err != nil {
			return err
		}
	}
	if formErr != nil {
		page.formProblems(formErr, "kind", "file", "clauses", "expires_on", "account")
	}
	return s.renderStatus(w, status, "vendor", page)
}

// vendorAction runs a POST that changes a vendor and redirects to its
// page, or shows the page again with the problem.
func (s *Server) vendorAction(w http.ResponseWriter, r *http.Request, done string, fn func(id, by string) error) error {
	if err := parseForm(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := fn(id, access.PrincipalFrom(r.Context()).AccountID); err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderVendor(w, r, formStatus(err), err)
		}
		return err
	}
	http.Redirect(w, r, "/vendors/"+id+"?done="+done, http.StatusSeeOther)
	return nil
}

func (s *Server) vendorApprove(w http.ResponseWriter, r *http.Request) error {
	return s.vendorAction(w, r, "vendor-approved", func(id, by string) error { return s.vendors.Approve(r.Context(), id, by) })
}

func (s *Server) vendorRetire(w http.ResponseWriter, r *http.Request) error {
	return s.vendorAction(w, r, "vendor-retired", func(id, by string) error { return s.vendors.Retire(r.Context(), id, by) })
}

// vendorCheckNow checks the vendor's endpoints at once (CP-10.2).
func (s *Server) vendorCheckNow(w http.ResponseWriter, r *http.Request) error {
	return s.vendorAction(w, r, "vendor-checked", func(id, by string) error {
		_, err := s.vendors.CheckVendor(r.Context(), id)
		return err
	})
}

func (s *Server) vendorAssessmentStart(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.vendors.StartAssessment(ctx, r.PathValue("id"), access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderVendor(w, r, formStatus(err), err)
		}
		return err
	}
	http.Redirect(w, r, "/vendors/"+a.VendorID+"/assessments/"+a.ID+"?done=assessment-started", http.StatusSeeOther)
	return nil
}

type questionRow struct {
	thirdparty.Question
	Answer string
	Good   bool
}

type vendorAssessmentPage struct {
	Page
	Vendor     thirdparty.Vendor
	Assessment thirdparty.Assessment
	Questions  []questionRow
	Of         int
	CanManage  bool
	Me         string
	// Link is the vendor's link, shown once, just after it was issued.
	Link        string
	LinkExpires time.Time
	LinkExpired bool
}

func (s *Server) vendorAssessmentPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAssessment(w, r, http.StatusOK, nil, nil)
}

// assessmentOf returns the vendor and its assessment named in the path.
func (s *Server) assessmentOf(r *http.Request) (thirdparty.Vendor, thirdparty.Assessment, error) {
	ctx := r.Context()
	v, err := s.vendors.Get(ctx, r.PathValue("id"))
	if err != nil {
		return thirdparty.Vendor{}, thirdparty.Assessment{}, err
	}
	a, err := s.vendors.Assessment(ctx, r.PathValue("aid"))
	if err != nil || a.VendorID != v.ID {
		return thirdparty.Vendor{}, thirdparty.Assessment{}, thirdparty.ErrNotFound
	}
	return v, a, nil
}

func (s *Server) renderAssessment(w http.ResponseWriter, r *http.Request, status int, formErr error, answers map[string]string) error {
	v, a, err := s.assessmentOf(r)
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	page := vendorAssessmentPage{Page: s.page(w, r, "Assessment of "+v.Name), Vendor: v, Assessment: a, CanManage: access.Allowed(p, access.VendorManage),
		Me: p.AccountID, LinkExpired: a.HasLink() && !s.db.Now().Before(a.LinkExpiresAt)}
	if answers == nil {
		answers = a.Answers
	}
	page.Questions, page.Of = questionRows(answers)
	if formErr != nil {
		var ids []string
		for _, q := range thirdparty.Questions().Questions {
			ids = append(ids, q.ID)
		}
		page.formProblems(formErr, ids...)
	}
	return s.renderStatus(w, status, "vendor_assessment", page)
}

func questionRows(answers map[string]string) ([]questionRow, int) {
	var out []questionRow
	of := 0
	for _, q := range thirdparty.Questions().Questions {
		out = append(out, questionRow{Question: q, Answer: answers[q.ID], Good: q.GoodAnswer(answers[q.ID])})
		if q.Scored() {
			of++
		}
	}
	return out, of
}

func answersFrom(r *http.Request) map[string]string {
	out := map[string]string{}
	for _, q := range thirdparty.Questions().Questions {
		out[q.ID] = r.PostForm.Get("q-" + q.ID)
	}
	return out
}

func (s *Server) vendorAssessmentAnswer(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	v, a, err := s.assessmentOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	answers := answersFrom(r)
	if err := s.vendors.AnswerAssessment(ctx, a.ID, answers, access.PrincipalFrom(ctx).AccountID); err != nil {
		if formError(err) != "" {
			return s.renderAssessment(w, r, formStatus(err), err, answers)
		}
		return err
	}
	http.Redirect(w, r, "/vendors/"+v.ID+"/assessments/"+a.ID+"?done=assessment-answered", http.StatusSeeOther)
	return nil
}

// vendorAssessmentLink issues the vendor's link and shows it once: it is
// not kept, only its hash.
func (s *Server) vendorAssessmentLink(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	_, a, err := s.assessmentOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	token, expires, err := s.vendors.IssueLink(ctx, a.ID, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if formError(err) != "" {
			return s.renderAssessment(w, r, formStatus(err), err, nil)
		}
		return err
	}
	v, a, err := s.assessmentOf(r)
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(ctx)
	page := vendorAssessmentPage{Page: s.page(w, r, "Assessment of "+v.Name), Vendor: v, Assessment: a, CanManage: true, Me: p.AccountID,
		Link: s.origin(r) + "/vendor-assessment/" + token, LinkExpires: expires}
	page.Questions, page.Of = questionRows(a.Answers)
	return s.render(w, "vendor_assessment", page)
}

// origin is the origin the request reached Portico at, for the link
// shown to the member of staff who asked for it.
func (s *Server) origin(r *http.Request) string { return "https://" + r.Host }

func (s *Server) vendorAssessmentApprove(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	v, a, err := s.assessmentOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.vendors.ApproveAssessment(ctx, a.ID, access.PrincipalFrom(ctx).AccountID); err != nil {
		if formError(err) != "" {
			return s.renderAssessment(w, r, formStatus(err), err, nil)
		}
		return err
	}
	http.Redirect(w, r, "/vendors/"+v.ID+"?done=assessment-approved", http.StatusSeeOther)
	return nil
}

// vendorAgreementAdd takes a contract or DPA with its file (multipart).
func (s *Server) vendorAgreementAdd(w http.ResponseWriter, r *http.Request) error {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := parseForm(r); err != nil {
			return err
		}
		return s.renderVendor(w, r, http.StatusUnprocessableEntity, apperr.InField("file", apperr.New(apperr.Invalid, "Attach the agreement's file.")))
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.Wrap(apperr.TooLarge, "The file is too large: at most 5 MB.", err)
		}
		return apperr.Wrap(apperr.BadRequest, "The form could not be read.", err)
	}
	n := thirdparty.NewAgreement{Kind: r.PostForm.Get("kind"), Clauses: r.PostForm["clauses"]}
	n.StartsOn, _ = time.Parse(time.DateOnly, r.PostForm.Get("starts_on"))
	n.ExpiresOn, _ = time.Parse(time.DateOnly, r.PostForm.Get("expires_on"))
	if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 {
		f, err := fhs[0].Open()
		if err != nil {
			return err
		}
		n.Body, err = io.ReadAll(io.LimitReader(f, thirdparty.MaxAgreementBytes+1))
		f.Close()
		if err != nil {
			return err
		}
		n.Filename = fhs[0].Filename
	}
	return s.vendorAction(w, r, "agreement-added", func(id, by string) error {
		_, err := s.vendors.AddAgreement(r.Context(), id, n, by)
		return err
	})
}

// vendorAgreementFile downloads an agreement's file, as an attachment;
// the read is audited.
func (s *Server) vendorAgreementFile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, body, err := s.vendors.AgreementFile(ctx, r.PathValue("id"), r.PathValue("gid"), access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	_, err = w.Write(body)
	return err
}

func (s *Server) vendorPersonLink(w http.ResponseWriter, r *http.Request) error {
	return s.vendorAction(w, r, "person-linked", func(id, by string) error {
		return s.vendors.LinkPerson(r.Context(), id, r.PostForm.Get("account"), by)
	})
}

func (s *Server) vendorPersonUnlink(w http.ResponseWriter, r *http.Request) error {
	return s.vendorAction(w, r, "person-unlinked", func(id, by string) error {
		return s.vendors.UnlinkPerson(r.Context(), id, r.PathValue("account"), by)
	})
}

type vendorLinkPage struct {
	Page
	Token      string
	VendorName string
	Expires    time.Time
	Sections   []string
	Questions  []questionRow
	Done       bool
	// Refused says why the link cannot be used ("" when it can).
	Refused string
}

// vendorLinkForm shows the vendor the questions, or why the link cannot
// be used (expired, used, unknown) with the status to match.
func (s *Server) vendorLinkForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderVendorLink(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderVendorLink(w http.ResponseWriter, r *http.Request, status int, formErr error, answers map[string]string) error {
	token := r.PathValue("token")
	page := vendorLinkPage{Page: s.page(w, r, "Security assessment"), Token: token}
	la, err := s.vendors.ByLink(r.Context(), token)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Internal || formError(err) == "" {
			return err
		}
		page.Refused = apperr.MessageOf(err)
		return s.renderStatus(w, linkStatus(err), "vendor_link", page)
	}
	page.VendorName, page.Expires = la.VendorName, la.Expires
	page.Questions, _ = questionRows(answers)
	if formErr != nil {
		var ids []string
		for _, q := range la.Questions.Questions {
			ids = append(ids, q.ID)
		}
		page.formProblems(formErr, ids...)
	}
	return s.renderStatus(w, status, "vendor_link", page)
}

func linkStatus(err error) int {
	switch {
	case errors.Is(err, thirdparty.ErrLinkExpired):
		return http.StatusGone
	case errors.Is(err, thirdparty.ErrLinkUsed):
		return http.StatusConflict
	}
	return http.StatusNotFound
}

// vendorLinkAnswer takes the vendor's answers, once.
func (s *Server) vendorLinkAnswer(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	answers := answersFrom(r)
	if err := s.vendors.AnswerByLink(r.Context(), r.PathValue("token"), answers); err != nil {
		switch {
		case errors.Is(err, thirdparty.ErrLinkExpired), errors.Is(err, thirdparty.ErrLinkUsed), errors.Is(err, thirdparty.ErrLinkInvalid):
			page := vendorLinkPage{Page: s.page(w, r, "Security assessment"), Refused: apperr.MessageOf(err)}
			return s.renderStatus(w, linkStatus(err), "vendor_link", page)
		case formError(err) != "":
			return s.renderVendorLink(w, r, formStatus(err), err, answers)
		}
		return err
	}
	page := vendorLinkPage{Page: s.page(w, r, "Security assessment"), Done: true}
	return s.render(w, "vendor_link", page)
}
