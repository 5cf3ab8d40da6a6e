package compliance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
)

// secopsChecks are the evidence of security operations: detection,
// triage, incidents, their legal clocks, breach notices, the response
// plan and its exercises.
func secopsChecks(src Sources) []Check {
	return []Check{
		incidentCustomerDeadline(src),
		incidentRegulatorDeadline(src),
		incidentPhases(src),
		incidentNoticesDelivered(src),
		incidentFollowUpSteps(src),
		incidentPlanCurrent(src),
		incidentExerciseCurrent(src),
		detectRunning(src),
		detectAlertsTriaged(src),
		detectReportsTriaged(src),
	}
}

// dateOf formats a time for a summary or a figure.
func dateOf(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// maxIDs bounds the record IDs a figure lists.
const maxIDs = 10

// idList lists record IDs for a figure, at most maxIDs of them.
func idList(ids []string) string {
	if len(ids) > maxIDs {
		return strings.Join(ids[:maxIDs], ", ") + fmt.Sprintf(" and %d more", len(ids)-maxIDs)
	}
	return strings.Join(ids, ", ")
}

// incidentsInScope returns the real incidents (drills left out: their
// clocks are an exercise's findings, not the clauses') open at now or
// closed within the last governance.evidence_interval, so that every
// scheduled taking of the evidence sees each incident's end: one closed
// in between is judged once more before it leaves the evidence, and an
// incident cannot be closed to hide what it missed.
func incidentsInScope(ctx context.Context, src Sources, now time.Time) ([]incident.Incident, error) {
	open, err := src.Incidents.List(ctx, true, 500)
	if err != nil {
		return nil, err
	}
	closed, err := src.Incidents.List(ctx, false, 500)
	if err != nil {
		return nil, err
	}
	since := now.Add(-src.Profile.Governance.EvidenceInterval.Duration)
	var out []incident.Incident
	for _, inc := range append(open, closed...) {
		if !inc.ClosedAt.IsZero() && inc.ClosedAt.Before(since) {
			continue
		}
		drill, err := src.Incidents.IsExercise(ctx, inc.ID)
		if err != nil {
			return nil, err
		}
		if !drill {
			out = append(out, inc)
		}
	}
	return out, nil
}

// clockEvidence judges one legal clock (0: the customers', 1: the
// regulator's) over the incidents in scope: it fails when a deadline
// passed with nothing recorded or was met late (a reason for the delay
// is kept with a late notice, but the deadline was still missed), and
// warns in the clock's last tenth.
func clockEvidence(ctx context.Context, src Sources, now time.Time, which int, what string) (Result, error) {
	incs, err := incidentsInScope(ctx, src, now)
	if err != nil {
		return Result{}, err
	}
	count := map[string]int{}
	var overdue, late, near []string
	var firstMissed time.Time
	for _, inc := range incs {
		told, err := src.Incidents.CustomersTold(ctx, inc.ID)
		if err != nil {
			return Result{}, err
		}
		c := src.Incidents.Clocks(inc, told, now)[which]
		count[c.State]++
		switch c.State {
		case incident.ClockOverdue:
			overdue = append(overdue, inc.ID)
		case incident.ClockLate:
			late = append(late, inc.ID)
		case incident.ClockNear:
			near = append(near, inc.ID)
		}
		if (c.State == incident.ClockOverdue || c.State == incident.ClockLate) && (firstMissed.IsZero() || c.Due.Before(firstMissed)) {
			firstMissed = c.Due
		}
	}
	figs := []Figure{{"incidents in scope", fmt.Sprint(len(incs))}}
	for _, st := range []string{incident.ClockMet, incident.ClockRunning, incident.ClockHalf, incident.ClockNear,
		incident.ClockOverdue, incident.ClockLate, incident.ClockNotDue} {
		if count[st] > 0 {
			figs = append(figs, Figure{"clock " + st, fmt.Sprint(count[st])})
		}
	}
	switch {
	case len(overdue)+len(late) > 0:
		figs = append(figs, Figure{"missed", idList(append(overdue, late...))})
		return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
			"%d incidents missed the %s deadline: %d past it with nothing recorded, %d recorded late (earliest due %s)",
			len(overdue)+len(late), what, len(overdue), len(late), dateOf(firstMissed))}, nil
	case len(near) > 0:
		figs = append(figs, Figure{"in the last tenth", idList(near)})
		return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
			"%d incidents are in the last tenth of the %s deadline with nothing recorded yet", len(near), what)}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"no incident missed the %s deadline (%d in scope, %d met)", what, len(incs), count[incident.ClockMet])}, nil
}

