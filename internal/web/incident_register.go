package web

import (
	"bytes"
	"net/http"
	"net/url"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/incident"
)

// registerRoutes are the breach register: every incident with what each
// applicable law asks of it, exported per regime (MTL-5.1.1, MTL-7.1).
func (s *Server) registerRoutes() []route {
	if s.incidents == nil {
		return nil
	}
	return []route{
		{"GET /security/register", access.IncidentRead, s.registerPage},
		{"GET /security/register/export", access.IncidentRead, s.registerExport},
	}
}

// registerRow is one incident with each regime's status.
type registerRow struct {
	incident.RegisterEntry
	Decision string // the breach decision in words
	Regimes  []regimeCell
}

// regimeCell is one regime's view of one incident, in words.
type regimeCell struct {
	Code, Authority, People string
	Clock                   incident.Clock
	ClockRuns               bool // the authority's clock is shown
}

// noticeWords says a notice state in words.
var noticeWords = map[string]string{
	incident.NoticeDecisionNeeded: "decision needed",
	incident.NoticeRequired:       "required",
	incident.NoticeNotRequired:    "not required",
	incident.NoticeDone:           "submitted",
}

// decisionWords says the breach decision in words.
func decisionWords(d *incident.Decision) string {
	switch {
	case d == nil:
		return "not decided yet"
	case !d.PersonalData:
		return "no personal data"
	case d.HighRisk:
		return "high risk to people"
	case d.Risk:
		return "a risk to people"
	}
	return "personal data, unlikely to harm people"
}

// registerExportLink is one regime's exports.
type registerExportLink struct {
	Regime    incident.Regime
	CSV, JSON string
}

type registerPage struct {
	Page
	From, To string // the filter as typed
	Rows     []registerRow
	Regimes  []incident.Regime // the profile's, in its order
	Exports  []registerExportLink
}

// registerPeriod reads the from and to dates (days in UTC, "to"
// inclusive), as the audit search does.
func registerPeriod(q url.Values) (from, to time.Time, err error) {
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, apperr.New(apperr.Invalid, "Give the dates as YYYY-MM-DD.")
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, apperr.New(apperr.Invalid, "Give the dates as YYYY-MM-DD.")
		}
		to = to.Add(24 * time.Hour)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, apperr.New(apperr.Invalid, "The end date is before the start date.")
	}
	return from, to, nil
}

// registerPage lists every incident detected in the period, notifiable
// or not, with each regime's authority and people notices and the
// authority's clock, and links to each regime's export.
//
// Enforces MTL-7.1, MTL-5.1.1: the security team and auditors see the
// register of every incident under each law that applies.
func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	page := registerPage{Page: s.page(w, r, "Breach register"), From: q.Get("from"), To: q.Get("to")}
	for _, code := range s.profile.Incident.Regimes {
		if reg, ok := incident.RegimeByCode(code); ok {
			page.Regimes = append(page.Regimes, reg)
			keep := url.Values{"regime": {code}}
			if page.From != "" {
				keep.Set("from", page.From)
			}
			if page.To != "" {
				keep.Set("to", page.To)
			}
			link := registerExportLink{Regime: reg}
			keep.Set("format", incident.FormatCSV)
			link.CSV = "/security/register/export?" + keep.Encode()
			keep.Set("format", incident.FormatJSON)
			link.JSON = "/security/register/export?" + keep.Encode()
			page.Exports = append(page.Exports, link)
		}
	}
	from, to, err := registerPeriod(q)
	if err != nil {
		page.Error = apperr.MessageOf(err)
		page.Exports = nil
		return s.renderStatus(w, http.StatusUnprocessableEntity, "incident_register", page)
	}
	entries, err := s.incidents.Register(ctx, from, to)
	if err != nil {
		return err
	}
	now := s.db.Now()
	for _, e := range entries {
		row := registerRow{RegisterEntry: e, Decision: decisionWords(e.Breach)}
		for _, st := range s.incidents.Regimes(e, now) {
			row.Regimes = append(row.Regimes, regimeCell{Code: st.Regime.Code, Authority: noticeWords[st.Authority], People: noticeWords[st.People],
				Clock: st.Clock, ClockRuns: st.Clock.State != incident.ClockNotDue})
		}
		page.Rows = append(page.Rows, row)
	}
	return s.render(w, "incident_register", page)
}

// registerExport sends the register in one regime's fields as a CSV or
// JSON download. The incident service records the export (regime,
// format, period, count) in the trail before it is sent.
//
// Enforces MTL-7.1: each regime's register is exportable with the fields
// that regime asks for.
func (s *Server) registerExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	regime, format := q.Get("regime"), q.Get("format")
	from, to, err := registerPeriod(q)
	if err != nil {
		return apperr.New(apperr.BadRequest, apperr.MessageOf(err))
	}
	entries, err := s.incidents.ExportRegister(r.Context(), from, to, regime, format)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := incident.WriteRegister(&buf, entries, regime, format); err != nil {
		return err
	}
	ctype := "text/csv; charset=utf-8"
	if format == incident.FormatJSON {
		ctype = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="portico-register-`+regime+`-`+s.db.Now().UTC().Format("20060102-150405")+`.`+format+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
}
