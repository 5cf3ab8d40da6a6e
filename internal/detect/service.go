package detect

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/livefeed"
	"github.com/portico/portico/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Responder carries out the responses that act on accounts. Identity
// implements it; each call runs inside the alert's transaction and audits
// itself.
type Responder interface {
	// Lock locks the account as the lockout would.
	Lock(ctx context.Context, tx *db.Tx, accountID, reason string) error
	// Unlock lifts a lock.
	Unlock(ctx context.Context, tx *db.Tx, accountID, reason string) error
	// EndCredentials ends every session and API token of the account.
	EndCredentials(ctx context.Context, tx *db.Tx, accountID, reason string) error
	// RequirePasswordChange makes the account change its password at
	// its next sign-in (or clears that, when on is false).
	RequirePasswordChange(ctx context.Context, tx *db.Tx, accountID string, on bool) error
}

// Deps are what the detection service needs.
type Deps struct {
	DB      *db.DB
	Audit   *audit.Log
	Profile policy.Profile
	Geo     Geo
	Respond Responder
	// Raised is called inside the transaction that stores a new alert
	// (not a repeat): delivery to the security team goes there, so that
	// it is queued exactly when the alert is.
	Raised func(ctx context.Context, tx *db.Tx, a Record) error
	// Published is called after a batch commits, with every alert it
	// raised or repeated.
	Published func(a Record)
	// Feed carries the security events and alerts of each batch to the
	// security dashboard's live feed, on every node (nil: no feed).
	Feed livefeed.Publisher
	// Metrics counts risk levels and rule hits (nil: not counted).
	Metrics *Metrics
	// Keys decrypts suspicious-activity reports and encrypts their
	// threads under the customer's data key (reports.go).
	Keys *crypto.Keyring
	// TellCustomer sends the customer a notice (inbox and email) inside
	// tx: a question about their report, or its outcome. Nil: nobody is
	// told (tests of the rules alone).
	TellCustomer func(ctx context.Context, tx *db.Tx, accountID, title, body string) error
	// PublicURL starts the links in those notices.
	PublicURL string
	Logger    *slog.Logger
}

// Metrics are detection's Prometheus counters.
type Metrics struct {
	Risk     *prometheus.CounterVec // sign-ins scored, by level
	RuleHits *prometheus.CounterVec // alerts raised or repeated, by rule
}

// NewMetrics registers detection's counters in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Risk: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portico_signin_risk_total",
			Help: "Password sign-ins scored by detection, by risk level (low, medium, high)."}, []string{"level"}),
		RuleHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portico_detect_rule_hits_total",
			Help: "Alerts raised or repeated by detection rules, by rule."}, []string{"rule"}),
	}
	reg.MustRegister(m.Risk, m.RuleHits)
	return m
}

// Service runs the rules over the audit trail on one node at a time and
// keeps the alerts and responses.
type Service struct {
	d      Deps
	holder string

	mu         sync.Mutex // one Step at a time
	engine     *Engine
	cursor     int64
	leaseUntil time.Time // this node holds the rules' lease until then
}

// New returns the detection service.
func New(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, holder: strings.ToLower(rand.Text())}
}

const (
	leaseName = "detect.rules"
	leaseFor  = 30 * time.Second
	batchSize = 500
	// warmFor is how far back a node that takes over the rules reads the
	// trail to rebuild their windows, without raising again what was
	// raised.
	warmFor = 24 * time.Hour
)

// SetFeed connects the live feed; call it before Run.
func (s *Service) SetFeed(p livefeed.Publisher) { s.d.Feed = p }

// SetMetrics connects the counters; call it before Run and before serving.
func (s *Service) SetMetrics(m *Metrics) { s.d.Metrics = m }

// Run runs Step every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			n, err := s.Step(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.d.Logger.Error("detection step failed; retrying", "error", err)
				}
				break
			}
			if n < batchSize {
				break
			}
		}
		select {
		case <-ctx.Done():
			s.release(ctx)
			return
		case <-t.C:
		}
	}
}