// incidentCustomerDeadline is the customers' clock.
//
// Enforces MTL-7.2 (evidence of CP-7.1, MTL-5.1.2): no incident passes
// incident.customer_notification from detection without a breach notice.
func incidentCustomerDeadline(src Sources) Check {
	return Check{
		Name:    "incident.customer-deadline",
		Clauses: []string{"CP-7.1", "MTL-5.1.2"},
		Description: "Reads the customers' clock (incident.customer_notification from detection, stopped by the first breach notice sent) " +
			"of every incident open now or closed within the last evidence interval, drills left out. Fails when one passed its deadline " +
			"with no notice sent, or its notice went out late (with the reason for the delay, still a missed deadline); warns when one is " +
			"in the last tenth of its time with no notice yet.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil {
				return Result{}, errUnavailable("incident response")
			}
			return clockEvidence(ctx, src, now, 0, "customers'")
		},
	}
}

// incidentRegulatorDeadline is the regulator's clock.
//
// Enforces MTL-7.2 (evidence of MTL-5.1.1): no personal-data breach
// passes incident.regulator_notification from awareness without the
// initial report to the authority recorded.
func incidentRegulatorDeadline(src Sources) Check {
	return Check{
		Name:    "incident.regulator-deadline",
		Clauses: []string{"MTL-5.1.1"},
		Description: "Reads the regulator's clock (incident.regulator_notification from awareness, stopped by the initial submission " +
			"recorded, not due when the breach decision finds no risk to people) of every incident open now or closed within the last " +
			"evidence interval, drills left out. Fails when one passed its deadline with no submission, or the submission was late; " +
			"warns in the clock's last tenth.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil {
				return Result{}, errUnavailable("incident response")
			}
			return clockEvidence(ctx, src, now, 1, "regulator's")
		},
	}
}

// incidentPhases checks that incidents went through the plan's phases.
//
// Enforces MTL-7.2 (evidence of CP-7.2): each incident passed through
// containment, eradication and recovery with the checklist of its plan
// version done at each phase it left.
func incidentPhases(src Sources) Check {
	return Check{
		Name:    "incident.phases",
		Clauses: []string{"CP-7.2"},
		Description: "Checks the response plan in force has a checklist for containment, eradication and recovery, and that every incident " +
			"open now or closed within the last evidence interval has each item of its plan version's checklist ticked for every phase it " +
			"has left. Fails on a plan without those checklists, or an incident that left a phase (or was closed) without its checklist done, " +
			"as happens when its record is changed outside Portico.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil {
				return Result{}, errUnavailable("incident response")
			}
			plan, err := src.Incidents.PlanInForce(ctx)
			if err != nil {
				return Result{}, err
			}
			figs := []Figure{{"plan in force", plan.Version}}
			for _, p := range []string{incident.PhaseContained, incident.PhaseEradicated, incident.PhaseRecovered} {
				if len(plan.Checklists[p]) == 0 {
					return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("the response plan in force (%s) has no checklist for the %s phase", plan.Version, p)}, nil
				}
			}
			incs, err := incidentsInScope(ctx, src, now)
			if err != nil {
				return Result{}, err
			}
			byPhase := map[string]int{}
			var skipped []string
			for _, inc := range incs {
				byPhase[inc.Phase]++
				at := slices.Index(incident.Phases, inc.Phase)
				if at < 0 {
					skipped = append(skipped, inc.ID)
					continue
				}
				for _, p := range incident.Phases[:at] {
					items, done, err := src.Incidents.Checklist(ctx, inc.ID, p)
					if err != nil {
						return Result{}, err
					}
					if slices.ContainsFunc(items, func(it incident.Item) bool { _, ok := done[it.Code]; return !ok }) {
						skipped = append(skipped, inc.ID)
						break
					}
				}
			}
			figs = append(figs, Figure{"incidents in scope", fmt.Sprint(len(incs))})
			for _, p := range incident.Phases {
				if byPhase[p] > 0 {
					figs = append(figs, Figure{"in phase " + p, fmt.Sprint(byPhase[p])})
				}
			}
			if len(skipped) > 0 {
				figs = append(figs, Figure{"phases skipped", idList(skipped)})
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"%d incidents left a phase without its checklist done", len(skipped))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"every incident went through its phases with the plan's checklists done (%d in scope, plan %s)", len(incs), plan.Version)}, nil
		},
	}
}

