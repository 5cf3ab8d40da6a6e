package web

import (
	"github.com/portico/portico/internal/retention"
	"net/http"
	"time"

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
		{"GET /admin/privacy", access.PrivacyRequests, s.adminPrivacy},
	}
}

type dataPage struct {
	Page
	Customer  bool
	Requests  []privacy.Request
	Erasure   *privacy.Request
	Token     string // a fresh export's single-use token, shown on this response only
	GraceDays int
	Deadline  string
}

func (s *Server) dataData(w http.ResponseWriter, r *http.Request) (dataPage, error) {
	p := access.PrincipalFrom(r.Context())
	page := dataPage{Page: s.page(w, r, "Your data"), Customer: p.Role == access.RoleCustomer,
		GraceDays: int(s.profile.Privacy.ErasureGrace.Duration / (24 * time.Hour)), Deadline: s.profile.Privacy.RequestDeadline.Human()}
	var err error
	if page.Requests, err = s.rights.Requests(r.Context(), p.AccountID); err != nil {
		return page, err
	}
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
	Inventory []privacy.Category
	Requests  []privacy.Request
	Now       time.Time
	LastRun   *retention.Run
	Counts    []retentionCount
}

type retentionCount struct {
	Category string
	N        int
}

func (s *Server) adminPrivacy(w http.ResponseWriter, r *http.Request) error {
	reqs, err := s.rights.AllRequests(r.Context(), access.PrincipalFrom(r.Context()), 500)
	if err != nil {
		return err
	}
	page := adminPrivacyPage{Page: s.page(w, r, "Personal data"), Inventory: privacy.Inventory(s.profile), Requests: reqs, Now: s.db.Now()}
	if s.retention != nil {
		if last, ok, err := s.retention.LastRun(r.Context()); err != nil {
			return err
		} else if ok {
			page.LastRun = &last
			for _, c := range retention.Categories() {
				page.Counts = append(page.Counts, retentionCount{c, last.Counts[c]})
			}
		}
	}
	return s.render(w, "admin_privacy", page)
}
