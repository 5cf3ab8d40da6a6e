package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/incident"
)

// apiIncidentRoutes are incident response in the JSON API (issue 12): what
// the security team does on the incident and notice pages, behind the same
// permissions (incident.manage to change, incident.read to read, which
// auditors hold). The service checks again what the pages rely on it for:
// a notice with a missing part is not sent (CP-9.1), a phase is not left
// with its checklist undone (CP-7.2).
func (s *Server) apiIncidentRoutes() []route {
	if s.incidents == nil || s.tokens == nil {
		return nil
	}
	return []route{
		{"GET /api/v1/incidents", access.IncidentRead, s.apiIncidents},
		{"POST /api/v1/incidents", access.IncidentManage, s.apiIncidentOpen},
		{"GET /api/v1/incidents/{id}", access.IncidentRead, s.apiIncident},
		{"POST /api/v1/incidents/{id}/checks", access.IncidentManage, s.apiIncidentCheck},
		{"POST /api/v1/incidents/{id}/phase", access.IncidentManage, s.apiIncidentAdvance},
		{"POST /api/v1/incidents/{id}/decision", access.IncidentManage, s.apiIncidentDecide},
		{"GET /api/v1/incidents/{id}/affected", access.IncidentRead, s.apiIncidentAffected},
		{"POST /api/v1/incidents/{id}/affected", access.IncidentManage, s.apiIncidentSetAffected},
		{"POST /api/v1/incidents/{id}/containment", access.IncidentManage, s.apiIncidentContain},
		{"GET /api/v1/incidents/{id}/notices", access.IncidentRead, s.apiNotices},
		{"POST /api/v1/incidents/{id}/notices", access.IncidentManage, s.apiNoticeSave},
		{"GET /api/v1/incidents/{id}/notices/{nid}", access.IncidentRead, s.apiNotice},
		{"POST /api/v1/incidents/{id}/notices/{nid}", access.IncidentManage, s.apiNoticeSave},
		{"POST /api/v1/incidents/{id}/notices/{nid}/send", access.IncidentManage, s.apiNoticeSend},
		{"POST /api/v1/incidents/{id}/notices/{nid}/resend", access.IncidentManage, s.apiNoticeResend},
		{"GET /api/v1/incidents/{id}/notices/{nid}/deliveries", access.IncidentRead, s.apiNoticeDeliveries},
	}
}

type apiClock struct {
	Name        string     `json:"name"` // "customers" or "regulator"
	Start       time.Time  `json:"start"`
	Due         time.Time  `json:"due"`
	State       string     `json:"state"`
	SecondsLeft int64      `json:"seconds_left"` // negative once overdue
	DoneAt      *time.Time `json:"done_at"`
}

type apiAffectedQuery struct {
	Kind    string     `json:"kind"`
	Alert   string     `json:"alert,omitempty"`
	Network string     `json:"network,omitempty"`
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
}

type apiDecision struct {
	PersonalData bool      `json:"personal_data"`
	Risk         bool      `json:"risk"`
	HighRisk     bool      `json:"high_risk"`
	Reasoning    string    `json:"reasoning"`
	DecidedAt    time.Time `json:"decided_at"`
	DecidedBy    string    `json:"decided_by"`
}

type apiSubmission struct {
	SubmittedAt time.Time `json:"submitted_at"`
	Authority   string    `json:"authority"`
	Reference   string    `json:"reference"`
	LateReason  string    `json:"late_reason"`
}

type apiIncidentJSON struct {
	ID             string            `json:"id"`
	Title          string            `json:"title"`
	Severity       string            `json:"severity"`
	Category       string            `json:"category"`
	Source         *string           `json:"source"` // "alert:<id>", "report:<id>", null when opened by hand
	Phase          string            `json:"phase"`
	PlanVersion    string            `json:"plan_version"`
	DetectedAt     time.Time         `json:"detected_at"`
	DetectedReason string            `json:"detected_reason"`
	AwareAt        time.Time         `json:"aware_at"`
	DataCategories []string          `json:"data_categories"`
	AffectedCount  int               `json:"affected_count"`
	AffectedQuery  *apiAffectedQuery `json:"affected_query"`
	Breach         *apiDecision      `json:"breach_decision"`
	Regulator      *apiSubmission    `json:"regulator_submission"`
	Clocks         []apiClock        `json:"clocks"`
	CreatedAt      time.Time         `json:"created_at"`
	CreatedBy      string            `json:"created_by"`
	ClosedAt       *time.Time        `json:"closed_at"`
}