// incidentNoticesDelivered checks the breach notices sent.
//
// Enforces MTL-7.2 (evidence of CP-9.1, MTL-5.1.2): every notice sent
// holds each part the law asks, and reached each affected customer.
func incidentNoticesDelivered(src Sources) Check {
	return Check{
		Name:    "incident.notices-delivered",
		Clauses: []string{"CP-9.1", "MTL-5.1.2"},
		Description: "Reads every notice sent for an incident open now or closed within the last evidence interval, drills left out. " +
			"Fails when a sent notice lacks a part (nature, consequences, measures, advice, contact; a follow-up's corrective actions or steps), " +
			"when an affected customer has no delivery of the breach notice (the affected set grew after it was sent) or a breach " +
			"notice's recipient has none of a follow-up; warns when a delivery's email failed and the customer has not read it in the portal.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil {
				return Result{}, errUnavailable("incident response")
			}
			incs, err := incidentsInScope(ctx, src, now)
			if err != nil {
				return Result{}, err
			}
			var sent, delivered, failed int
			var incomplete, unreached []string
			for _, inc := range incs {
				notices, err := src.Incidents.Notices(ctx, inc.ID)
				if err != nil {
					return Result{}, err
				}
				recipients := map[string][]string{} // notice ID: accounts delivered to
				for _, n := range notices {
					if n.SentAt.IsZero() {
						continue
					}
					dl, counts, err := src.Incidents.Deliveries(ctx, n.ID, 0)
					if err != nil {
						return Result{}, err
					}
					failed += counts[incident.DeliveryFailed]
					for _, d := range dl {
						recipients[n.ID] = append(recipients[n.ID], d.AccountID)
					}
				}
				affected, err := src.Incidents.Affected(ctx, inc.ID)
				if err != nil {
					return Result{}, err
				}
				for _, n := range notices {
					if n.SentAt.IsZero() {
						continue
					}
					sent++
					if len(n.Missing()) > 0 {
						incomplete = append(incomplete, n.ID)
					}
					got := recipients[n.ID]
					delivered += len(got)
					want := affected
					if n.Kind == incident.NoticeFollowUp {
						want = recipients[n.ParentID]
					}
					for _, acct := range want {
						if !slices.Contains(got, acct) {
							unreached = append(unreached, n.ID)
							break
						}
					}
				}
			}
			figs := []Figure{{"incidents in scope", fmt.Sprint(len(incs))}, {"notices sent", fmt.Sprint(sent)},
				{"deliveries", fmt.Sprint(delivered)}, {"emails failed", fmt.Sprint(failed)}}
			switch {
			case len(incomplete)+len(unreached) > 0:
				if len(incomplete) > 0 {
					figs = append(figs, Figure{"sent without a part", idList(incomplete)})
				}
				if len(unreached) > 0 {
					figs = append(figs, Figure{"not delivered to every recipient", idList(unreached)})
				}
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"%d sent notices lack a part the law asks and %d have not reached every customer they are for", len(incomplete), len(unreached))}, nil
			case failed > 0:
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
					"every notice is complete and delivered, but %d emails failed to customers who have not read the notice in the portal", failed)}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"every sent notice is complete and delivered to each customer it is for (%d notices, %d deliveries)", sent, delivered)}, nil
		},
	}
}

