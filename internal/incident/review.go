package incident

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// maxReviewText bounds each of a review's texts.
const maxReviewText = 20000

// maxActions bounds a review's actions.
const maxActions = 50

// Review is the post-incident review: what happened, what worked, what
// did not, and the actions that follow, each owned and due.
type Review struct {
	IncidentID string
	Summary    string // what happened (Markdown)
	Worked     string // what worked
	Failed     string // what did not
	Actions    []Action
	CreatedAt  time.Time
	CreatedBy  string
	UpdatedAt  time.Time
	UpdatedBy  string
}

// Action is one action of a review.
type Action struct {
	Text  string
	Owner string // account ID of a member of staff
	Due   time.Time
	Done  bool
}

// Review returns the incident's review, and false when none is written
// yet.
func (s *Service) Review(ctx context.Context, id string) (Review, bool, error) {
	r := Review{IncidentID: id}
	err := s.db.QueryRowContext(ctx, `SELECT summary, worked, failed, created_at, created_by, updated_at, updated_by FROM incident_reviews WHERE incident_id = $1`, id).
		Scan(&r.Summary, &r.Worked, &r.Failed, &r.CreatedAt, &r.CreatedBy, &r.UpdatedAt, &r.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.Get(ctx, id); err != nil {
			return r, false, err
		}
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT body, owner, due_at, done FROM incident_review_actions WHERE incident_id = $1 ORDER BY seq`, id)
	if err != nil {
		return r, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var a Action
		if err := rows.Scan(&a.Text, &a.Owner, &a.Due, &a.Done); err != nil {
			return r, false, err
		}
		r.Actions = append(r.Actions, a)
	}
	return r, true, rows.Err()
}

// SaveReview writes the incident's review, or rewrites it (the actions
// as given replace the previous ones: ticking one done is saving the
// review again). It can only be written once the incident has recovered
// or is closed: before, there is no outcome to review.
//
// Enforces CP-7.2: every incident ends with a review of what happened,
// what worked and what did not, and actions with owners and dates.
func (s *Service) SaveReview(ctx context.Context, id string, r Review, by string) error {
	r.Summary, r.Worked, r.Failed = strings.TrimSpace(r.Summary), strings.TrimSpace(r.Worked), strings.TrimSpace(r.Failed)
	for _, f := range []struct{ v, what string }{{r.Summary, "what happened"}, {r.Worked, "what worked"}, {r.Failed, "what did not work"}} {
		if f.v == "" {
			return apperr.Errorf(apperr.Invalid, "Say %s (\"nothing\" is an answer).", f.what)
		}
		if utf8.RuneCountInString(f.v) > maxReviewText {
			return apperr.Errorf(apperr.Invalid, "Say %s in up to %d characters.", f.what, maxReviewText)
		}
	}
	if len(r.Actions) > maxActions {
		return apperr.Errorf(apperr.Invalid, "A review has at most %d actions.", maxActions)
	}
	for i := range r.Actions {
		a := &r.Actions[i]
		a.Text = strings.TrimSpace(a.Text)
		switch {
		case a.Text == "" || utf8.RuneCountInString(a.Text) > maxFinding:
			return apperr.Errorf(apperr.Invalid, "Say what action %d is, in up to %d characters.", i+1, maxFinding)
		case a.Due.IsZero():
			return apperr.Errorf(apperr.Invalid, "Give the action %q a due date.", short(a.Text))
		}
		a.Due = db.Time(a.Due)
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		phase, err := s.lockPhase(ctx, tx, id)
		if err != nil {
			return err
		}
		if phase != PhaseRecovered && phase != PhaseClosed {
			return apperr.Errorf(apperr.Conflict, "The review is written once the incident has recovered: it is %s.", phase)
		}
		for _, a := range r.Actions {
			if ok, err := staffMember(ctx, tx, a.Owner); err != nil {
				return err
			} else if !ok {
				return apperr.Errorf(apperr.Invalid, "The action %q needs an owner who is a member of staff.", short(a.Text))
			}
		}
		now := tx.Now()
		res, err := tx.ExecContext(ctx, `UPDATE incident_reviews SET summary = $1, worked = $2, failed = $3, updated_at = $4, updated_by = $5 WHERE incident_id = $6`,
			r.Summary, r.Worked, r.Failed, now, by, id)
		if err != nil {
			return err
		}
		first := false
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			first = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_reviews (incident_id, summary, worked, failed, created_at, created_by, updated_at, updated_by)
				VALUES ($1, $2, $3, $4, $5, $6, $5, $6)`, id, r.Summary, r.Worked, r.Failed, now, by); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_review_actions WHERE incident_id = $1`, id); err != nil {
			return err
		}
		open := 0
		for i, a := range r.Actions {
			if !a.Done {
				open++
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_review_actions (incident_id, seq, body, owner, due_at, done) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, i+1, a.Text, a.Owner, a.Due, a.Done); err != nil {
				return err
			}
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.review", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"first": first, "actions": len(r.Actions), "open_actions": open}})
		return err
	})
}

// Export is the incident's record as a Markdown document: its facts, its
// timeline from the audit trail, the checklists with who ticked what and
// when, and the post-incident review.
//
// Enforces CP-7.2: the incident's whole record leaves Portico in one
// document (for the file, an auditor, or the regulator's report).
func (s *Service) Export(ctx context.Context, id string) ([]byte, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	exercise, err := s.IsExercise(ctx, id)
	if err != nil {
		return nil, err
	}
	timeline, err := s.Timeline(ctx, id)
	if err != nil {
		return nil, err
	}
	_, plan, err := s.incidentPlan(ctx, s.db, id, false)
	if err != nil {
		return nil, err
	}
	type tick struct {
		by string
		at time.Time
	}
	ticks := map[string]tick{}
	rows, err := s.db.QueryContext(ctx, `SELECT phase, item, checked_by, checked_at FROM incident_checks WHERE incident_id = $1`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var phase, item string
		var t tick
		if err := rows.Scan(&phase, &item, &t.by, &t.at); err != nil {
			rows.Close()
			return nil, err
		}
		ticks[phase+"/"+item] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	review, reviewed, err := s.Review(ctx, id)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	fmt.Fprintf(&b, "# Incident %s: %s\n\n", inc.ID, oneLine(inc.Title))
	if exercise {
		b.WriteString("**This incident is a drill of the response plan, not a real incident.**\n\n")
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v)) }
	row("Severity", inc.Severity)
	row("Category", inc.Category)
	row("Source", or(inc.Source, "opened by hand"))
	row("Phase", inc.Phase)
	row("Response plan", planName(inc.PlanVersion))
	row("Detected", ts(inc.DetectedAt))
	if inc.DetectedReason != "" {
		row("Why detected earlier than opened", inc.DetectedReason)
	}
	row("Aware", ts(inc.AwareAt))
	row("Opened", ts(inc.CreatedAt)+" by "+inc.CreatedBy)
	row("Closed", ts(inc.ClosedAt))
	row("Personal data categories", or(strings.Join(inc.DataCategories, ", "), "none recorded"))
	row("Affected customers", fmt.Sprintf("%d", inc.Affected))
	if inc.AffectedQuery != "" {
		row("Found by", inc.AffectedQuery)
	}
	if d := inc.Breach; d != nil {
		row("Personal data affected", yesNo(d.PersonalData))
		row("Risk to people", yesNo(d.Risk))
		row("High risk to people", yesNo(d.HighRisk))
		row("Breach decision", d.Reasoning+" ("+ts(d.DecidedAt)+", "+d.DecidedBy+")")
	}
	if sub := inc.Regulator; sub != nil {
		row("Reported to the regulator", ts(sub.At)+", "+sub.Authority+", reference "+sub.Reference)
		if sub.LateReason != "" {
			row("Reasons for the delay", sub.LateReason)
		}
	}

	b.WriteString("\n## Timeline\n\nFrom the audit trail (each event's sequence number and hash verify against the trail).\n\n")
	b.WriteString("| # | When | Who | What | Details |\n|---|---|---|---|---|\n")
	for _, ev := range timeline {
		details := string(ev.Details)
		if details == "{}" {
			details = ""
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", ev.Seq, cell(ev.At), cell(ev.Actor), cell(ev.Action+outcomeNote(ev.Outcome)), code(details))
	}

	fmt.Fprintf(&b, "\n## Checklists (%s)\n", planName(plan.Version))
	for _, phase := range Phases[:len(Phases)-1] {
		fmt.Fprintf(&b, "\n### %s\n\n", title(phase))
		for _, it := range plan.Checklists[phase] {
			if t, ok := ticks[phase+"/"+it.Code]; ok {
				fmt.Fprintf(&b, "- [x] %s — %s, %s\n", oneLine(it.Text), t.by, ts(t.at))
			} else {
				fmt.Fprintf(&b, "- [ ] %s\n", oneLine(it.Text))
			}
		}
	}

	b.WriteString("\n## Post-incident review\n\n")
	if !reviewed {
		b.WriteString("Not written yet.\n")
		return b.Bytes(), nil
	}
	fmt.Fprintf(&b, "Written %s by %s; last saved %s by %s.\n", ts(review.CreatedAt), review.CreatedBy, ts(review.UpdatedAt), review.UpdatedBy)
	fmt.Fprintf(&b, "\n### What happened\n\n%s\n\n### What worked\n\n%s\n\n### What did not\n\n%s\n\n### Actions\n\n", review.Summary, review.Worked, review.Failed)
	if len(review.Actions) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| Action | Owner | Due | Done |\n|---|---|---|---|\n")
		for _, a := range review.Actions {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(a.Text), cell(a.Owner), a.Due.UTC().Format("2006-01-02"), yesNo(a.Done))
		}
	}
	return b.Bytes(), nil
}

// planName names a plan version for people.
func planName(v string) string {
	if v == BuiltinPlan.Version {
		return "the built-in plan"
	}
	return "version " + v
}

// cell makes text safe in a Markdown table cell: one line, pipes escaped.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// oneLine joins a text's lines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// code is s as an inline code span in a table cell.
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(strings.ReplaceAll(oneLine(s), "`", "'"), "|", `\|`) + "`"
}

func outcomeNote(o string) string {
	if o == audit.Success {
		return ""
	}
	return " (" + o + ")"
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}