// release gives back the rules' lease if this node holds it: a stopping
// node would otherwise leave every node, itself once restarted (a new
// process is a new holder), without detection for up to leaseFor.
//
// Enforces MTL-1.1, CP-8.2: monitoring goes on at once on another node
// when the node that ran the rules stops.
func (s *Service) release(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leaseUntil.IsZero() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.d.DB.ReleaseLease(rctx, leaseName, s.holder); err != nil {
		s.d.Logger.Warn("detection: lease not given back; it expires on its own", "error", err)
		return
	}
	s.leaseUntil = time.Time{}
	s.engine = nil
}

// Step reads the next batch of the audit trail, runs the rules over it,
// and stores the alerts and responses they raise with the new cursor in
// one transaction. It returns how many events it read, or 0 when another
// node holds the rules' lease.
//
// Enforces CP-8.2, CP-5.3: every event the other packages record passes
// through the rules, once, in chain order, on one node at a time.
func (s *Service) Step(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := s.lease(ctx)
	if err != nil || !ok {
		s.engine = nil // another node has the rules: rebuild on return
		return 0, err
	}
	ctx = audit.WithActor(ctx, audit.ActorSystem)
	if s.engine == nil {
		if err := s.warm(ctx); err != nil {
			return 0, err
		}
	}
	recs, err := s.d.Audit.After(ctx, s.cursor, batchSize)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	var raised []Alert
	for _, r := range recs {
		if ev, ok := FromAudit(r); ok {
			raised = append(raised, s.engine.Observe(ev)...)
		}
	}
	last := recs[len(recs)-1].Seq
	var stored []Record
	err = s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		stored = stored[:0]
		for _, a := range raised {
			rec, err := s.raise(ctx, tx, a)
			if err != nil {
				return err
			}
			stored = append(stored, rec)
		}
		if err := s.feed(ctx, tx, recs, stored); err != nil {
			return err
		}
		return s.saveCursor(ctx, tx, last)
	})
	if err != nil {
		s.engine = nil // its windows ran ahead of what was stored
		return 0, err
	}
	s.cursor = last
	if s.d.Metrics != nil {
		for _, r := range stored {
			s.d.Metrics.RuleHits.WithLabelValues(r.Rule).Inc()
		}
	}
	if s.d.Published != nil {
		for _, r := range stored {
			s.d.Published(r)
		}
	}
	return len(recs), nil
}

// warm builds a fresh engine from the last warmFor of the trail up to the
// cursor, discarding what it raises (that was raised already).
func (s *Service) warm(ctx context.Context) error {
	e := NewEngine(s.d.Profile.Detection, s.d.Geo)
	var cursor int64
	err := s.d.DB.QueryRowContext(ctx, `SELECT seq FROM detect_cursor WHERE name = $1`, leaseName).Scan(&cursor)
	from, ferr := s.d.Audit.SeqAt(ctx, s.d.DB.Now().Add(-warmFor))
	if ferr != nil {
		return ferr
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// First run: the last day is read live.
		cursor = from - 1
	case err != nil:
		return err
	}
	for seq := from - 1; seq < cursor; {
		recs, err := s.d.Audit.After(ctx, seq, batchSize)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Seq > cursor {
				break
			}
			if ev, ok := FromAudit(r); ok {
				e.Observe(ev)
			}
			seq = r.Seq
		}
		if recs[len(recs)-1].Seq > cursor {
			break
		}
	}
	s.engine, s.cursor = e, cursor
	return nil
}

func (s *Service) saveCursor(ctx context.Context, tx *db.Tx, seq int64) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO detect_cursor (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, leaseName, seq)
	return err
}

// lease takes or renews the rules' lease. A lease with more than two
// thirds of its time left is not renewed: no write transaction every
// second on the database that sign-ins write to.
func (s *Service) lease(ctx context.Context) (bool, error) {
	if now := s.d.DB.Now(); now.Add(leaseFor * 2 / 3).Before(s.leaseUntil) {
		return true, nil
	}
	ok, until, err := s.d.DB.TakeLease(ctx, leaseName, s.holder, leaseFor)
	s.leaseUntil = until // zero when not taken
	return ok, err
}