// incidentFollowUpSteps checks that the steps asked of customers are
// followed up.
//
// Enforces MTL-7.2 (evidence of CP-9.2): every customer asked to take
// steps who has not done them all is reminded once incident.ReminderAfter
// has passed.
func incidentFollowUpSteps(src Sources) Check {
	return Check{
		Name:    "incident.follow-up-steps",
		Clauses: []string{"CP-9.2"},
		Description: "Counts the deliveries of notices that ask customers to take steps, how many steps are done, and those older than " +
			"the reminder delay (incident.ReminderAfter, 72 h) that the reminder pass has not handled. Warns while such a reminder is less " +
			"than a tenth of that delay late (the pass runs every minute), fails after: the customers' steps are no longer followed up.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil || src.DB == nil {
				return Result{}, errUnavailable("incident response")
			}
			var withSteps int
			var oldest time.Time
			var pending int
			if err := src.DB.QueryRowContext(ctx,
				`SELECT COUNT(*) FROM incident_deliveries d JOIN incident_notices i ON i.id = d.notice_id WHERE i.steps <> '[]'`).Scan(&withSteps); err != nil {
				return Result{}, err
			}
			const unreminded = ` FROM incident_deliveries d JOIN incident_notices i ON i.id = d.notice_id
				 WHERE i.steps <> '[]' AND d.reminded_at IS NULL AND d.created_at < $1`
			before := now.Add(-incident.ReminderAfter)
			if err := src.DB.QueryRowContext(ctx, `SELECT COUNT(*)`+unreminded, before).Scan(&pending); err != nil {
				return Result{}, err
			}
			if pending > 0 {
				if err := src.DB.QueryRowContext(ctx, `SELECT d.created_at`+unreminded+` ORDER BY d.created_at LIMIT 1`, before).Scan(&oldest); err != nil {
					return Result{}, err
				}
			}
			figs := []Figure{{"deliveries with steps", fmt.Sprint(withSteps)}, {"reminders due and not sent", fmt.Sprint(pending)}}
			// Progress of the steps on the incidents in scope.
			incs, err := incidentsInScope(ctx, src, now)
			if err != nil {
				return Result{}, err
			}
			var done, of int
			for _, inc := range incs {
				notices, err := src.Incidents.Notices(ctx, inc.ID)
				if err != nil {
					return Result{}, err
				}
				for _, n := range notices {
					if n.SentAt.IsZero() {
						continue
					}
					prog, err := src.Incidents.Progress(ctx, n)
					if err != nil {
						return Result{}, err
					}
					for _, p := range prog {
						done, of = done+p.Done, of+p.Of
					}
				}
			}
			figs = append(figs, Figure{"steps done (incidents in scope)", fmt.Sprintf("%d of %d", done, of)})
			if pending > 0 {
				due := db.Time(oldest).Add(incident.ReminderAfter)
				figs = append(figs, Figure{"oldest reminder due", dateOf(due)})
				if now.Sub(due) > incident.ReminderAfter/10 {
					return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
						"%d customers asked to take steps were not reminded (oldest reminder due %s)", pending, dateOf(due))}, nil
				}
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
					"%d reminders of the steps asked of customers are due and not sent yet (oldest due %s)", pending, dateOf(due))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"the steps asked of customers are tracked and every reminder due was sent (%d of %d steps done)", done, of)}, nil
		},
	}
}

// installedAt is when the installation started: its first account (now
// when there is none).
func installedAt(ctx context.Context, d *db.DB, now time.Time) (time.Time, error) {
	var first time.Time
	err := d.QueryRowContext(ctx, `SELECT created_at FROM accounts ORDER BY created_at LIMIT 1`).Scan(&first)
	if errors.Is(err, sql.ErrNoRows) {
		return now, nil
	}
	return db.Time(first), err
}

