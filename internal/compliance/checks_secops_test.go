package compliance_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
)

// secT0 is when the security-operations tests start.
var secT0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// secEnv is a world with a clock and a security team of two.
type secEnv struct {
	*world
	t         *testing.T
	ctx       context.Context
	d         *db.DB
	clock     *dbtest.Clock
	sec, sec2 string
}

// eachSecops runs fn on each database with a fresh world at secT0.
func eachSecops(t *testing.T, fn func(t *testing.T, e *secEnv)) {
	clock := dbtest.NewClock(secT0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(secT0)
		e := &secEnv{world: newWorld(t, d, nil), t: t, ctx: context.Background(), d: d, clock: clock}
		e.sec = e.account("sec1@example.test", access.RoleSecurity)
		e.sec2 = e.account("sec2@example.test", access.RoleSecurity)
		fn(t, e)
	})
}

func (e *secEnv) account(email string, role access.Role) string {
	e.t.Helper()
	a, err := e.sv.Identity.CreateAccount(e.ctx, identity.NewAccount{Email: email, Role: role, Password: "correct horse battery staple 42"})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

func (e *secEnv) want(what, check string, status compliance.Status) {
	e.t.Helper()
	wantStatus(e.t, what, e.check(e.t, check), status)
}

func (e *secEnv) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// openIncident opens an incident now affecting every active customer.
func (e *secEnv) openIncident() incident.Incident {
	e.t.Helper()
	inc, err := e.sv.Incidents.Open(e.ctx, incident.NewIncident{Title: "Stolen passwords", Severity: "high", Category: "account takeover"}, e.sec)
	e.ok(err)
	_, err = e.sv.Incidents.SetAffected(e.ctx, inc.ID, incident.Query{Kind: "all"})
	e.ok(err)
	return inc
}

func breachDraft(steps ...string) incident.Draft {
	return incident.Draft{Kind: incident.NoticeBreach, Title: "A security incident affecting your account",
		Nature: "Someone signed in with passwords stolen elsewhere.", Consequences: "They could read your tickets.",
		Measures: "We ended every session.", Advice: "Choose a new password.", Contact: "security@example.test", Steps: steps}
}

// notify sends a breach notice of the incident now (lateReason when past
// the customers' deadline).
func (e *secEnv) notify(incID, lateReason string, steps ...string) string {
	e.t.Helper()
	id, err := e.sv.Incidents.SaveDraft(e.ctx, incID, "", "", breachDraft(steps...), e.sec)
	e.ok(err)
	_, err = e.sv.Incidents.Send(e.ctx, incID, id, lateReason, e.sec)
	e.ok(err)
	return id
}

// TestIncidentCustomerDeadlineEvidence (CP-7.1, MTL-5.1.2): passes while
// customers are told within incident.customer_notification, warns in the
// last tenth, fails once an incident is past it without a notice, and
// still fails when the notice goes out late with its reason.
func TestIncidentCustomerDeadlineEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.customer-deadline"
		e.account("c1@example.test", access.RoleCustomer)
		e.want("no incident", name, compliance.Pass)
		inc1 := e.openIncident()
		e.clock.Add(time.Hour)
		e.notify(inc1.ID, "")
		e.want("customers told within the hour", name, compliance.Pass)
		inc2 := e.openIncident()
		within := e.st.Profile.Incident.CustomerNotification.Duration
		e.clock.Add(within - within/20)
		e.want("an incident in the last tenth of its customers' clock", name, compliance.Warn)
		e.clock.Add(within / 10)
		e.want("an incident past its customers' deadline without a notice", name, compliance.Fail)
		e.notify(inc2.ID, "The mail server was down.")
		e.want("customers told late, with the reason", name, compliance.Fail)
	})
}