type apiCheckItem struct {
	Code      string  `json:"code"`
	Text      string  `json:"text"`
	Done      bool    `json:"done"`
	CheckedBy *string `json:"checked_by"`
}

type apiChecklist struct {
	Phase     string         `json:"phase"`
	Items     []apiCheckItem `json:"items"`
	Complete  bool           `json:"complete"` // every item ticked: the incident may move on
	NextPhase *string        `json:"next_phase"`
}

// apiIncidentDetail is one incident with the current phase's checklist.
type apiIncidentDetail struct {
	apiIncidentJSON
	Checklist apiChecklist `json:"checklist"`
}

func optString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// affectedQueryJSON reads the query stored with the affected set (nil
// until the customers are found).
func affectedQueryJSON(stored string) *apiAffectedQuery {
	var q incident.Query
	if stored == "" || json.Unmarshal([]byte(stored), &q) != nil {
		return nil
	}
	return &apiAffectedQuery{Kind: q.Kind, Alert: q.Alert, Network: q.Network, From: optTime(q.From), To: optTime(q.To)}
}

// incidentJSON is an incident with its legal clocks now (CP-7.1,
// MTL-5.1.1), as the incidents page shows them.
func (s *Server) incidentJSON(r *http.Request, inc incident.Incident) (apiIncidentJSON, error) {
	clocks, err := s.incidents.ClocksNow(r.Context(), inc)
	if err != nil {
		return apiIncidentJSON{}, err
	}
	out := apiIncidentJSON{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Category: inc.Category, Source: optString(inc.Source),
		Phase: inc.Phase, PlanVersion: inc.PlanVersion, DetectedAt: inc.DetectedAt.UTC(), DetectedReason: inc.DetectedReason,
		AwareAt: inc.AwareAt.UTC(), DataCategories: inc.DataCategories, AffectedCount: inc.Affected,
		AffectedQuery: affectedQueryJSON(inc.AffectedQuery), Clocks: []apiClock{}, CreatedAt: inc.CreatedAt.UTC(), CreatedBy: inc.CreatedBy,
		ClosedAt: optTime(inc.ClosedAt)}
	if out.DataCategories == nil {
		out.DataCategories = []string{}
	}
	if b := inc.Breach; b != nil {
		out.Breach = &apiDecision{PersonalData: b.PersonalData, Risk: b.Risk, HighRisk: b.HighRisk, Reasoning: b.Reasoning,
			DecidedAt: b.DecidedAt.UTC(), DecidedBy: b.DecidedBy}
	}
	if g := inc.Regulator; g != nil {
		out.Regulator = &apiSubmission{SubmittedAt: g.At.UTC(), Authority: g.Authority, Reference: g.Reference, LateReason: g.LateReason}
	}
	for _, c := range clocks {
		out.Clocks = append(out.Clocks, apiClock{Name: c.Name, Start: c.Start.UTC(), Due: c.Due.UTC(), State: c.State,
			SecondsLeft: int64(c.Left / time.Second), DoneAt: optTime(c.Done)})
	}
	return out, nil
}

// incidentDetail is the incident id with its clocks and the current
// phase's checklist with who ticked each item.
func (s *Server) incidentDetail(r *http.Request, id string) (apiIncidentDetail, error) {
	ctx := r.Context()
	inc, err := s.incidents.Get(ctx, id)
	if err != nil {
		return apiIncidentDetail{}, err
	}
	j, err := s.incidentJSON(r, inc)
	if err != nil {
		return apiIncidentDetail{}, err
	}
	items, done, err := s.incidents.Checklist(ctx, inc.ID, inc.Phase)
	if err != nil {
		return apiIncidentDetail{}, err
	}
	cl := apiChecklist{Phase: inc.Phase, Items: []apiCheckItem{}, Complete: true}
	for _, it := range items {
		by := done[it.Code]
		cl.Items = append(cl.Items, apiCheckItem{Code: it.Code, Text: it.Text, Done: by != "", CheckedBy: optString(by)})
		cl.Complete = cl.Complete && by != ""
	}
	if i := slices.Index(incident.Phases, inc.Phase); i >= 0 && i+1 < len(incident.Phases) {
		cl.NextPhase = optString(incident.Phases[i+1])
	}
	return apiIncidentDetail{apiIncidentJSON: j, Checklist: cl}, nil
}

func (s *Server) writeIncident(w http.ResponseWriter, r *http.Request, status int, id string) error {
	d, err := s.incidentDetail(r, id)
	if err != nil {
		return err
	}
	return writeJSON(w, status, d)
}