// incidentPlanCurrent checks the response plan.
//
// Enforces MTL-7.2 (evidence of MTL-5.2.1): an approved version of the
// response plan is in force, owned by the security team, and reviewed
// within governance.policy_review_interval.
func incidentPlanCurrent(src Sources) Check {
	return Check{
		Name:    "incident.plan-current",
		Clauses: []string{"MTL-5.2.1"},
		Description: "Reads the response plan's versions. Fails when no version was approved one review interval " +
			"(governance.policy_review_interval) after the installation started, or the version in force is past its review date; " +
			"warns while only the built-in plan is in force within that first interval, in the last tenth before the review date, " +
			"or when the plan's owner is no longer an active member of the security team.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil || src.DB == nil {
				return Result{}, errUnavailable("incident response")
			}
			interval := src.Profile.Governance.PolicyReviewInterval.Duration
			versions, err := src.Incidents.PlanVersions(ctx)
			if err != nil {
				return Result{}, err
			}
			var inForce *incident.PlanDoc
			for i := range versions {
				if versions[i].InForce {
					inForce = &versions[i]
				}
			}
			figs := []Figure{{"versions", fmt.Sprint(len(versions))}}
			if inForce == nil {
				start, err := installedAt(ctx, src.DB, now)
				if err != nil {
					return Result{}, err
				}
				due := start.Add(interval)
				figs = append(figs, Figure{"plan in force", incident.BuiltinPlan.Version}, Figure{"first approval due", dateOf(due)})
				if now.After(due) {
					return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
						"no version of the response plan was approved; one was due by %s", dateOf(due))}, nil
				}
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
					"the built-in response plan is in force; approve a version of it by %s", dateOf(due))}, nil
			}
			figs = append(figs, Figure{"version in force", fmt.Sprint(inForce.Version)}, Figure{"approved", dateOf(inForce.ApprovedAt)},
				Figure{"review due", dateOf(inForce.ReviewDue)})
			owned, err := identity.ActiveStaffMember(ctx, src.DB, inForce.Owner, access.RoleSecurity)
			if err != nil {
				return Result{}, err
			}
			switch {
			case now.After(inForce.ReviewDue):
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"the response plan in force (version %d) is past its review, due %s", inForce.Version, dateOf(inForce.ReviewDue))}, nil
			case inForce.ReviewDue.Sub(now) <= interval/10:
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
					"the response plan in force (version %d) is due for review on %s", inForce.Version, dateOf(inForce.ReviewDue))}, nil
			case !owned:
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
					"the response plan in force (version %d) is current, but its owner is no longer an active member of the security team", inForce.Version)}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"an approved response plan is in force (version %d), review due %s", inForce.Version, dateOf(inForce.ReviewDue))}, nil
		},
	}
}

// incidentExerciseCurrent checks the exercises of the plan.
//
// Enforces MTL-7.2 (evidence of MTL-5.2.2): the plan was exercised within
// incident.exercise_interval and what the exercises found is fixed in
// time.
func incidentExerciseCurrent(src Sources) Check {
	return Check{
		Name:    "incident.exercise-current",
		Clauses: []string{"MTL-5.2.2"},
		Description: "Reads when the next exercise of the response plan is due (the last one held plus incident.exercise_interval, " +
			"or the installation's start plus the interval) and the exercises' findings in the findings register. Fails when the " +
			"exercise is overdue or a finding of an exercise is open past its due date; warns in the last tenth of the interval.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Incidents == nil || src.Findings == nil {
				return Result{}, errUnavailable("incident response and the findings register")
			}
			due, err := src.Incidents.NextExerciseDue(ctx)
			if err != nil {
				return Result{}, err
			}
			exercises, err := src.Incidents.Exercises(ctx)
			if err != nil {
				return Result{}, err
			}
			open, err := src.Findings.List(ctx, findings.Filter{Open: true, Source: findings.SourceExercise})
			if err != nil {
				return Result{}, err
			}
			var late []string
			for _, f := range open {
				if f.OverdueAt(now) {
					late = append(late, f.ID)
				}
			}
			figs := []Figure{{"exercises held", fmt.Sprint(len(exercises))}, {"next due", dateOf(due)},
				{"open findings", fmt.Sprint(len(open))}, {"findings overdue", fmt.Sprint(len(late))}}
			interval := src.Profile.Incident.ExerciseInterval.Duration
			switch {
			case now.After(due) && len(late) > 0:
				figs = append(figs, Figure{"overdue findings", idList(late)})
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"the response plan's exercise is overdue (due %s) and %d of its findings are past their due date", dateOf(due), len(late))}, nil
			case now.After(due):
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("the response plan's exercise is overdue (due %s)", dateOf(due))}, nil
			case len(late) > 0:
				figs = append(figs, Figure{"overdue findings", idList(late)})
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("%d findings of the exercises are past their due date", len(late))}, nil
			case due.Sub(now) <= interval/10:
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf("the response plan's next exercise is due on %s", dateOf(due))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"the response plan is exercised on time (next due %s) and no finding of an exercise is overdue", dateOf(due))}, nil
		},
	}
}