// TestIncidentRegulatorDeadlineEvidence (MTL-5.1.1): passes while the
// regulator's report is in time or not due, warns in the last tenth,
// fails past the deadline without a submission and after a late one.
func TestIncidentRegulatorDeadlineEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.regulator-deadline"
		e.account("c1@example.test", access.RoleCustomer)
		noRisk := e.openIncident()
		e.ok(e.sv.Incidents.Decide(e.ctx, noRisk.ID, incident.Decision{Reasoning: "Only public data."}, e.sec))
		inc := e.openIncident()
		e.ok(e.sv.Incidents.Decide(e.ctx, inc.ID, incident.Decision{PersonalData: true, Risk: true, Reasoning: "Passwords taken."}, e.sec))
		e.want("a breach with its clock running", name, compliance.Pass)
		within := e.st.Profile.Incident.RegulatorNotification.Duration
		e.clock.Add(within - within/20)
		e.want("a breach in the last tenth of the regulator's clock", name, compliance.Warn)
		e.clock.Add(within / 10)
		e.want("a breach past the regulator's deadline", name, compliance.Fail)
		e.ok(e.sv.Incidents.RecordSubmission(e.ctx, inc.ID, incident.Submission{Authority: "CNIL", Reference: "R-1",
			LateReason: "The scope took days to establish."}, e.sec))
		e.want("a late submission", name, compliance.Fail)
	})
}

// walk ticks every item of each phase's checklist and moves the incident
// on until it is closed, as the security team does.
func (e *secEnv) walk(id string) {
	e.t.Helper()
	for {
		inc, err := e.sv.Incidents.Get(e.ctx, id)
		e.ok(err)
		if inc.Phase == incident.PhaseClosed {
			return
		}
		items, _, err := e.sv.Incidents.Checklist(e.ctx, id, inc.Phase)
		e.ok(err)
		for _, it := range items {
			e.ok(e.sv.Incidents.Check(e.ctx, id, it.Code, e.sec))
		}
		_, err = e.sv.Incidents.Advance(e.ctx, id, e.sec)
		e.ok(err)
	}
}

// TestIncidentPhasesEvidence (CP-7.2): an incident walked through every
// phase with the plan's checklists passes; one closed in the database
// without them, or whose ticks were deleted, fails.
func TestIncidentPhasesEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.phases"
		e.account("c1@example.test", access.RoleCustomer)
		done := e.openIncident()
		e.walk(done.ID)
		open := e.openIncident()
		e.want("an incident walked through its phases and an open one", name, compliance.Pass)
		exec(t, e.d, `UPDATE incidents SET phase = 'closed', closed_at = $1 WHERE id = $2`, e.d.Now(), open.ID)
		e.want("an incident closed without its phases", name, compliance.Fail)
		exec(t, e.d, `DELETE FROM incidents WHERE id = $1`, open.ID)
		e.want("the skipped incident gone", name, compliance.Pass)
		exec(t, e.d, `DELETE FROM incident_checks WHERE incident_id = $1 AND phase = 'eradicated'`, done.ID)
		e.want("an incident whose eradication checklist is not done", name, compliance.Fail)
	})
}

// TestIncidentNoticesEvidence (CP-9.1, MTL-5.1.2): a complete notice
// delivered to every affected customer passes; a customer found affected
// after it was sent fails until it is sent to them too; a failed email
// not read in the portal warns; a notice whose part was erased fails.
func TestIncidentNoticesEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.notices-delivered"
		e.account("c1@example.test", access.RoleCustomer)
		e.account("c2@example.test", access.RoleCustomer)
		inc := e.openIncident()
		n := e.notify(inc.ID, "")
		e.want("a notice delivered to both affected customers", name, compliance.Pass)
		c3 := e.account("c3@example.test", access.RoleCustomer)
		_, err := e.sv.Incidents.SetAffected(e.ctx, inc.ID, incident.Query{Kind: "all"})
		e.ok(err)
		e.want("a customer found affected after the notice", name, compliance.Fail)
		_, err = e.sv.Incidents.Send(e.ctx, inc.ID, n, "", e.sec)
		e.ok(err)
		e.want("the notice sent to the new customer too", name, compliance.Pass)
		exec(t, e.d, `UPDATE outbox SET status = 'failed' WHERE account_id = $1`, c3)
		e.want("an email failed and the notice unread", name, compliance.Warn)
		exec(t, e.d, `UPDATE incident_notices SET consequences = '' WHERE id = $1`, n)
		e.want("a sent notice without its consequences", name, compliance.Fail)
	})
}