// Alert states.
const (
	StateNew          = "new"
	StateAcknowledged = "acknowledged"
	StateDismissed    = "dismissed"
	StateEscalated    = "escalated"
)

// Record is a stored alert.
type Record struct {
	ID          string
	Rule        string
	Severity    string
	SubjectKind string
	Subject     string
	Summary     string
	Accounts    []string
	Networks    []string
	Evidence    []int64
	State       string
	StateReason string
	AssignedTo  string
	Occurrences int
	FirstAt     time.Time
	LastAt      time.Time
	UpdatedAt   time.Time
	Repeat      bool // this raise added to an open alert
}

// raise stores an alert: a repeat of an open alert with the same key adds
// to it; a new one is inserted, its responses taken, and it is handed to
// Raised for delivery. Each is audited.
//
// Enforces CP-3.2, CP-8.2: alerts reach the security team, grouped, with
// the evidence; automatic responses are audited with their rule.
func (s *Service) raise(ctx context.Context, tx *db.Tx, a Alert) (Record, error) {
	now := tx.Now()
	rec := Record{Rule: a.Rule, Severity: a.Severity, SubjectKind: a.SubjectKind, Subject: a.Subject, Summary: a.Summary,
		Accounts: orEmpty(a.Accounts), Networks: orEmpty(a.Networks), Evidence: a.Evidence, State: StateNew,
		Occurrences: 1, FirstAt: now, LastAt: now, UpdatedAt: now}
	if rec.Evidence == nil {
		rec.Evidence = []int64{}
	}
	var id, accounts, networks, evidence string
	err := tx.QueryRowContext(ctx,
		`SELECT id, accounts, networks, evidence FROM alerts WHERE group_key = $1 AND state IN ('new', 'acknowledged')`, a.Key).
		Scan(&id, &accounts, &networks, &evidence)
	switch {
	case err == nil:
		var old Record
		_ = json.Unmarshal([]byte(accounts), &old.Accounts)
		_ = json.Unmarshal([]byte(networks), &old.Networks)
		_ = json.Unmarshal([]byte(evidence), &old.Evidence)
		rec.ID, rec.Repeat = id, true
		rec.Accounts = merge(old.Accounts, rec.Accounts, maxListed)
		rec.Networks = merge(old.Networks, rec.Networks, maxListed)
		rec.Evidence = mergeSeqs(old.Evidence, rec.Evidence, maxEvidence)
		if _, err := tx.ExecContext(ctx,
			`UPDATE alerts SET occurrences = occurrences + 1, last_at = $1, summary = $2, accounts = $3, networks = $4, evidence = $5
			 WHERE id = $6`, now, a.Summary, mustJSON(rec.Accounts), mustJSON(rec.Networks), mustJSON(rec.Evidence), id); err != nil {
			return rec, err
		}
		if err := tx.QueryRowContext(ctx, `SELECT state, occurrences, first_at FROM alerts WHERE id = $1`, id).
			Scan(&rec.State, &rec.Occurrences, &rec.FirstAt); err != nil {
			return rec, err
		}
		_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "alert.repeat", Target: "alert:" + id, Outcome: audit.Success,
			Details: map[string]any{"rule": a.Rule, "occurrences": rec.Occurrences, "evidence": a.Evidence}})
		return rec, err
	case !errors.Is(err, sql.ErrNoRows):
		return rec, err
	}
	rec.ID = newID()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO alerts (id, rule, severity, group_key, subject_kind, subject, summary, accounts, networks, evidence,
		   state, occurrences, first_at, last_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'new', 1, $11, $11, $11)`,
		rec.ID, a.Rule, a.Severity, a.Key, a.SubjectKind, a.Subject, a.Summary,
		mustJSON(rec.Accounts), mustJSON(rec.Networks), mustJSON(rec.Evidence), now); err != nil {
		return rec, err
	}
	if _, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "alert.raise", Target: "alert:" + rec.ID, Outcome: audit.Success,
		Details: map[string]any{"rule": a.Rule, "severity": a.Severity, "subject_kind": a.SubjectKind, "evidence": a.Evidence,
			"responses": orEmpty(a.Responses)}}); err != nil {
		return rec, err
	}
	for _, action := range a.Responses {
		if err := s.respond(ctx, tx, rec, action); err != nil {
			return rec, err
		}
	}
	if s.d.Raised != nil {
		if err := s.d.Raised(ctx, tx, rec); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// respond takes one automatic response to a new alert, records it so
// that the security team can undo it, and audits it with the rule and the
// evidence.
//
// Enforces CP-8.2: an attack is answered as the profile says (throttle,
// challenge, lock, end sessions, force a password change), at once.
func (s *Service) respond(ctx context.Context, tx *db.Tx, rec Record, action string) error {
	now := tx.Now()
	var until any
	switch {
	case action == policy.RespondThrottle && rec.SubjectKind == SubjectNetwork,
		action == policy.RespondChallenge && rec.SubjectKind == SubjectAccount:
		until = now.Add(s.d.Profile.Detection.ThrottleFor.Duration)
	case rec.SubjectKind != SubjectAccount || s.d.Respond == nil:
		return nil // the response does not apply to this kind of subject
	case action == policy.RespondLock:
		if err := s.d.Respond.Lock(ctx, tx, rec.Subject, "detect."+rec.Rule); err != nil {
			return err
		}
	case action == policy.RespondEndSessions:
		if err := s.d.Respond.EndCredentials(ctx, tx, rec.Subject, "detect."+rec.Rule); err != nil {
			return err
		}
	case action == policy.RespondForcePassword:
		if err := s.d.Respond.RequirePasswordChange(ctx, tx, rec.Subject, true); err != nil {
			return err
		}
	default:
		return nil
	}
	id := newID()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO detect_responses (id, alert_id, action, subject, until, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, rec.ID, action, rec.Subject, until, now); err != nil {
		return err
	}
	details := map[string]any{"rule": rec.Rule, "alert": rec.ID, "action": action, "subject_kind": rec.SubjectKind, "evidence": rec.Evidence}
	if t, ok := until.(time.Time); ok {
		details["until"] = t.Format(time.RFC3339)
	}
	_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "detect.respond", Target: subjectTarget(rec.SubjectKind, rec.Subject),
		Outcome: audit.Success, Details: details})
	return err
}

// subjectTarget is an audit target for an alert's subject.
func subjectTarget(kind, subject string) string {
	if kind == SubjectNetwork {
		return "network:" + subject
	}
	return "account:" + subject
}

// Response is an automatic response as the security team sees it.
type Response struct {
	ID        string
	AlertID   string
	Action    string
	Subject   string
	Until     time.Time // zero: not time-bound
	CreatedAt time.Time
	UndoneAt  time.Time
	UndoneBy  string
}

// Active reports whether the response still applies at now.
func (r Response) Active(now time.Time) bool {
	return r.UndoneAt.IsZero() && (r.Until.IsZero() || now.Before(r.Until))
}

// Undoable reports whether the security team can undo it.
func (r Response) Undoable(now time.Time) bool {
	return r.Active(now) && r.Action != policy.RespondEndSessions
}

// Responses lists an alert's responses, oldest first.
func (s *Service) Responses(ctx context.Context, alertID string) ([]Response, error) {
	rows, err := s.d.DB.QueryContext(ctx,
		`SELECT id, alert_id, action, subject, until, created_at, undone_at, COALESCE(undone_by, '')
		 FROM detect_responses WHERE alert_id = $1 ORDER BY created_at, id`, alertID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Response
	for rows.Next() {
		var r Response
		var until, undone sql.NullTime
		if err := rows.Scan(&r.ID, &r.AlertID, &r.Action, &r.Subject, &until, &r.CreatedAt, &undone, &r.UndoneBy); err != nil {
			return nil, err
		}
		r.Until, r.UndoneAt = until.Time, undone.Time
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrCannotUndo is returned for a response that is over or cannot be
// taken back (ended sessions stay ended).
var ErrCannotUndo = apperr.New(apperr.Conflict, "That response is over already, or cannot be undone (ended sessions stay ended).")

// Undo takes back an automatic response: a throttle or challenge stops, a
// lock is lifted, a forced password change is no longer asked. It is
// audited with who undid it.
//
// Enforces CP-8.2, CP-3.2: every automatic response can be undone by the
// security team.
func (s *Service) Undo(ctx context.Context, responseID, by string) error {
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		var r Response
		var until, undone sql.NullTime
		err := tx.QueryRowContext(ctx,
			`SELECT id, alert_id, action, subject, until, created_at, undone_at FROM detect_responses WHERE id = $1`, responseID).
			Scan(&r.ID, &r.AlertID, &r.Action, &r.Subject, &until, &r.CreatedAt, &undone)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "There is no such response.")
		}
		if err != nil {
			return err
		}
		r.Until, r.UndoneAt = until.Time, undone.Time
		if !r.Undoable(tx.Now()) {
			return ErrCannotUndo
		}
		switch r.Action {
		case policy.RespondLock:
			if err := s.d.Respond.Unlock(ctx, tx, r.Subject, "detect.undo"); err != nil {
				return err
			}
		case policy.RespondForcePassword:
			if err := s.d.Respond.RequirePasswordChange(ctx, tx, r.Subject, false); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE detect_responses SET undone_at = $1, undone_by = $2 WHERE id = $3 AND undone_at IS NULL`,
			tx.Now(), by, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrCannotUndo
		}
		kind := SubjectAccount
		if r.Action == policy.RespondThrottle {
			kind = SubjectNetwork
		}
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "detect.undo", Target: subjectTarget(kind, r.Subject), Outcome: audit.Success,
			Details: map[string]any{"response": r.ID, "alert": r.AlertID, "action": r.Action}})
		return err
	})
}

