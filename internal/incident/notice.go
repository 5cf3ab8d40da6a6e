package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Deliverer delivers a notice to one customer in the portal and by email,
// inside the caller's transaction (the program gives internal/notify
// through identity, which knows the address).
type Deliverer interface {
	// Deliver posts the notice to the account's inbox and queues it as
	// email, returning the inbox notice's and the outbox message's IDs.
	Deliver(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) (inboxID, outboxID string, err error)
	// Email queues the notice's email again (a resend).
	Email(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) (outboxID string, err error)
}

// Notice kinds: the breach notice, and the follow-ups linked to it
// (CP-9.2).
const (
	NoticeBreach   = "breach"
	NoticeFollowUp = "follow-up"
)

// Steps a notice can ask of the customer: each one the portal can check.
const (
	StepChangePassword  = "change_password"  // done when the password changes after the notice
	StepReviewSessions  = "review_sessions"  // done when the customer confirms it on the notice, with the list of sessions one click away
	StepReenrolFactor   = "reenrol_factor"   // done when an authenticator or passkey is added after the notice
	StepConfirmContacts = "confirm_contacts" // done when the customer confirms their contact details on the notice
)

// Steps lists the steps in the order a notice shows them, with what the
// customer reads.
var Steps = []StepInfo{
	{StepChangePassword, "Change your password", "/account/password", false},
	{StepReviewSessions, "Review your signed-in devices and end any you do not recognise", "/account/security", true},
	{StepReenrolFactor, "Set up your authenticator app or passkey again", "/account/mfa/setup", false},
	{StepConfirmContacts, "Check that your email address is still yours and correct", "/account/email", true},
}

// StepInfo describes a step.
type StepInfo struct {
	Code, Text, Link string
	// Confirmed: the customer says it is done (with the page to do it
	// one link away); otherwise the portal sees it in its records.
	Confirmed bool
}

func stepInfo(code string) (StepInfo, bool) {
	i := slices.IndexFunc(Steps, func(s StepInfo) bool { return s.Code == code })
	if i < 0 {
		return StepInfo{}, false
	}
	return Steps[i], true
}

// Draft is what the security team writes: every part a breach notice must
// hold (GDPR Art. 34(2) with Art. 33(3)(b)-(d), CP-9.1), or a follow-up's
// corrective actions and steps (CP-9.2).
type Draft struct {
	Kind  string // NoticeBreach or NoticeFollowUp
	Title string
	// Nature is what happened, in clear and plain language.
	Nature string
	// Consequences are the likely consequences for the customer.
	Consequences string
	// Measures are what was done or is proposed to address the breach and
	// mitigate its effects (for a follow-up: the corrective actions).
	Measures string
	// Advice is what the customer should do, in words; Steps are the
	// steps the portal tracks.
	Advice string
	Steps  []string
	// Contact is the contact point for more information.
	Contact string
	// LateReason is the reason for the delay of a breach notice sent
	// after the customers' deadline (given when it is sent).
	LateReason string
}

// Notice is a notice of an incident.
type Notice struct {
	ID, IncidentID, ParentID string
	Draft
	CreatedAt time.Time
	CreatedBy string
	SentAt    time.Time // zero while a draft
	SentBy    string

	scan *noticeScan // during a scan only
}

// maxPart bounds each part of a notice.
const maxPart = 4000

// Missing names the parts a draft lacks, in the order the composer shows
// them: a notice with any missing part cannot be sent.
//
// Enforces CP-9.1, MTL-5.1.2: a breach notice holds the nature of the
// breach, its likely consequences, the measures taken or proposed, what
// the customer should do and a contact point (GDPR Art. 34(2)); a
// follow-up holds the corrective actions and the steps asked of the
// customer (CP-9.2).
func (d Draft) Missing() []string {
	var out []string
	need := func(v, name string) {
		if strings.TrimSpace(v) == "" {
			out = append(out, name)
		}
	}
	need(d.Title, "a title")
	switch d.Kind {
	case NoticeBreach:
		need(d.Nature, "what happened (the nature of the breach)")
		need(d.Consequences, "its likely consequences for the customer")
		need(d.Measures, "the measures taken or proposed")
		need(d.Advice, "what the customer should do")
		need(d.Contact, "a contact point for more information")
	case NoticeFollowUp:
		need(d.Measures, "the corrective actions taken")
		if strings.TrimSpace(d.Advice) == "" && len(d.Steps) == 0 {
			out = append(out, "the steps required of the customer (or what they should do)")
		}
	}
	return out
}

func (d *Draft) clean() error {
	for _, p := range []*string{&d.Title, &d.Nature, &d.Consequences, &d.Measures, &d.Advice, &d.Contact, &d.LateReason} {
		*p = strings.TrimSpace(*p)
		if len(*p) > maxPart {
			return apperr.New(apperr.Invalid, "Please keep each part of the notice under 4,000 characters.")
		}
	}
	if len(d.Title) > 200 {
		return apperr.New(apperr.Invalid, "Please keep the title under 200 characters.")
	}
	if d.Kind != NoticeBreach && d.Kind != NoticeFollowUp {
		return apperr.New(apperr.Invalid, "A notice is a breach notice or a follow-up.")
	}
	var steps []string
	for _, s := range d.Steps {
		if _, ok := stepInfo(s); !ok {
			return apperr.Errorf(apperr.Invalid, "%q is not a step the portal can track.", s)
		}
		if !slices.Contains(steps, s) {
			steps = append(steps, s)
		}
	}
	d.Steps = steps
	return nil
}

