package web

import (
	"net/http"
	"time"

	"github.com/portico/portico/internal/retention"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/privacy"
)

// privacyRoutes are the customer's data rights and the administrators'
// record of processing and requests (CP-11.1, MTL-2.1.1, MTL-7.1).
func (s *Server) privacyRoutes() []route {
	if s.rights == nil {
		return nil
	}
	return []route{
		{"GET /account/data", access.AccountSelf, s.dataPage},
		{"POST /account/data/export", access.AccountData, s.dataExport},
		{"POST /account/data/download", access.AccountSelf, s.dataDownload},
		{"POST /account/data/erase", access.AccountData, s.dataErase},
		{"POST /account/data/erase/cancel", access.AccountSelf, s.dataEraseCancel},
		{"POST /account/data/consent", access.AccountSelf, s.dataConsent},
		{"GET /account/privacy-notice", access.AccountSelf, s.noticeAckForm},
		{"POST /account/privacy-notice", access.AccountSelf, s.noticeAck},
		{"GET /admin/privacy", access.PrivacyRequests, s.adminPrivacy},
		{"POST /admin/privacy/notices", access.PolicyEdit, s.noticePublish},
	}
}

type dataPage struct {
	Page
	Customer bool
	Consents []consentRow
	History  []privacy.ConsentEvent
	Requests []privacy.Request
	Erasure  *privacy.Request
	Token    string        // a fresh export's single-use token, shown on this response only
	Grace    time.Duration // before an erasure is carried out
	Deadline time.Duration // to answer a request
}

func (s *Server) dataData(w http.ResponseWriter, r *http.Request) (dataPage, error) {
	p := access.PrincipalFrom(r.Context())
	page := dataPage{Page: s.page(w, r, "Your data"), Customer: p.Role == access.RoleCustomer,
		Grace: s.profile.Privacy.ErasureGrace.Duration, Deadline: s.profile.Privacy.RequestDeadline.Duration}
	var err error
	if page.Requests, err = s.rights.Requests(r.Context(), p.AccountID); err != nil {
		return page, err
	}
	now, history, err := s.rights.Consents(r.Context(), p.AccountID)
	if err != nil {
		return page, err
	}
	for _, pu := range privacy.Purposes() {
		page.Consents = append(page.Consents, consentRow{Purpose: pu, Given: now[pu.ID]})
	}
	page.History = history
	if e, ok, err := s.rights.PendingErasure(r.Context(), p.AccountID); err != nil {
		return page, err
	} else if ok {
		page.Erasure = &e
	}
	return page, nil
}

func (s *Server) dataPage(w http.ResponseWriter, r *http.Request) error {
	page, err := s.dataData(w, r)
	if err != nil {
		return err
	}
	return s.render(w, "data", page)
}

// dataExport prepares an export and shows its single-use download button.
func (s *Server) dataExport(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	token, _, err := s.rights.RequestExport(r.Context(), access.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	page, err := s.dataData(w, r)
	if err != nil {
		return err
	}
	page.Token = token
	page.Flash = "Your data is ready. The download button works once, for the next hour."
	return s.render(w, "data", page)
}

func (s *Server) dataDownload(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	b, name, err := s.rights.Download(r.Context(), access.PrincipalFrom(r.Context()), r.PostForm.Get("token"))
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			page, perr := s.dataData(w, r)
			if perr != nil {
				return perr
			}
			page.Error = apperr.MessageOf(err)
			return s.renderStatus(w, http.StatusGone, "data", page)
		}
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, err = w.Write(b)
	return err
}

func (s *Server) dataErase(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		page, err := s.dataData(w, r)
		if err != nil {
			return err
		}
		page.Error = "Tick the box to confirm that you want your account and data deleted."
		return s.renderStatus(w, http.StatusUnprocessableEntity, "data", page)
	}
	if _, err := s.rights.RequestErasure(r.Context(), access.PrincipalFrom(r.Context())); err != nil {
		if msg := formError(err); msg != "" {
			page, perr := s.dataData(w, r)
			if perr != nil {
				return perr
			}
			page.Error = msg
			return s.renderStatus(w, formStatus(err), "data", page)
		}
		return err
	}
	http.Redirect(w, r, "/account/data?done=erasure-scheduled", http.StatusSeeOther)
	return nil
}