// ThrottledFor returns how long sign-ins from ip's network stay refused
// by a "throttle" response (0 when they are not).
//
// Enforces CP-8.2: a network caught stuffing or spraying is refused, like
// Auth0's suspicious-IP throttling, with Retry-After.
func (s *Service) ThrottledFor(ctx context.Context, ip string) (time.Duration, error) {
	return s.activeUntil(ctx, policy.RespondThrottle, Network(ip))
}

// Challenged reports whether a "challenge" response holds for the
// account: its sign-ins are high risk until it ends.
func (s *Service) Challenged(ctx context.Context, accountID string) (bool, error) {
	d, err := s.activeUntil(ctx, policy.RespondChallenge, accountID)
	return d > 0, err
}

func (s *Service) activeUntil(ctx context.Context, action, subject string) (time.Duration, error) {
	now := s.d.DB.Now()
	var until time.Time
	err := s.d.DB.QueryRowContext(ctx,
		`SELECT until FROM detect_responses WHERE subject = $1 AND action = $2 AND undone_at IS NULL AND until > $3
		 ORDER BY until DESC LIMIT 1`, subject, action, now).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return until.Sub(now), nil
}

func newID() string { return strings.ToLower(rand.Text()) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("detect: marshal %T: %v", v, err))
	}
	return string(b)
}

// merge appends the values of b missing from a, keeping at most n.
func merge(a, b []string, n int) []string {
	out := append([]string{}, a...)
	for _, v := range b {
		if len(out) >= n {
			break
		}
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// mergeSeqs appends the sequence numbers of b missing from a, keeping at
// most n.
func mergeSeqs(a, b []int64, n int) []int64 {
	out := append([]int64{}, a...)
	seen := map[int64]bool{}
	for _, v := range a {
		seen[v] = true
	}
	for _, v := range b {
		if len(out) >= n {
			break
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