// TestIncidentFollowUpEvidence (CP-9.2): the steps a notice asks are
// followed up: a reminder due warns, one left unsent beyond a tenth of
// the delay fails, and the reminder pass makes it pass.
func TestIncidentFollowUpEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.follow-up-steps"
		e.account("c1@example.test", access.RoleCustomer)
		inc := e.openIncident()
		e.notify(inc.ID, "", incident.StepChangePassword)
		e.want("steps asked, reminder not due", name, compliance.Pass)
		e.clock.Add(incident.ReminderAfter + time.Minute)
		e.want("a reminder due", name, compliance.Warn)
		e.clock.Add(incident.ReminderAfter / 10)
		e.want("a reminder never sent", name, compliance.Fail)
		_, err := e.sv.Incidents.Remind(e.ctx)
		e.ok(err)
		e.want("the reminder sent", name, compliance.Pass)
	})
}

// TestIncidentPlanEvidence (MTL-5.2.1): the built-in plan warns within
// the first review interval and fails after it; an approved version
// passes, warns when its owner leaves the security team and in the last
// tenth before its review, and fails past it.
func TestIncidentPlanEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.plan-current"
		interval := e.st.Profile.Governance.PolicyReviewInterval.Duration
		e.want("the built-in plan on a new installation", name, compliance.Warn)
		e.clock.Add(interval + time.Hour)
		e.want("no plan approved after a review interval", name, compliance.Fail)
		doc, err := e.sv.Incidents.DraftPlan(e.ctx, incident.BuiltinPlanMarkdown(), e.sec, e.sec)
		e.ok(err)
		_, err = e.sv.Incidents.ApprovePlan(e.ctx, doc.Version, e.sec2)
		e.ok(err)
		e.want("an approved plan", name, compliance.Pass)
		exec(t, e.d, `UPDATE accounts SET status = 'disabled' WHERE id = $1`, e.sec)
		e.want("the plan's owner gone from the security team", name, compliance.Warn)
		exec(t, e.d, `UPDATE accounts SET status = 'active' WHERE id = $1`, e.sec)
		e.clock.Add(interval - interval/20)
		e.want("the plan's review near", name, compliance.Warn)
		e.clock.Add(interval / 10)
		e.want("the plan's review overdue", name, compliance.Fail)
	})
}

// TestIncidentExerciseEvidence (MTL-5.2.2): the exercise warns in the
// last tenth of its interval, fails once overdue, passes once held, and
// fails again when a finding of the exercise passes its due date.
func TestIncidentExerciseEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "incident.exercise-current"
		interval := e.st.Profile.Incident.ExerciseInterval.Duration
		e.want("a new installation", name, compliance.Pass)
		e.clock.Add(interval - interval/20)
		e.want("the first exercise near", name, compliance.Warn)
		e.clock.Add(interval / 10)
		e.want("no exercise within the interval", name, compliance.Fail)
		ex, err := e.sv.Incidents.RecordExercise(e.ctx, incident.Exercise{Kind: incident.ExerciseTabletop, Scenario: "Stolen passwords",
			HeldAt: e.d.Now(), Participants: []string{e.sec, e.sec2}},
			[]incident.Finding{{Text: "Nobody knew where the contact list was", Severity: "low", Owner: e.sec}}, e.sec)
		e.ok(err)
		e.want("an exercise held", name, compliance.Pass)
		e.clock.Set(ex.Findings[0].DueAt.Add(time.Hour))
		r := e.check(t, name)
		wantStatus(t, "a finding of the exercise past its due date", r, compliance.Fail)
		if !slices.Contains(r.Figures, compliance.Figure{Label: "findings overdue", Value: "1"}) {
			t.Errorf("the finding overdue is not what fails: %s %v", r.Summary, r.Figures)
		}
	})
}