type apiIncidentList struct {
	Incidents []apiIncidentJSON `json:"incidents"`
}

// apiIncidents lists open (or, with ?state=closed, closed) incidents with
// their clocks, most recently detected first.
func (s *Server) apiIncidents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var open bool
	switch q.Get("state") {
	case "", "open":
		open = true
	case "closed":
	default:
		return apperr.New(apperr.Invalid, "The state is open or closed.")
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 200
	}
	list, err := s.incidents.List(r.Context(), open, limit)
	if err != nil {
		return err
	}
	out := apiIncidentList{Incidents: []apiIncidentJSON{}}
	for _, inc := range list {
		j, err := s.incidentJSON(r, inc)
		if err != nil {
			return err
		}
		out.Incidents = append(out.Incidents, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiIncident(w http.ResponseWriter, r *http.Request) error {
	return s.writeIncident(w, r, http.StatusOK, r.PathValue("id"))
}

// apiTime reads an optional RFC 3339 time of a request body.
func apiTime(field, v string) (time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, apperr.Errorf(apperr.Invalid, "Give %s as an RFC 3339 time, such as 2026-05-01T09:30:00Z.", field)
	}
	return t, nil
}

// apiIncidentOpen opens an incident by hand or from an alert or a report,
// with the data categories of the inventory it involves (CP-7.2).
func (s *Server) apiIncidentOpen(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Title          string   `json:"title"`
		Severity       string   `json:"severity"`
		Category       string   `json:"category"`
		Source         string   `json:"source"`
		DetectedAt     string   `json:"detected_at"`
		DetectedReason string   `json:"detected_reason"`
		DataCategories []string `json:"data_categories"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	n := incident.NewIncident{Title: in.Title, Severity: in.Severity, Category: in.Category, Source: in.Source, DetectedReason: in.DetectedReason,
		DataCategories: in.DataCategories}
	var err error
	if n.DetectedAt, err = apiTime("detected_at", in.DetectedAt); err != nil {
		return err
	}
	ctx := r.Context()
	inc, err := s.incidents.Open(ctx, n, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	return s.writeIncident(w, r, http.StatusCreated, inc.ID)
}

// apiIncidentCheck ticks an item of the current phase's checklist.
func (s *Server) apiIncidentCheck(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Item string `json:"item"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.incidents.Check(ctx, r.PathValue("id"), in.Item, access.PrincipalFrom(ctx).AccountID); err != nil {
		return err
	}
	return s.writeIncident(w, r, http.StatusOK, r.PathValue("id"))
}

// apiIncidentAdvance moves the incident to its next phase, once the
// current phase's checklist is done. The body is empty or {}.
func (s *Server) apiIncidentAdvance(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		var in struct{}
		if err := readJSON(r, &in); err != nil {
			return err
		}
	}
	ctx := r.Context()
	to, err := s.incidents.Advance(ctx, r.PathValue("id"), access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"phase": to})
}

// apiIncidentDecide records the personal-data-breach decision with its
// reasoning (MTL-5.1.1).
func (s *Server) apiIncidentDecide(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PersonalData bool   `json:"personal_data"`
		Risk         bool   `json:"risk"`
		HighRisk     bool   `json:"high_risk"`
		Reasoning    string `json:"reasoning"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	d := incident.Decision{PersonalData: in.PersonalData, Risk: in.Risk, HighRisk: in.HighRisk, Reasoning: in.Reasoning}
	if err := s.incidents.Decide(ctx, r.PathValue("id"), d, access.PrincipalFrom(ctx).AccountID); err != nil {
		return err
	}
	return s.writeIncident(w, r, http.StatusOK, r.PathValue("id"))
}

type apiAffected struct {
	AccountIDs []string          `json:"account_ids"`
	Count      int               `json:"count"`
	Query      *apiAffectedQuery `json:"query"`
}

// apiIncidentAffected is the incident's affected customers (account IDs
// only) and the query that found them.
func (s *Server) apiIncidentAffected(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	inc, err := s.incidents.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	ids, err := s.incidents.Affected(ctx, inc.ID)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	return writeJSON(w, http.StatusOK, apiAffected{AccountIDs: ids, Count: len(ids), Query: affectedQueryJSON(inc.AffectedQuery)})
}

// apiIncidentSetAffected replaces the affected set with what a query over
// the portal's records finds now (CP-7.2).
func (s *Server) apiIncidentSetAffected(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Kind    string `json:"kind"`
		Alert   string `json:"alert"`
		Network string `json:"network"`
		From    string `json:"from"`
		To      string `json:"to"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	q := incident.Query{Kind: in.Kind, Alert: strings.TrimSpace(in.Alert), Network: strings.TrimSpace(in.Network)}
	if q.Kind == "network" || q.Kind == "session" {
		var err error
		if q.From, err = apiTime("from", in.From); err != nil {
			return err
		}
		if q.To, err = apiTime("to", in.To); err != nil {
			return err
		}
	}
	if _, err := s.incidents.SetAffected(r.Context(), r.PathValue("id"), q); err != nil {
		return err
	}
	return s.apiIncidentAffected(w, r)
}

