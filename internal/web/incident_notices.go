package web

import (
	"net/http"
	"strconv"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/incident"
)

// incidentNoticeRoutes are breach notices and their follow-ups (CP-9.1,
// CP-9.2, MTL-5.1.2): the security team writes, previews, sends and
// follows them; customers confirm the steps asked of them.
func (s *Server) incidentNoticeRoutes() []route {
	if s.incidents == nil {
		return nil
	}
	return []route{
		{"GET /security/incidents/{id}/notices/new", access.IncidentManage, s.noticeNewForm},
		{"POST /security/incidents/{id}/notices", access.IncidentManage, s.noticeSave},
		{"GET /security/incidents/{id}/notices/{nid}", access.IncidentRead, s.noticePage},
		{"POST /security/incidents/{id}/notices/{nid}", access.IncidentManage, s.noticeSave},
		{"POST /security/incidents/{id}/notices/{nid}/send", access.IncidentManage, s.noticeSend},
		{"POST /security/incidents/{id}/notices/{nid}/resend", access.IncidentManage, s.noticeResend},
		{"POST /account/notices/{id}/steps/{step}", access.AccountSelf, s.noticeStepDone},
	}
}

type noticeComposer struct {
	Page
	Incident  incident.Incident
	Notice    incident.Notice // ID "" for a new one
	Steps     []incident.StepInfo
	Chosen    map[string]bool
	Missing   []string
	Preview   string
	CanManage bool
	// For a sent notice: each customer's copy and the steps' progress.
	Deliveries []incident.Delivery
	Counts     map[string]int
	Progress   []incident.StepProgress
	Total      int
	Late       bool // sending now is after the customers' deadline
}

// noticeNewForm is the composer of a breach notice, or of a follow-up to
// the breach notice ?follow= names, with the incident's facts to start
// from.
func (s *Server) noticeNewForm(w http.ResponseWriter, r *http.Request) error {
	// A breach notice starts from the assessment the regulator's report
	// holds: the same facts, to be rewritten for customers.
	a, err := s.incidents.Assessment(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	n := incident.Notice{Draft: incident.Draft{Kind: incident.NoticeBreach, Title: "A security incident affecting your account",
		Nature: a.Nature, Consequences: a.Consequences, Measures: a.Measures, Contact: a.ContactPoint}}
	if p := r.URL.Query().Get("follow"); p != "" {
		parent, err := s.incidents.NoticeByID(r.Context(), r.PathValue("id"), p)
		if err != nil {
			return err
		}
		n = incident.Notice{ParentID: parent.ID, Draft: incident.Draft{Kind: incident.NoticeFollowUp, Title: "Update: " + parent.Title,
			Contact: parent.Contact, Steps: parent.Steps}}
	}
	return s.renderNotice(w, r, http.StatusOK, "", n)
}

func (s *Server) renderNotice(w http.ResponseWriter, r *http.Request, status int, msg string, n incident.Notice) error {
	ctx := r.Context()
	inc, err := s.incidents.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	n.IncidentID = inc.ID
	page := noticeComposer{Page: s.page(w, r, "Notice: "+inc.Title), Incident: inc, Notice: n, Steps: incident.Steps,
		Chosen: map[string]bool{}, Missing: n.Missing(), Preview: n.Body(),
		CanManage: access.Allowed(access.PrincipalFrom(ctx), access.IncidentManage)}
	page.Error = msg
	for _, st := range n.Steps {
		page.Chosen[st] = true
	}
	if n.Kind == incident.NoticeBreach && n.SentAt.IsZero() {
		clocks, err := s.incidents.ClocksNow(ctx, inc)
		if err != nil {
			return err
		}
		page.Late = clocks[0].State == incident.ClockOverdue // sending now needs the reason for the delay
	}
	if !n.SentAt.IsZero() {
		if page.Deliveries, page.Counts, err = s.incidents.Deliveries(ctx, n.ID, 200); err != nil {
			return err
		}
		for _, c := range page.Counts {
			page.Total += c
		}
		if page.Progress, err = s.incidents.Progress(ctx, n); err != nil {
			return err
		}
	}
	return s.renderStatus(w, status, "incident_notice", page)
}

// noticePage shows a notice: as a draft, the composer with the preview
// and what is missing; once sent, each customer's copy and the steps.
func (s *Server) noticePage(w http.ResponseWriter, r *http.Request) error {
	n, err := s.incidents.NoticeByID(r.Context(), r.PathValue("id"), r.PathValue("nid"))
	if err != nil {
		return err
	}
	return s.renderNotice(w, r, http.StatusOK, "", n)
}

// noticeSave saves the composer's draft (new or edited) and shows its
// preview.
func (s *Server) noticeSave(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := r.PostForm
	id, nid := r.PathValue("id"), r.PathValue("nid")
	n := incident.Notice{ID: nid, ParentID: f.Get("parent"), Draft: incident.Draft{Kind: f.Get("kind"), Title: f.Get("title"),
		Nature: f.Get("nature"), Consequences: f.Get("consequences"), Measures: f.Get("measures"), Advice: f.Get("advice"),
		Contact: f.Get("contact"), Steps: f["step"]}}
	saved, err := s.incidents.SaveDraft(ctx, id, nid, n.ParentID, n.Draft, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if msg := formError(err); msg != "" && !errorIsNoIncident(err) {
			return s.renderNotice(w, r, formStatus(err), msg, n)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+id+"/notices/"+saved+"?done=notice-saved", http.StatusSeeOther)
	return nil
}

// noticeSend sends a complete notice to its recipients.
func (s *Server) noticeSend(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id, nid := r.PathValue("id"), r.PathValue("nid")
	count, err := s.incidents.Send(ctx, id, nid, r.PostForm.Get("late_reason"), access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		n, err2 := s.incidents.NoticeByID(ctx, id, nid)
		if msg := formError(err); msg != "" && err2 == nil {
			return s.renderNotice(w, r, formStatus(err), msg, n)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+id+"/notices/"+nid+"?done=notice-sent&count="+strconv.Itoa(count), http.StatusSeeOther)
	return nil
}

// noticeResend queues the email again to those the notice did not reach.
func (s *Server) noticeResend(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id, nid := r.PathValue("id"), r.PathValue("nid")
	if _, err := s.incidents.Resend(ctx, id, nid, access.PrincipalFrom(ctx).AccountID); err != nil {
		n, err2 := s.incidents.NoticeByID(ctx, id, nid)
		if msg := formError(err); msg != "" && err2 == nil {
			return s.renderNotice(w, r, formStatus(err), msg, n)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+id+"/notices/"+nid+"?done=notice-resent", http.StatusSeeOther)
	return nil
}

// noticeStepDone records a step the customer confirms (reviewed their
// devices, checked their contact details) for a notice sent to them.
func (s *Server) noticeStepDone(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	acct := accountFrom(r.Context())
	if err := s.incidents.ConfirmStep(r.Context(), acct.ID, r.PathValue("id"), r.PathValue("step")); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/notices?done=notice-step", http.StatusSeeOther)
	return nil
}