func (s *Server) dataEraseCancel(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if err := s.rights.CancelErasure(r.Context(), access.PrincipalFrom(r.Context())); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/data?done=erasure-cancelled", http.StatusSeeOther)
	return nil
}

type adminPrivacyPage struct {
	Page
	Inventory  []privacy.Category
	Requests   []privacy.Request
	Now        time.Time
	LastRun    *retention.Run
	Counts     []retentionCount
	Notices    []privacy.Notice
	Current    privacy.Notice
	CanPublish bool
}

type retentionCount struct {
	Category string
	N        int
}

func (s *Server) adminPrivacy(w http.ResponseWriter, r *http.Request) error {
	page, err := s.adminPrivacyData(w, r)
	if err != nil {
		return err
	}
	return s.render(w, "admin_privacy", page)
}

func (s *Server) adminPrivacyData(w http.ResponseWriter, r *http.Request) (adminPrivacyPage, error) {
	p := access.PrincipalFrom(r.Context())
	reqs, err := s.rights.AllRequests(r.Context(), p, 500)
	if err != nil {
		return adminPrivacyPage{}, err
	}
	page := adminPrivacyPage{Page: s.page(w, r, "Personal data"), Inventory: privacy.Inventory(s.profile), Requests: reqs, Now: s.db.Now(),
		CanPublish: access.Allowed(p, access.PolicyEdit)}
	if page.Notices, err = s.rights.Notices(r.Context()); err != nil {
		return page, err
	}
	if page.Current, err = s.rights.CurrentNotice(r.Context()); err != nil {
		return page, err
	}
	if s.retention != nil {
		if last, ok, err := s.retention.LastRun(r.Context()); err != nil {
			return page, err
		} else if ok {
			page.LastRun = &last
			for _, c := range retention.Categories() {
				page.Counts = append(page.Counts, retentionCount{c, last.Counts[c]})
			}
		}
	}
	return page, nil
}

// consentRow is an optional purpose and whether the customer agreed.
type consentRow struct {
	privacy.Purpose
	Given bool
}

func (s *Server) dataConsent(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if err := s.rights.SetConsent(r.Context(), access.PrincipalFrom(r.Context()), r.PostForm.Get("purpose"), r.PostForm.Get("granted") == "yes"); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/data?done=consent-saved#consents", http.StatusSeeOther)
	return nil
}

type noticeAckPage struct {
	Page
	Notice privacy.Notice
	Needed bool
	Next   string
}

func (s *Server) noticeAckForm(w http.ResponseWriter, r *http.Request) error {
	need, n, err := s.rights.NeedsAcknowledgement(r.Context(), access.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return s.render(w, "notice_ack", noticeAckPage{Page: s.page(w, r, "Our privacy notice changed"), Notice: n, Needed: need,
		Next: safeNext(r.URL.Query().Get("next"), "/account")})
}

func (s *Server) noticeAck(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if err := s.rights.Acknowledge(r.Context(), access.PrincipalFrom(r.Context()), r.PostForm.Get("version")); err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			http.Redirect(w, r, "/account/privacy-notice", http.StatusSeeOther)
			return nil
		}
		return err
	}
	http.Redirect(w, r, safeNext(r.PostForm.Get("next"), "/account")+"?done=notice-acknowledged", http.StatusSeeOther)
	return nil
}

// noticePublish publishes a new version of the privacy notice (step-up:
// the route's permission is sensitive).
func (s *Server) noticePublish(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if _, err := s.rights.PublishNotice(r.Context(), access.PrincipalFrom(r.Context()), r.PostForm.Get("version"), r.PostForm.Get("changes")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			page, perr := s.adminPrivacyData(w, r)
			if perr != nil {
				return perr
			}
			page.Error = msg
			return s.renderStatus(w, formStatus(err), "admin_privacy", page)
		}
		return err
	}
	http.Redirect(w, r, "/admin/privacy?done=notice-published", http.StatusSeeOther)
	return nil
}