// apiIncidentContain takes one containment action on every affected
// account, as the incident page does.
func (s *Server) apiIncidentContain(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Action string `json:"action"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	n, err := s.incidents.Contain(ctx, s.identity.Responder(), r.PathValue("id"), in.Action, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"action": in.Action, "accounts": n})
}

type apiNoticeJSON struct {
	ID         string     `json:"id"`
	IncidentID string     `json:"incident_id"`
	ParentID   *string    `json:"parent_id"`
	Kind       string     `json:"kind"`
	Title      string     `json:"title"`
	Nature     string     `json:"nature"`
	Conseq     string     `json:"consequences"`
	Measures   string     `json:"measures"`
	Advice     string     `json:"advice"`
	Steps      []string   `json:"steps"`
	Contact    string     `json:"contact"`
	LateReason string     `json:"late_reason"`
	Missing    []string   `json:"missing"` // the parts still missing: a notice with any is not sent
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	SentAt     *time.Time `json:"sent_at"`
	SentBy     *string    `json:"sent_by"`
}

type apiDeliveryCounts struct {
	Queued int `json:"queued"`
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
	Read   int `json:"read"`
	Total  int `json:"total"`
}

func deliveryCounts(m map[string]int) apiDeliveryCounts {
	c := apiDeliveryCounts{Queued: m[incident.DeliveryQueued], Sent: m[incident.DeliverySent], Failed: m[incident.DeliveryFailed],
		Read: m[incident.DeliveryRead]}
	for _, n := range m {
		c.Total += n
	}
	return c
}

type apiStepProgress struct {
	Step string `json:"step"`
	Text string `json:"text"`
	Done int    `json:"done"`
	Of   int    `json:"of"`
}

// apiNoticeDetail is a notice with its body as customers read it, and
// once sent its deliveries and the steps' progress (CP-9.1, CP-9.2).
type apiNoticeDetail struct {
	apiNoticeJSON
	Body string `json:"body"`
	// Late: a breach notice sent now is after the customers' deadline
	// and needs late_reason.
	Late       bool               `json:"late"`
	Deliveries *apiDeliveryCounts `json:"deliveries"`
	Progress   []apiStepProgress  `json:"step_progress"`
}

func noticeJSON(n incident.Notice) apiNoticeJSON {
	out := apiNoticeJSON{ID: n.ID, IncidentID: n.IncidentID, ParentID: optString(n.ParentID), Kind: n.Kind, Title: n.Title, Nature: n.Nature,
		Conseq: n.Consequences, Measures: n.Measures, Advice: n.Advice, Steps: n.Steps, Contact: n.Contact, LateReason: n.LateReason,
		Missing: n.Missing(), CreatedAt: n.CreatedAt.UTC(), CreatedBy: n.CreatedBy, SentAt: optTime(n.SentAt), SentBy: optString(n.SentBy)}
	if out.Steps == nil {
		out.Steps = []string{}
	}
	if out.Missing == nil {
		out.Missing = []string{}
	}
	return out
}

// noticeDetail is the incident's notice nid as the notice page shows it.
func (s *Server) noticeDetail(r *http.Request, id, nid string) (apiNoticeDetail, error) {
	ctx := r.Context()
	n, err := s.incidents.NoticeByID(ctx, id, nid)
	if err != nil {
		return apiNoticeDetail{}, err
	}
	out := apiNoticeDetail{apiNoticeJSON: noticeJSON(n), Body: n.Body(), Progress: []apiStepProgress{}}
	if n.SentAt.IsZero() {
		if n.Kind == incident.NoticeBreach {
			inc, err := s.incidents.Get(ctx, id)
			if err != nil {
				return apiNoticeDetail{}, err
			}
			clocks, err := s.incidents.ClocksNow(ctx, inc)
			if err != nil {
				return apiNoticeDetail{}, err
			}
			out.Late = clocks[0].State == incident.ClockOverdue
		}
		return out, nil
	}
	_, counts, err := s.incidents.Deliveries(ctx, n.ID, 1)
	if err != nil {
		return apiNoticeDetail{}, err
	}
	c := deliveryCounts(counts)
	out.Deliveries = &c
	progress, err := s.incidents.Progress(ctx, n)
	if err != nil {
		return apiNoticeDetail{}, err
	}
	for _, p := range progress {
		out.Progress = append(out.Progress, apiStepProgress{Step: p.Code, Text: p.Text, Done: p.Done, Of: p.Of})
	}
	return out, nil
}

type apiNoticeList struct {
	Notices []apiNoticeJSON `json:"notices"`
}

// apiNotices lists the incident's notices, oldest first.
func (s *Server) apiNotices(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	inc, err := s.incidents.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	list, err := s.incidents.Notices(ctx, inc.ID)
	if err != nil {
		return err
	}
	out := apiNoticeList{Notices: []apiNoticeJSON{}}
	for _, n := range list {
		out.Notices = append(out.Notices, noticeJSON(n))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiNotice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.noticeDetail(r, r.PathValue("id"), r.PathValue("nid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// apiNoticeSave saves a notice draft: a new one (201) or, with {nid}, the
// draft not yet sent (200). A draft may lack parts; the answer's missing
// names them, and sending waits for them (CP-9.1).
func (s *Server) apiNoticeSave(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Kind         string   `json:"kind"`
		Parent       string   `json:"parent"`
		Title        string   `json:"title"`
		Nature       string   `json:"nature"`
		Consequences string   `json:"consequences"`
		Measures     string   `json:"measures"`
		Advice       string   `json:"advice"`
		Steps        []string `json:"steps"`
		Contact      string   `json:"contact"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	id, nid := r.PathValue("id"), r.PathValue("nid")
	d := incident.Draft{Kind: in.Kind, Title: in.Title, Nature: in.Nature, Consequences: in.Consequences, Measures: in.Measures,
		Advice: in.Advice, Steps: in.Steps, Contact: in.Contact}
	saved, err := s.incidents.SaveDraft(ctx, id, nid, in.Parent, d, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	out, err := s.noticeDetail(r, id, saved)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if nid == "" {
		status = http.StatusCreated
	}
	return writeJSON(w, status, out)
}

type apiNoticeSent struct {
	Delivered int             `json:"delivered"` // customers delivered to by this request
	Notice    apiNoticeDetail `json:"notice"`
}

// apiNoticeSend sends a complete notice to its recipients only: refused,
// naming the missing parts, while any is missing (CP-9.1, MTL-5.1.2).
func (s *Server) apiNoticeSend(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		LateReason string `json:"late_reason"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	id, nid := r.PathValue("id"), r.PathValue("nid")
	count, err := s.incidents.Send(ctx, id, nid, in.LateReason, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	d, err := s.noticeDetail(r, id, nid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiNoticeSent{Delivered: count, Notice: d})
}

// apiNoticeResend queues the email again to the recipients the notice did
// not reach. The body is empty or {}.
func (s *Server) apiNoticeResend(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		var in struct{}
		if err := readJSON(r, &in); err != nil {
			return err
		}
	}
	ctx := r.Context()
	id, nid := r.PathValue("id"), r.PathValue("nid")
	count, err := s.incidents.Resend(ctx, id, nid, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	d, err := s.noticeDetail(r, id, nid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiNoticeSent{Delivered: count, Notice: d})
}

type apiDelivery struct {
	AccountID string     `json:"account_id"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	SentAt    time.Time  `json:"sent_at"`
	ReadAt    *time.Time `json:"read_at"`
}

type apiDeliveryList struct {
	Deliveries []apiDelivery     `json:"deliveries"`
	Counts     apiDeliveryCounts `json:"counts"`
}

// apiNoticeDeliveries is the notice's delivery to each customer: queued,
// sent, failed or read (CP-9.1).
func (s *Server) apiNoticeDeliveries(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	n, err := s.incidents.NoticeByID(ctx, r.PathValue("id"), r.PathValue("nid"))
	if err != nil {
		return err
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	list, counts, err := s.incidents.Deliveries(ctx, n.ID, limit)
	if err != nil {
		return err
	}
	out := apiDeliveryList{Deliveries: []apiDelivery{}, Counts: deliveryCounts(counts)}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, apiDelivery{AccountID: d.AccountID, State: d.State, Attempts: d.Attempts,
			SentAt: d.SentAt.UTC(), ReadAt: optTime(d.ReadAt)})
	}
	return writeJSON(w, http.StatusOK, out)
}