// detectRunning checks that the rules follow the audit trail.
//
// Enforces MTL-7.2 (evidence of CP-8.1, CP-8.2, CP-3.2): a node runs the
// detection rules, and they have read the audit trail up to a few seconds
// ago.
func detectRunning(src Sources) Check {
	return Check{
		Name:    "detect.rules-running",
		Clauses: []string{"CP-8.1", "CP-8.2", "CP-3.2"},
		Description: fmt.Sprintf("Reads the detection rules' cursor in the audit trail, the trail's head and the rules' lease. "+
			"Fails when no node holds the lease (the rules stopped), or an event has waited for the rules longer than the lease (%s: "+
			"a running node reads the trail every second).", detect.MaxLag),
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Detect == nil {
				return Result{}, errUnavailable("detection")
			}
			p, err := src.Detect.Progress(ctx)
			if err != nil {
				return Result{}, err
			}
			figs := []Figure{{"cursor", fmt.Sprint(p.Cursor)}, {"audit head", fmt.Sprint(p.Head)},
				{"events unread", fmt.Sprint(p.Head - p.Cursor)}, {"rules", fmt.Sprint(len(src.Profile.Detection.Rules()))}}
			if !p.LeaseUntil.IsZero() {
				figs = append(figs, Figure{"lease until", dateOf(p.LeaseUntil)})
			}
			lag := time.Duration(0)
			if !p.OldestUnread.IsZero() {
				lag = now.Sub(p.OldestUnread)
				figs = append(figs, Figure{"oldest unread event", dateOf(p.OldestUnread)})
			}
			switch {
			case p.LeaseUntil.IsZero():
				return Result{Status: Fail, Figures: figs, Summary: "the detection rules have never run"}, nil
			case now.After(p.LeaseUntil):
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"no node runs the detection rules: their lease ended %s, %d events unread", dateOf(p.LeaseUntil), p.Head-p.Cursor)}, nil
			case lag > detect.MaxLag:
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"the detection rules are behind the audit trail: %d events unread, the oldest waiting %s", p.Head-p.Cursor, lag.Round(time.Second))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"the detection rules follow the audit trail: event %d of %d read, %d rules, lease held", p.Cursor, p.Head, len(src.Profile.Detection.Rules()))}, nil
		},
	}
}

// triageLimit is how long an alert or a report may wait for the security
// team: an incident opened from it is detected at its first occurrence
// (or filing), so past incident.customer_notification any notice would
// already be late. A high alert gets half of it, when the customers'
// clock would warn at half time.
func triageLimit(src Sources, severity string) time.Duration {
	limit := src.Profile.Incident.CustomerNotification.Duration
	if severity == detect.SeverityHigh {
		limit /= 2
	}
	return limit
}