// Body is the notice as the customer reads it, in the portal and in the
// email alike.
func (n Notice) Body() string {
	var b strings.Builder
	part := func(head, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s\n%s\n\n", head, v)
		}
	}
	if n.Kind == NoticeFollowUp {
		part("What we have done since", n.Measures)
	} else {
		part("What happened", n.Nature)
		part("What it may mean for you", n.Consequences)
		part("What we have done", n.Measures)
	}
	part("What you should do", n.Advice)
	if len(n.Steps) > 0 {
		b.WriteString("Please also, in your account:\n")
		for _, code := range n.Steps {
			st, _ := stepInfo(code)
			fmt.Fprintf(&b, "- %s\n", st.Text)
		}
		b.WriteString("\n")
	}
	part("Questions", n.Contact)
	return strings.TrimSpace(b.String())
}

// SaveDraft writes the incident's notice draft (creating it when id is
// ""), to be previewed and then sent. A follow-up names the breach notice
// it follows (parent), which must have been sent.
func (s *Service) SaveDraft(ctx context.Context, incidentID, id, parent string, d Draft, by string) (string, error) {
	if err := d.clean(); err != nil {
		return "", err
	}
	steps, _ := json.Marshal(d.Steps)
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var closed sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT closed_at FROM incidents WHERE id = $1`, incidentID).Scan(&closed); err != nil {
			return notFound(err)
		}
		if closed.Valid {
			return apperr.New(apperr.Conflict, "The incident is closed.")
		}
		if d.Kind == NoticeFollowUp {
			var sent sql.NullTime
			err := tx.QueryRowContext(ctx, `SELECT sent_at FROM incident_notices WHERE id = $1 AND incident_id = $2 AND kind = 'breach'`,
				parent, incidentID).Scan(&sent)
			if err != nil || !sent.Valid {
				return apperr.New(apperr.Invalid, "A follow-up follows a breach notice that was sent: choose it.")
			}
		} else {
			parent = ""
		}
		now := tx.Now()
		if id == "" {
			id = newID()
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO incident_notices (id, incident_id, parent_id, kind, title, nature, consequences, measures, advice, steps, contact,
				   created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12)`,
				id, incidentID, nullIfEmpty(parent), d.Kind, d.Title, d.Nature, d.Consequences, d.Measures, d.Advice, string(steps), d.Contact,
				now, by); err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx,
				`UPDATE incident_notices SET title = $1, nature = $2, consequences = $3, measures = $4, advice = $5, steps = $6, contact = $7,
				   updated_at = $8 WHERE id = $9 AND incident_id = $10 AND sent_at IS NULL AND kind = $11`,
				d.Title, d.Nature, d.Consequences, d.Measures, d.Advice, string(steps), d.Contact, now, id, incidentID, d.Kind)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return apperr.New(apperr.Conflict, "That notice was sent already or does not exist: a sent notice is not changed; send a follow-up.")
			}
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.notice_draft", Target: "incident:" + incidentID, Outcome: audit.Success,
			Details: map[string]any{"notice": id, "kind": d.Kind, "missing": len(d.Missing())}})
		return err
	})
	return id, err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ErrNoNotice answers a notice that does not exist (or is not the
// incident's).
var ErrNoNotice = apperr.New(apperr.NotFound, "There is no such notice.")

const noticeColumns = `id, incident_id, parent_id, kind, title, nature, consequences, measures, advice, steps, contact, late_reason,
   created_at, created_by, sent_at, sent_by`

// noticeDest are the scan destinations of noticeColumns; finish
// completes the notice after the scan.
func noticeDest(n *Notice) []any {
	n.scan = &noticeScan{}
	return []any{&n.ID, &n.IncidentID, &n.scan.parent, &n.Kind, &n.Title, &n.Nature, &n.Consequences, &n.Measures, &n.Advice, &n.scan.steps,
		&n.Contact, &n.LateReason, &n.CreatedAt, &n.CreatedBy, &n.scan.sent, &n.scan.sentBy}
}

type noticeScan struct {
	parent, sentBy sql.NullString
	sent           sql.NullTime
	steps          string
}

func (n *Notice) finish() error {
	sc := n.scan
	n.scan = nil
	n.ParentID, n.SentAt, n.SentBy = sc.parent.String, sc.sent.Time, sc.sentBy.String
	return json.Unmarshal([]byte(sc.steps), &n.Steps)
}

func scanNotice(row interface{ Scan(...any) error }) (Notice, error) {
	var n Notice
	if err := row.Scan(noticeDest(&n)...); err != nil {
		return n, err
	}
	return n, n.finish()
}

// Notices lists the incident's notices, oldest first.
func (s *Service) Notices(ctx context.Context, incidentID string) ([]Notice, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+noticeColumns+` FROM incident_notices WHERE incident_id = $1 ORDER BY created_at, id`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NoticeByID returns one of the incident's notices.
func (s *Service) NoticeByID(ctx context.Context, incidentID, id string) (Notice, error) {
	n, err := scanNotice(s.db.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM incident_notices WHERE id = $1 AND incident_id = $2`, id, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNoNotice
	}
	return n, err
}

// CustomersTold is when the incident's first breach notice was sent to
// the affected customers (zero until then): the customers' clock stops
// there (CP-7.1).
func (s *Service) CustomersTold(ctx context.Context, incidentID string) (time.Time, error) {
	var t time.Time
	err := s.db.QueryRowContext(ctx, `SELECT sent_at FROM incident_notices WHERE incident_id = $1 AND kind = 'breach' AND sent_at IS NOT NULL
		ORDER BY sent_at LIMIT 1`, incidentID).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return t, err
}