// TestDetectRunningEvidence (CP-8.1, CP-8.2, CP-3.2): the rules pass
// while a node steps through the trail; they fail before they ever ran,
// once their lease ends, and when a node holds the lease but events wait
// longer than it.
func TestDetectRunningEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "detect.rules-running"
		r := e.check(t, name)
		wantStatus(t, "rules never run", r, compliance.Fail)
		if !strings.Contains(r.Summary, "never") {
			t.Errorf("rules never run: %s", r.Summary)
		}
		_, err := e.sv.Detect.Step(e.ctx)
		e.ok(err)
		e.want("rules stepped", name, compliance.Pass)
		e.account("c1@example.test", access.RoleCustomer)
		e.clock.Add(time.Second)
		e.want("an event a second old", name, compliance.Pass)
		_, err = e.sv.Detect.Step(e.ctx)
		e.ok(err)
		e.clock.Add(detect.MaxLag + time.Second)
		e.want("the rules' node stopped, nothing left to read", name, compliance.Fail)
		_, err = e.sv.Detect.Step(e.ctx)
		e.ok(err)
		e.want("the rules running again", name, compliance.Pass)
		// A node that holds the lease but no longer reads (stuck on an
		// event it cannot store).
		exec(t, e.d, `UPDATE job_leases SET holder = 'stuck', expires_at = $1 WHERE name = 'detect.rules'`, e.d.Now().Add(time.Hour))
		e.account("c2@example.test", access.RoleCustomer)
		e.clock.Add(detect.MaxLag + time.Second)
		e.want("the rules stuck behind the trail", name, compliance.Fail)
	})
}

// TestDetectAlertsTriagedEvidence (CP-3.2, CP-8.1): fails without a
// security member holding a second factor; with one, an alert left new
// warns at half its limit and fails past it; acknowledging it passes.
func TestDetectAlertsTriagedEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "detect.alerts-triaged"
		e.want("no security member with a second factor", name, compliance.Fail)
		exec(t, e.d, `UPDATE accounts SET totp_enabled_at = $1 WHERE id = $2`, e.d.Now(), e.sec)
		e.want("a security member with a factor, no alert", name, compliance.Pass)
		c1 := e.account("c1@example.test", access.RoleCustomer)
		_, err := e.sv.Identity.ReportSuspicious(e.ctx, c1, "", "", "customer")
		e.ok(err)
		_, err = e.sv.Detect.Step(e.ctx)
		e.ok(err)
		alerts, err := e.sv.Detect.Alerts(e.ctx, detect.Filter{States: []string{detect.StateNew}})
		e.ok(err)
		if len(alerts) != 1 {
			t.Fatalf("%d new alerts, want the customer report's", len(alerts))
		}
		e.want("a new alert", name, compliance.Pass)
		limit := e.st.Profile.Incident.CustomerNotification.Duration
		if alerts[0].Severity == detect.SeverityHigh {
			limit /= 2
		}
		e.clock.Add(limit/2 + time.Minute)
		e.want("an alert new past half its limit", name, compliance.Warn)
		e.clock.Add(limit / 2)
		e.want("an alert new past its limit", name, compliance.Fail)
		e.ok(e.sv.Detect.SetState(e.ctx, alerts[0].ID, detect.StateAcknowledged, "", e.sec))
		e.want("the alert acknowledged", name, compliance.Pass)
	})
}

// TestDetectReportsTriagedEvidence (CP-7.3): a customer's report left
// open warns at half of incident.customer_notification and fails past
// it; closing it with an outcome passes.
func TestDetectReportsTriagedEvidence(t *testing.T) {
	eachSecops(t, func(t *testing.T, e *secEnv) {
		const name = "detect.reports-triaged"
		c1 := e.account("c1@example.test", access.RoleCustomer)
		id, err := e.sv.Identity.ReportSuspicious(e.ctx, c1, "", "A sign-in I do not know.", "customer")
		e.ok(err)
		e.want("a report just filed", name, compliance.Pass)
		limit := e.st.Profile.Incident.CustomerNotification.Duration
		e.clock.Add(limit/2 + time.Minute)
		e.want("a report open past half the limit", name, compliance.Warn)
		e.clock.Add(limit / 2)
		e.want("a report open past the limit", name, compliance.Fail)
		e.ok(e.sv.Detect.CloseReport(e.ctx, id, "no_evidence", "", e.sec))
		e.want("the report closed with its outcome", name, compliance.Pass)
	})
}