// detectAlertsTriaged checks that the security team looks at its alerts.
//
// Enforces MTL-7.2 (evidence of CP-3.2, CP-8.1): an active security team
// with second factors exists, and no alert waits unseen beyond the time
// its customers' clock would allow.
func detectAlertsTriaged(src Sources) Check {
	return Check{
		Name:    "detect.alerts-triaged",
		Clauses: []string{"CP-3.2", "CP-8.1"},
		Description: "Counts the active members of the security team with a second factor, and the alerts still new (nobody " +
			"acknowledged, dismissed or escalated them) by age. Fails when no active security member has a second factor, or an " +
			"alert has been new longer than incident.customer_notification (half of it for a high alert): an incident from it would " +
			"already be past its customers' deadline. Warns at half of that.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Detect == nil || src.DB == nil {
				return Result{}, errUnavailable("detection")
			}
			var members int
			var withFactor sql.NullInt64
			if err := src.DB.QueryRowContext(ctx,
				`SELECT COUNT(*), SUM(CASE WHEN a.totp_enabled_at IS NOT NULL OR EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = a.id) THEN 1 ELSE 0 END)
				 FROM accounts a WHERE a.role = $1 AND a.status = 'active'`, string(access.RoleSecurity)).Scan(&members, &withFactor); err != nil {
				return Result{}, err
			}
			alerts, err := src.Detect.Alerts(ctx, detect.Filter{States: []string{detect.StateNew}, Limit: 500})
			if err != nil {
				return Result{}, err
			}
			var late, near []string
			for _, a := range alerts {
				limit := triageLimit(src, a.Severity)
				switch age := now.Sub(a.FirstAt); {
				case age > limit:
					late = append(late, a.ID)
				case age > limit/2:
					near = append(near, a.ID)
				}
			}
			figs := []Figure{{"security members", fmt.Sprint(members)}, {"with a second factor", fmt.Sprint(withFactor.Int64)},
				{"alerts new", fmt.Sprint(len(alerts))}}
			switch {
			case withFactor.Int64 == 0:
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"no active member of the security team with a second factor watches the alerts (%d members)", members)}, nil
			case len(late) > 0:
				figs = append(figs, Figure{"past the triage limit", idList(late)})
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("%d alerts have waited for triage past their limit", len(late))}, nil
			case len(near) > 0:
				figs = append(figs, Figure{"past half the limit", idList(near)})
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf("%d alerts have waited for triage past half their limit", len(near))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"the security team (%d of %d with a second factor) has triaged every alert within its limit (%d new)", withFactor.Int64, members, len(alerts))}, nil
		},
	}
}

// detectReportsTriaged checks the customers' suspicious-activity reports.
//
// Enforces MTL-7.2 (evidence of CP-7.3): no report waits for the security
// team beyond the time its customers' clock would allow.
func detectReportsTriaged(src Sources) Check {
	return Check{
		Name:    "detect.reports-triaged",
		Clauses: []string{"CP-7.3"},
		Description: "Counts the customers' suspicious-activity reports by state and the age of the oldest one open (with the security " +
			"team, not waiting for the customer, escalated or closed). Fails when one has been open longer than " +
			"incident.customer_notification (an incident from it is detected at its filing); warns at half of that.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Detect == nil {
				return Result{}, errUnavailable("detection")
			}
			counts, err := src.Detect.ReportCounts(ctx)
			if err != nil {
				return Result{}, err
			}
			open, err := src.Detect.Reports(ctx, detect.ReportFilter{States: []string{detect.ReportOpen}, Limit: 500})
			if err != nil {
				return Result{}, err
			}
			limit := triageLimit(src, "")
			var late, near []string
			for _, r := range open {
				switch age := now.Sub(r.CreatedAt); {
				case age > limit:
					late = append(late, r.ID)
				case age > limit/2:
					near = append(near, r.ID)
				}
			}
			figs := []Figure{}
			for _, st := range []string{detect.ReportOpen, detect.ReportWaiting, detect.ReportEscalated, detect.ReportClosed} {
				figs = append(figs, Figure{"reports " + st, fmt.Sprint(counts[st])})
			}
			if len(open) > 0 {
				figs = append(figs, Figure{"oldest open since", dateOf(open[0].CreatedAt)})
			}
			switch {
			case len(late) > 0:
				figs = append(figs, Figure{"past the triage limit", idList(late)})
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
					"%d suspicious-activity reports have been open longer than %s (oldest filed %s)", len(late), limit, dateOf(open[0].CreatedAt))}, nil
			case len(near) > 0:
				figs = append(figs, Figure{"past half the limit", idList(near)})
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
					"%d suspicious-activity reports have been open longer than %s", len(near), limit/2)}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
				"every suspicious-activity report was taken up within %s (%d open)", limit, len(open))}, nil
		},
	}
}
