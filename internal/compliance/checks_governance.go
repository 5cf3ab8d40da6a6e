package compliance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/vulncheck"
)

// governanceChecks are the evidence of the organisational clauses: the
// vendor register, the policy documents, the findings register and its
// assessments, the OSV and currency checks of the binary, staff training
// and the compliance evidence itself. They read the same registers, with
// the same domain functions, as the governance overview page.
func governanceChecks(src Sources) []Check {
	return []Check{
		vendorsAssessedCheck(src),
		vendorEndpointsCheck(src),
		vendorAgreementsCheck(src),
		vendorExpiryAlertedCheck(src),
		policyReviewsCheck(src),
		findingsRemediationCheck(src),
		assessmentsCheck(src),
		internalAuditCheck(src),
		osvCheck(src),
		currencyCheck(src),
		trainingCheck(src),
		evidenceScheduleCheck(src),
		govBuildCheck(src),
	}
}

// govDay is a date in a summary or a figure.
func govDay(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02")
}

// govStatus is Fail when any of fail is above zero, else Warn when any of
// warn is, else Pass.
func govStatus(fail, warn int) Status {
	switch {
	case fail > 0:
		return Fail
	case warn > 0:
		return Warn
	}
	return Pass
}

// govEarliest keeps the earlier of two non-zero times.
func govEarliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// govN is a count with its noun: "1 finding", "2 findings".
func govN(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprint(n) + " " + many
}

// govDur is a duration for people: "60 days", "2 hours".
func govDur(d time.Duration) string { return policy.Duration{Duration: d}.Human() }

// govFigure is a count figure.
func govFigure(label string, n int) Figure { return Figure{label, fmt.Sprint(n)} }

// vendorsAssessedCheck: CP-10.1 "every vendor assessed within its interval".
//
// Enforces MTL-7.2 (evidence of CP-10.1, MTL-6.1): every vendor in use has
// an approved assessment whose reassessment is not past due.
func vendorsAssessedCheck(src Sources) Check {
	return Check{
		Name:    "thirdparty.vendors-assessed",
		Clauses: []string{"CP-10.1", "MTL-6.1"},
		Description: "Reads the vendor register: every vendor not retired whose assessment was approved must be reassessed before its review date " +
			"(approval plus governance.vendor_review_interval). Fails when a vendor's reassessment is past due or an approved vendor has no " +
			"approved assessment; warns when one falls due within a tenth of the interval. Proposed vendors not yet assessed are counted, not failed.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Vendors == nil {
				return Result{}, errUnavailable("the vendor register")
			}
			vs, err := src.Vendors.List(ctx)
			if err != nil {
				return Result{}, err
			}
			near := src.Profile.Governance.VendorReviewInterval.Duration / 10
			var active, approved, current, overdue, never, soon, awaiting int
			var next, late time.Time
			for _, v := range vs {
				if v.Status == thirdparty.StatusRetired {
					continue
				}
				active++
				isApproved := v.Status == thirdparty.StatusApproved
				if isApproved {
					approved++
				}
				switch {
				case v.ReviewDue.IsZero() && isApproved:
					never++
				case v.ReviewDue.IsZero():
					awaiting++
				case now.After(v.ReviewDue):
					overdue++
					late = govEarliest(late, v.ReviewDue)
				default:
					current++
					next = govEarliest(next, v.ReviewDue)
					if now.Add(near).After(v.ReviewDue) {
						soon++
					}
				}
			}
			figs := []Figure{
				govFigure("vendors (not retired)", active), govFigure("approved", approved),
				govFigure("assessed and current", current), govFigure("reassessment overdue", overdue),
				govFigure("approved without an approved assessment", never), govFigure("proposed, not yet assessed", awaiting),
				govFigure("reassessment due within a tenth of the interval", soon), {"next reassessment due", govDay(next)},
			}
			r := Result{Status: govStatus(overdue+never, soon), Figures: figs}
			switch {
			case overdue+never > 0:
				r.Summary = fmt.Sprintf("%d of %d vendors not assessed within their interval (%s overdue, the oldest due %s; %d approved without an assessment)",
					overdue+never, active, govN(overdue, "reassessment", "reassessments"), govDay(late), never)
			case soon > 0:
				r.Summary = fmt.Sprintf("every vendor assessed within its interval (%d of %d); %s due, the first by %s", current, active, govN(soon, "reassessment", "reassessments"), govDay(next))
			default:
				r.Summary = fmt.Sprintf("every vendor assessed within its interval (%d of %d assessed, %d proposed awaiting assessment)", current, active, awaiting)
			}
			return r, nil
		},
	}
}

// vendorEndpointsCheck: CP-10.2 continuous monitoring of third parties.
//
// Enforces MTL-7.2 (evidence of CP-10.2): every endpoint of every vendor
// not retired was checked recently, and the last check was not bad.
func vendorEndpointsCheck(src Sources) Check {
	return Check{
		Name:    "thirdparty.endpoints-monitored",
		Clauses: []string{"CP-10.2"},
		Description: "Reads the endpoint check history of every vendor not retired: each endpoint's last check must be younger than twice " +
			"governance.vendor_check_interval (a vendor registered more recently may not have been checked yet). Fails when an endpoint was " +
			"not checked within that time or its last check was bad (unreachable, weak TLS, an expired certificate); warns when the last check warned.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Vendors == nil {
				return Result{}, errUnavailable("the vendor register")
			}
			vs, err := src.Vendors.List(ctx)
			if err != nil {
				return Result{}, err
			}
			limit := 2 * src.Profile.Governance.VendorCheckInterval.Duration
			var endpoints, good, warn, bad, stale, pending int
			var oldest time.Time
			for _, v := range vs {
				if v.Status == thirdparty.StatusRetired || len(v.Endpoints) == 0 {
					continue
				}
				// The history is newest first; each pass checks every
				// endpoint, so the last few passes hold each one's latest.
				recs, err := src.Vendors.Checks(ctx, v.ID, 10*len(v.Endpoints)+10)
				if err != nil {
					return Result{}, err
				}
				for _, ep := range v.Endpoints {
					endpoints++
					var last *thirdparty.CheckRecord
					for i := range recs {
						if recs[i].Endpoint == ep {
							last = &recs[i]
							break
						}
					}
					switch {
					case last == nil && now.Sub(v.CreatedAt) <= limit:
						pending++
						continue
					case last == nil:
						stale++
						continue
					case now.Sub(last.CheckedAt) > limit:
						stale++
						oldest = govEarliest(oldest, last.CheckedAt)
						continue
					}
					oldest = govEarliest(oldest, last.CheckedAt)
					switch last.Status {
					case thirdparty.CheckGood:
						good++
					case thirdparty.CheckWarn:
						warn++
					default:
						bad++
					}
				}
			}
			figs := []Figure{
				govFigure("endpoints", endpoints), govFigure("last check good", good), govFigure("last check warned", warn),
				govFigure("last check bad", bad), govFigure("not checked within twice the interval", stale),
				govFigure("new, not checked yet", pending), {"oldest last check", govDay(oldest)},
				{"limit", govDur(limit)},
			}
			r := Result{Status: govStatus(bad+stale, warn), Figures: figs}
			switch {
			case bad+stale > 0:
				r.Summary = fmt.Sprintf("%d of %d vendor endpoints fail monitoring: %d bad at their last check, %d not checked within %s", bad+stale, endpoints, bad, stale, govDur(limit))
			case warn > 0:
				r.Summary = fmt.Sprintf("every vendor endpoint checked within %s; %d of %d warned at their last check", govDur(limit), warn, endpoints)
			default:
				r.Summary = fmt.Sprintf("every vendor endpoint checked within %s and good (%d of %d; %d new, not checked yet)", govDur(limit), good, endpoints, pending)
			}
			return r, nil
		},
	}
}

// vendorAgreementsCheck: MTL-6.2 agreements with every vendor, in force.
//
// Enforces MTL-7.2 (evidence of MTL-6.2): every approved vendor has an
// agreement in force, and no vendor's latest agreement of a kind has
// expired.
func vendorAgreementsCheck(src Sources) Check {
	return Check{
		Name:    "thirdparty.agreements",
		Clauses: []string{"MTL-6.2"},
		Description: "Reads the contracts and DPAs of every vendor not retired, the latest of each kind: fails when one has expired (and no later " +
			"one of the same kind replaces it) or when an approved vendor has no agreement in force; warns when one expires within " +
			"governance.contract_expiry_warning. Agreements in force that lack one of the security clauses are counted.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Vendors == nil {
				return Result{}, errUnavailable("the vendor register")
			}
			vs, err := src.Vendors.List(ctx)
			if err != nil {
				return Result{}, err
			}
			warning := src.Profile.Governance.ContractExpiryWarning.Duration
			var approved, covered, missing, expired, expiring, lacking int
			var firstExpired, nextExpiry time.Time
			for _, v := range vs {
				if v.Status == thirdparty.StatusRetired {
					continue
				}
				ags, err := src.Vendors.Agreements(ctx, v.ID)
				if err != nil {
					return Result{}, err
				}
				// The latest of each kind: an earlier one was replaced.
				latest := map[string]thirdparty.Agreement{}
				for _, a := range ags {
					if l, ok := latest[a.Kind]; !ok || a.ExpiresOn.After(l.ExpiresOn) {
						latest[a.Kind] = a
					}
				}
				inForce := false
				for _, a := range latest {
					switch {
					case a.ExpiredAt(now):
						expired++
						firstExpired = govEarliest(firstExpired, a.ExpiresOn)
						continue
					case now.Add(warning).After(a.ExpiresOn):
						expiring++
					}
					nextExpiry = govEarliest(nextExpiry, a.ExpiresOn)
					if !a.StartsOn.After(now) {
						inForce = true
						if len(a.Missing()) > 0 {
							lacking++
						}
					}
				}
				if v.Status != thirdparty.StatusApproved {
					continue
				}
				approved++
				if inForce {
					covered++
				} else {
					missing++
				}
			}
			figs := []Figure{
				govFigure("approved vendors", approved), govFigure("with an agreement in force", covered),
				govFigure("approved without an agreement in force", missing), govFigure("agreements expired", expired),
				govFigure("agreements expiring within the warning", expiring), govFigure("agreements in force lacking a security clause", lacking),
				{"first expired", govDay(firstExpired)}, {"next expiry", govDay(nextExpiry)},
			}
			r := Result{Status: govStatus(expired+missing, expiring), Figures: figs}
			switch {
			case expired+missing > 0:
				var parts []string
				if expired > 0 {
					parts = append(parts, fmt.Sprintf("%s expired (the first on %s)", govN(expired, "vendor agreement", "vendor agreements"), govDay(firstExpired)))
				}
				if missing > 0 {
					parts = append(parts, fmt.Sprintf("%d of %d approved vendors without an agreement in force", missing, approved))
				}
				r.Summary = strings.Join(parts, "; ")
			case expiring > 0:
				r.Summary = fmt.Sprintf("every approved vendor has an agreement in force (%d of %d); %s within %s, the next on %s",
					covered, approved, govN(expiring, "agreement expires", "agreements expire"), govDur(warning), govDay(nextExpiry))
			default:
				r.Summary = fmt.Sprintf("every approved vendor has an agreement in force (%d of %d); none expires within %s", covered, approved, govDur(warning))
			}
			return r, nil
		},
	}
}

// govAlerted reports whether the audit trail holds action on target for the
// due date due, as the vendor monitoring pass records each warning once.
func govAlerted(ctx context.Context, d *db.DB, action, target string, due time.Time) (bool, error) {
	rows, err := db.Strings(ctx, d, `SELECT details FROM audit_events WHERE action = $1 AND target = $2`, action, target)
	if err != nil {
		return false, err
	}
	want := due.UTC().Format(time.RFC3339)
	for _, r := range rows {
		var m struct{ Due string }
		if json.Unmarshal([]byte(r), &m) == nil && m.Due == want {
			return true, nil
		}
	}
	return false, nil
}

// vendorExpiryAlertedCheck: CP-10.2 continuous monitoring of the expiry
// of assessments and contracts.
//
// Enforces MTL-7.2 (evidence of CP-10.2): every reassessment past due and
// every agreement expiring or expired was raised by the monitoring pass.
func vendorExpiryAlertedCheck(src Sources) Check {
	return Check{
		Name:    "thirdparty.expiry-alerted",
		Clauses: []string{"CP-10.2"},
		Description: "Reads the vendor register and the audit trail: every reassessment past due and every latest agreement of its kind " +
			"that has expired (governance.overdue) or expires within governance.contract_expiry_warning (vendor.agreement_expiring), of " +
			"vendors not retired, must have been raised by the monitoring pass. Fails when one has gone unraised for longer than twice " +
			"governance.vendor_check_interval (the pass has stopped, or misses it).",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Vendors == nil || src.DB == nil {
				return Result{}, errUnavailable("the vendor register")
			}
			vs, err := src.Vendors.List(ctx)
			if err != nil {
				return Result{}, err
			}
			limit := 2 * src.Profile.Governance.VendorCheckInterval.Duration
			warning := src.Profile.Governance.ContractExpiryWarning.Duration
			var due, raised, missed int
			var oldest time.Time
			// expect counts one matter that has been due since since.
			expect := func(action, target string, at, since time.Time) error {
				if now.Sub(since) <= limit {
					return nil // the next pass may not have run yet
				}
				due++
				ok, err := govAlerted(ctx, src.DB, action, target, at)
				if err != nil {
					return err
				}
				if ok {
					raised++
				} else {
					missed++
					oldest = govEarliest(oldest, since)
				}
				return nil
			}
			for _, v := range vs {
				if v.Status == thirdparty.StatusRetired {
					continue
				}
				if !v.ReviewDue.IsZero() && now.After(v.ReviewDue) {
					if err := expect("governance.overdue", "vendor_review:"+v.ID, v.ReviewDue, v.ReviewDue); err != nil {
						return Result{}, err
					}
				}
				ags, err := src.Vendors.Agreements(ctx, v.ID)
				if err != nil {
					return Result{}, err
				}
				latest := map[string]thirdparty.Agreement{}
				for _, a := range ags {
					if l, ok := latest[a.Kind]; !ok || a.ExpiresOn.After(l.ExpiresOn) {
						latest[a.Kind] = a
					}
				}
				for _, a := range latest {
					// A matter is due a warning from its date, or from when
					// the agreement was recorded if that was later.
					from := func(t time.Time) time.Time {
						if a.CreatedAt.After(t) {
							return a.CreatedAt
						}
						return t
					}
					switch {
					case a.ExpiredAt(now):
						err = expect("governance.overdue", "agreement:"+a.ID, a.ExpiresOn, from(a.ExpiresOn))
					case now.Add(warning).After(a.ExpiresOn):
						err = expect("vendor.agreement_expiring", "agreement:"+a.ID, a.ExpiresOn, from(a.ExpiresOn.Add(-warning)))
					}
					if err != nil {
						return Result{}, err
					}
				}
			}
			figs := []Figure{govFigure("reassessments and agreements due a warning", due), govFigure("raised", raised),
				govFigure("not raised", missed), {"oldest not raised since", govDay(oldest)}, {"allowed delay", govDur(limit)}}
			if missed > 0 {
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("%d of %d vendor reassessments or agreements due a warning were not raised within %s (the oldest due since %s)",
					missed, due, govDur(limit), govDay(oldest))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf("every vendor reassessment past due and agreement expiring or expired was raised (%d of %d)", raised, due)}, nil
		},
	}
}

// policyReviewsCheck: CP-11.2 annual review, or on significant change.
//
// Enforces MTL-7.2 (evidence of CP-11.2): no policy document is past its
// review date, and the reviews a significant change asked for are shown.
func policyReviewsCheck(src Sources) Check {
	return Check{
		Name:    "governance.policy-reviews",
		Clauses: []string{"CP-11.2"},
		Description: "Reads the policy documents: fails when none is in force (no approved version) or a document's periodic review " +
			"(approval or last review plus governance.policy_review_interval) is past due; warns when a significant change asked for a " +
			"review not yet held, a review falls due within a tenth of the interval, or a document still awaits its first approval.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.PolicyDocs == nil {
				return Result{}, errUnavailable("the policy documents")
			}
			docs, err := src.PolicyDocs.Documents(ctx)
			if err != nil {
				return Result{}, err
			}
			near := src.Profile.Governance.PolicyReviewInterval.Duration / 10
			var inForce, overdue, requested, soon, unapproved int
			var late, next time.Time
			for _, d := range docs {
				if d.InForce == 0 {
					unapproved++
					continue
				}
				inForce++
				switch {
				case d.Overdue(now):
					overdue++
					late = govEarliest(late, d.ReviewDue)
				case !d.ReviewDue.IsZero():
					next = govEarliest(next, d.ReviewDue)
					if now.Add(near).After(d.ReviewDue) {
						soon++
					}
				}
				if d.ReviewRequested() {
					requested++
				}
			}
			none := 0
			if inForce == 0 {
				none = 1
			}
			figs := []Figure{
				govFigure("documents", len(docs)), govFigure("in force", inForce), govFigure("review overdue", overdue),
				govFigure("review requested by a significant change", requested), govFigure("review due within a tenth of the interval", soon),
				govFigure("awaiting their first approval", unapproved), {"next review due", govDay(next)},
			}
			r := Result{Status: govStatus(overdue+none, requested+soon+unapproved), Figures: figs}
			switch {
			case none > 0:
				r.Summary = fmt.Sprintf("no policy document is in force (%d awaiting their first approval)", unapproved)
			case overdue > 0:
				r.Summary = fmt.Sprintf("%d of %d policy documents past their review date (the oldest due %s)", overdue, inForce, govDay(late))
			case requested+soon+unapproved > 0:
				r.Summary = fmt.Sprintf("no policy document past its review date (%d in force); %s by a significant change, %s by %s, %d awaiting first approval",
					inForce, govN(requested, "review requested", "reviews requested"), govN(soon, "review due", "reviews due"), govDay(next), unapproved)
			default:
				r.Summary = fmt.Sprintf("every policy document in force and reviewed within its interval (%d; next review due %s)", inForce, govDay(next))
			}
			return r, nil
		},
	}
}

// govOpenAt reports whether a finding still needs work at now: open, in
// progress, or accepted until a date that has passed (the overdue pass
// reopens it).
func govOpenAt(f findings.Finding, now time.Time) bool {
	if f.Status == findings.StatusAccepted {
		return !f.AcceptedUntil.IsZero() && !now.Before(f.AcceptedUntil)
	}
	return !f.Closed()
}

// findingsRemediationCheck: MTL-4.3.2 patches applied promptly.
//
// Enforces MTL-7.2 (evidence of MTL-4.3.2, CP-6.2): no finding is past
// its remediation deadline.
func findingsRemediationCheck(src Sources) Check {
	return Check{
		Name:    "findings.remediation",
		Clauses: []string{"MTL-4.3.2", "CP-6.2"},
		Description: "Reads the findings register: fails when a finding still open (or in progress, or an accepted risk whose acceptance " +
			"has ended) is past its remediation deadline (governance.remediation by severity); warns when one falls due within a tenth of " +
			"its severity's remediation time. Risks accepted until a later date are not counted as open.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Findings == nil {
				return Result{}, errUnavailable("the findings register")
			}
			all, err := src.Findings.List(ctx, findings.Filter{})
			if err != nil {
				return Result{}, err
			}
			open, late := map[string]int{}, map[string]int{}
			var nOpen, nLate, soon, accepted int
			var oldest, next time.Time
			for _, f := range all {
				if f.Status == findings.StatusAccepted && !govOpenAt(f, now) {
					accepted++
					continue
				}
				if !govOpenAt(f, now) {
					continue
				}
				nOpen++
				open[f.Severity]++
				switch {
				case now.After(f.DueAt):
					nLate++
					late[f.Severity]++
					oldest = govEarliest(oldest, f.DueAt)
				default:
					next = govEarliest(next, f.DueAt)
					if now.Add(src.Findings.Remediation(f.Severity) / 10).After(f.DueAt) {
						soon++
					}
				}
			}
			figs := []Figure{govFigure("open", nOpen), govFigure("past their deadline", nLate)}
			for _, sev := range findings.Severities {
				figs = append(figs, Figure{sev + " open (past deadline)", fmt.Sprintf("%d (%d)", open[sev], late[sev])})
			}
			figs = append(figs, govFigure("due within a tenth of their remediation time", soon), govFigure("accepted risks in force", accepted),
				Figure{"oldest deadline passed", govDay(oldest)}, Figure{"next deadline", govDay(next)})
			r := Result{Status: govStatus(nLate, soon), Figures: figs}
			switch {
			case nLate > 0:
				r.Summary = fmt.Sprintf("%s past the remediation deadline (oldest due %s) of %d open", govN(nLate, "finding", "findings"), govDay(oldest), nOpen)
			case soon > 0:
				r.Summary = fmt.Sprintf("no finding past its remediation deadline (%d open); %s soon, the next on %s", nOpen, govN(soon, "is due", "are due"), govDay(next))
			default:
				r.Summary = fmt.Sprintf("no finding past its remediation deadline (%d open, %d accepted risks in force)", nOpen, accepted)
			}
			return r, nil
		},
	}
}

// assessmentsCheck: CP-6.2, MTL-4.3.1 regular assessments.
//
// Enforces MTL-7.2 (evidence of MTL-4.3.1, CP-6.2): the last assessment
// was performed within governance.assessment_interval.
func assessmentsCheck(src Sources) Check {
	return Check{
		Name:    "findings.assessments",
		Clauses: []string{"MTL-4.3.1", "CP-6.2"},
		Description: "Reads the assessments register: the next assessment is due governance.assessment_interval after the last one performed " +
			"(or after the installation's start when none was recorded), as the overdue alert counts it. Fails once that date has passed; " +
			"warns within a tenth of the interval before it.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Findings == nil {
				return Result{}, errUnavailable("the findings register")
			}
			due, err := src.Findings.NextAssessmentDue(ctx)
			if err != nil {
				return Result{}, err
			}
			as, err := src.Findings.Assessments(ctx)
			if err != nil {
				return Result{}, err
			}
			last := "none recorded"
			if len(as) > 0 {
				last = govDay(as[0].PerformedAt) + " (" + findings.KindName(as[0].Kind) + ", assessment " + as[0].ID + ")"
			}
			near := src.Profile.Governance.AssessmentInterval.Duration / 10
			figs := []Figure{{"last assessment", last}, govFigure("assessments recorded", len(as)), {"next due", govDay(due)}}
			switch {
			case now.After(due):
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("the assessment due on %s is overdue (last: %s)", govDay(due), last)}, nil
			case now.Add(near).After(due):
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf("assessments within their interval (last: %s); the next is due on %s", last, govDay(due))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf("assessments within their interval (last: %s; next due %s)", last, govDay(due))}, nil
		},
	}
}

// govInstalledAt is when the installation started: its first account (zero
// when it has none).
func govInstalledAt(ctx context.Context, d *db.DB) (time.Time, error) {
	var t time.Time
	err := d.QueryRowContext(ctx, `SELECT created_at FROM accounts ORDER BY created_at LIMIT 1`).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return db.Time(t), err
}

// internalAuditCheck: MTL-7.2 regular audits of compliance, the internal
// audits recorded with their findings.
//
// Enforces MTL-7.2: an internal audit was performed within
// governance.assessment_interval.
func internalAuditCheck(src Sources) Check {
	return Check{
		Name:    "findings.internal-audit",
		Clauses: []string{"MTL-7.2"},
		Description: "Reads the assessments register for internal audits (kind audit, with scope, auditor, date and findings): the last one " +
			"must be younger than governance.assessment_interval (a new installation has one interval from its start for its first). " +
			"Fails past that; warns within a tenth of the interval before it.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Findings == nil || src.DB == nil {
				return Result{}, errUnavailable("the findings register")
			}
			as, err := src.Findings.Assessments(ctx)
			if err != nil {
				return Result{}, err
			}
			interval := src.Profile.Governance.AssessmentInterval.Duration
			var last *findings.Assessment
			audits := 0
			for i := range as {
				if as[i].Kind == findings.AssessmentAudit {
					audits++
					if last == nil {
						last = &as[i]
					}
				}
			}
			var due time.Time
			lastText := "none recorded"
			found, open := 0, 0
			if last != nil {
				due = last.PerformedAt.Add(interval)
				lastText = govDay(last.PerformedAt) + " (assessment " + last.ID + ")"
				fs, err := src.Findings.List(ctx, findings.Filter{Assessment: last.ID})
				if err != nil {
					return Result{}, err
				}
				for _, f := range fs {
					found++
					if govOpenAt(f, now) {
						open++
					}
				}
			} else {
				start, err := govInstalledAt(ctx, src.DB)
				if err != nil {
					return Result{}, err
				}
				if start.IsZero() {
					start = now
				}
				due = start.Add(interval)
			}
			figs := []Figure{{"last internal audit", lastText}, govFigure("internal audits recorded", audits),
				govFigure("findings of the last audit", found), govFigure("of which open", open), {"next due", govDay(due)}}
			switch {
			case now.After(due):
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("the internal audit due on %s is overdue (last: %s)", govDay(due), lastText)}, nil
			case now.Add(interval / 10).After(due):
				return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf("internal audit within its interval (last: %s); the next is due on %s", lastText, govDay(due))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf("internal audit within its interval (last: %s; next due %s)", lastText, govDay(due))}, nil
		},
	}
}

// vulncheckLimit is how old the last OSV or currency check may be: a
// critical advisory published just after a check must still be found in
// time to be fixed within governance.remediation.critical, so the check
// runs at least once in that time (docs/vulnerabilities.md suggests daily).
func vulncheckLimit(src Sources) time.Duration {
	return src.Profile.Governance.Remediation.Critical.Duration
}

// isCurrencyFinding reports whether a vulncheck finding is about a
// version behind (filed by the currency check), not an advisory.
func isCurrencyFinding(f findings.Finding) bool {
	return strings.HasPrefix(f.SourceID, "outdated:")
}

// vulncheckFindings counts the open findings of the vulncheck source,
// advisories or currency, and those past their deadline.
func vulncheckFindings(ctx context.Context, src Sources, now time.Time, currency bool) (open, late int, err error) {
	fs, err := src.Findings.List(ctx, findings.Filter{Source: findings.SourceVulncheck})
	if err != nil {
		return 0, 0, err
	}
	for _, f := range fs {
		if isCurrencyFinding(f) != currency || !govOpenAt(f, now) {
			continue
		}
		open++
		if now.After(f.DueAt) {
			late++
		}
	}
	return open, late, nil
}

// osvCheck: MTL-4.1.2 known vulnerabilities patched.
//
// Enforces MTL-7.2 (evidence of MTL-4.1.2): the OSV check of the running
// binary ran recently and found no known vulnerability, or each it found
// is a finding within its deadline.
func osvCheck(src Sources) Check {
	return Check{
		Name:    "vulncheck.osv",
		Clauses: []string{"MTL-4.1.2"},
		Description: "Reads the last OSV check recorded (portico vulncheck --osv DIR --file-findings, audited as vulncheck.run): fails when none " +
			"was recorded, when it is older than governance.remediation.critical (a critical advisory must be found in time to be fixed in " +
			"time), or when an advisory it found is a finding past its deadline; warns when it found advisories still within their deadlines, " +
			"when it checked a binary of another Go version than the running one, or when it nears its age limit.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Findings == nil {
				return Result{}, errUnavailable("the findings register")
			}
			last, ok, err := src.Findings.LastVulncheck(ctx)
			if err != nil {
				return Result{}, err
			}
			limit := vulncheckLimit(src)
			if !ok {
				return Result{Status: Fail, Summary: "the OSV check of the running binary has never been recorded (portico vulncheck --osv DIR --file-findings)",
					Figures: []Figure{{"last OSV check", "never"}, {"limit", govDur(limit)}}}, nil
			}
			running := ""
			if m, err := vulncheck.Current(); err == nil {
				running = m.GoVersion
			}
			open, late, err := vulncheckFindings(ctx, src, now, false)
			if err != nil {
				return Result{}, err
			}
			age := now.Sub(last.At)
			figs := []Figure{
				{"last OSV check", last.At.UTC().Format(time.RFC3339)}, {"checked Go", last.GoVersion}, {"running Go", running},
				govFigure("modules checked", last.Modules), govFigure("vulnerable modules found", last.Vulnerable),
				govFigure("advisory findings open", open), govFigure("advisory findings past their deadline", late), {"limit", govDur(limit)},
			}
			r := Result{Figures: figs}
			switch {
			case age > limit:
				r.Status, r.Summary = Fail, fmt.Sprintf("the last OSV check was on %s, older than %s", govDay(last.At), govDur(limit))
			case last.Vulnerable > 0 && late > 0:
				r.Status, r.Summary = Fail, fmt.Sprintf("the OSV database of %s finds %s; %s past the deadline",
					govDay(last.At), govN(last.Vulnerable, "vulnerable module", "vulnerable modules"), govN(late, "advisory finding is", "advisory findings are"))
			case last.Vulnerable > 0:
				r.Status, r.Summary = Warn, fmt.Sprintf("the OSV database of %s finds %s, each a finding within its remediation deadline",
					govDay(last.At), govN(last.Vulnerable, "vulnerable module", "vulnerable modules"))
			case running != "" && last.GoVersion != running:
				r.Status, r.Summary = Warn, fmt.Sprintf("no module in the OSV database of %s is vulnerable, but that check was of a %s build and %s runs now: run it again",
					govDay(last.At), last.GoVersion, running)
			case age > limit-limit/10:
				r.Status, r.Summary = Warn, fmt.Sprintf("no module in the OSV database of %s is vulnerable; the check is due again before %s", govDay(last.At), govDay(last.At.Add(limit)))
			default:
				r.Status, r.Summary = Pass, fmt.Sprintf("no module in the OSV database of %s is vulnerable (%s, %d modules)", govDay(last.At), last.GoVersion, last.Modules)
			}
			return r, nil
		},
	}
}

// currencyCheck: MTL-4.1.2 the latest stable versions.
//
// Enforces MTL-7.2 (evidence of MTL-4.1.2): Go and the modules were
// compared with their latest releases recently, and nothing the product
// files as outdated is past its deadline.
func currencyCheck(src Sources) Check {
	return Check{
		Name:    "vulncheck.currency",
		Clauses: []string{"MTL-4.1.2"},
		Description: "Reads the last currency check recorded (portico vulncheck --updates --file-findings, audited as vulncheck.updates): fails " +
			"when none was recorded or it is older than governance.remediation.critical, when the running Go's release line is no longer " +
			"supported, or when an outdated-version finding is past its deadline; warns when Go is not the latest patch of its line or a module " +
			"is behind by a major or minor version (the product files both as findings). A module behind by a patch is counted only.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Findings == nil {
				return Result{}, errUnavailable("the findings register")
			}
			last, ok, err := src.Findings.LastCurrency(ctx)
			if err != nil {
				return Result{}, err
			}
			limit := vulncheckLimit(src)
			if !ok {
				return Result{Status: Fail, Summary: "the currency check of Go and the modules has never been recorded (portico vulncheck --updates --file-findings)",
					Figures: []Figure{{"last currency check", "never"}, {"limit", govDur(limit)}}}, nil
			}
			majorMinor := 0
			for _, o := range last.Outdated {
				if o.Behind == vulncheck.BehindMajor || o.Behind == vulncheck.BehindMinor {
					majorMinor++
				}
			}
			open, late, err := vulncheckFindings(ctx, src, now, true)
			if err != nil {
				return Result{}, err
			}
			figs := []Figure{
				{"last currency check", last.At.UTC().Format(time.RFC3339)}, {"Go", last.GoVersion}, {"latest of its line", last.GoLatest},
				{"Go supported", fmt.Sprint(last.GoSupported)}, {"Go current", fmt.Sprint(last.GoCurrent)},
				govFigure("modules", last.Modules), govFigure("behind", last.Behind), govFigure("behind by a major or minor version", majorMinor),
				govFigure("unknown", last.Unknown), govFigure("outdated-version findings open", open),
				govFigure("outdated-version findings past their deadline", late), {"limit", govDur(limit)},
			}
			r := Result{Figures: figs}
			switch {
			case now.Sub(last.At) > limit:
				r.Status, r.Summary = Fail, fmt.Sprintf("the last currency check was on %s, older than %s", govDay(last.At), govDur(limit))
			case !last.GoSupported:
				r.Status, r.Summary = Fail, fmt.Sprintf("%s is on a Go release line no longer supported (newest %s)", last.GoVersion, last.GoNewest)
			case late > 0:
				r.Status, r.Summary = Fail, fmt.Sprintf("%s past the deadline (check of %s)", govN(late, "outdated-version finding is", "outdated-version findings are"), govDay(last.At))
			case !last.GoCurrent || majorMinor > 0:
				r.Status, r.Summary = Warn, fmt.Sprintf("at the check of %s, Go %s (latest %s) and %s behind by a major or minor version, each a finding within its deadline",
					govDay(last.At), last.GoVersion, last.GoLatest, govN(majorMinor, "module", "modules"))
			default:
				r.Status, r.Summary = Pass, fmt.Sprintf("Go %s is current and no module is behind by more than a patch (check of %s, %d modules, %d behind by a patch or pre-release)",
					last.GoVersion, govDay(last.At), last.Modules, last.Behind)
			}
			return r, nil
		},
	}
}

// trainingCheck: MTL-8.1 security awareness training.
//
// Enforces MTL-7.2 (evidence of MTL-8.1): every active member of staff
// has current training; those overdue are restricted by the gate, and
// still fail the clause.
func trainingCheck(src Sources) Check {
	return Check{
		Name:    "training.current",
		Clauses: []string{"MTL-8.1"},
		Description: "Reads every active staff account (contractors included) and its training due date (last training plus " +
			"governance.training_interval, or the account's start plus governance.training_grace): fails when anyone's training is overdue " +
			"(they work restricted to their own pages until it is done, but the clause does not hold for them) or no training module is " +
			"active; warns when a renewal falls due within a tenth of the interval. New staff within their grace are counted.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Training == nil || src.Identity == nil || src.DB == nil {
				return Result{}, errUnavailable("the training register")
			}
			o, err := src.Training.Overview(ctx)
			if err != nil {
				return Result{}, err
			}
			modules := 0
			for _, m := range o.Modules {
				if m.Active {
					modules++
				}
			}
			staff, err := identity.ActiveStaff(ctx, src.DB, "")
			if err != nil {
				return Result{}, err
			}
			near := src.Profile.Governance.TrainingInterval.Duration / 10
			var total, current, overdue, soon, grace, alerted int
			var next time.Time
			for _, st := range staff {
				a, err := src.Identity.Account(ctx, st.ID)
				if err != nil {
					return Result{}, err
				}
				due := src.Identity.TrainingDue(a)
				if due.IsZero() {
					continue
				}
				total++
				switch {
				case !now.Before(due):
					overdue++
					// The reminders' pass records the overdue alert to
					// the security team once per due date.
					var n int
					if err := src.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_reminders WHERE account_id = $1 AND due = $2 AND kind = 'overdue'`,
						a.ID, due.UTC().Format(time.RFC3339)).Scan(&n); err != nil {
						return Result{}, err
					}
					if n > 0 {
						alerted++
					}
				case a.TrainingCompletedAt.IsZero():
					grace++
					next = govEarliest(next, due)
				default:
					current++
					next = govEarliest(next, due)
					if now.Add(near).After(due) {
						soon++
					}
				}
			}
			var reminders int
			if err := src.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_reminders WHERE sent_at > $1`,
				now.Add(-src.Profile.Governance.TrainingInterval.Duration)).Scan(&reminders); err != nil {
				return Result{}, err
			}
			noModule := 0
			if modules == 0 && total > 0 {
				noModule = 1
			}
			figs := []Figure{
				govFigure("active staff", total), govFigure("training current", current), govFigure("overdue (restricted)", overdue),
				govFigure("overdue with the alert recorded", alerted), govFigure("new, within their grace", grace),
				govFigure("renewal due within a tenth of the interval", soon), govFigure("active modules", modules),
				govFigure("reminders and alerts in the last interval", reminders), {"next due", govDay(next)},
			}
			r := Result{Status: govStatus(overdue+noModule, soon), Figures: figs}
			switch {
			case overdue > 0:
				r.Summary = fmt.Sprintf("staff training current: %d of %d, %d overdue (restricted)", current+grace, total, overdue)
			case noModule > 0:
				r.Summary = fmt.Sprintf("no training module is active for %d members of staff", total)
			case soon > 0:
				r.Summary = fmt.Sprintf("staff training current: %d of %d; %s, the first by %s", current+grace, total, govN(soon, "renewal due", "renewals due"), govDay(next))
			default:
				r.Summary = fmt.Sprintf("staff training current: %d of %d (%d within their first grace)", current+grace, total, grace)
			}
			return r, nil
		},
	}
}

// evidenceScheduleCheck: MTL-7.2 regular audits of compliance, the live
// evidence taken on its schedule.
//
// Enforces MTL-7.2: the evidence of every clause is taken regularly.
func evidenceScheduleCheck(src Sources) Check {
	return Check{
		Name:    "compliance.evidence-schedule",
		Clauses: []string{"MTL-7.2"},
		Description: "Reads the stored evidence runs: the run before this one (a check runs before its own run is stored) must be younger " +
			"than twice governance.evidence_interval, and a tenth for the timer (a run on demand delays the next scheduled one by up to an " +
			"interval). Fails when it is older, or when evidence was never taken on an installation older than that.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.DB == nil {
				return Result{}, errUnavailable("the database")
			}
			every := src.Profile.Governance.EvidenceInterval.Duration
			limit := 2*every + every/10
			var runs int
			if err := src.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM compliance_runs WHERE started_at > $1`, now.Add(-24*time.Hour)).Scan(&runs); err != nil {
				return Result{}, err
			}
			var last time.Time
			err := src.DB.QueryRowContext(ctx, `SELECT started_at FROM compliance_runs WHERE started_at <= $1 ORDER BY started_at DESC LIMIT 1`, now).Scan(&last)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return Result{}, err
			}
			figs := []Figure{{"interval", govDur(every)}, govFigure("runs in the last 24 hours", runs)}
			if errors.Is(err, sql.ErrNoRows) {
				start, err := govInstalledAt(ctx, src.DB)
				if err != nil {
					return Result{}, err
				}
				figs = append(figs, Figure{"previous run", "never"}, Figure{"installation started", govDay(start)})
				if !start.IsZero() && now.Sub(start) > limit {
					return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("evidence was never taken before now, on an installation started on %s", govDay(start))}, nil
				}
				return Result{Status: Pass, Figures: figs, Summary: "this is the first taking of evidence of a new installation"}, nil
			}
			last = db.Time(last)
			age := now.Sub(last)
			figs = append(figs, Figure{"previous run", last.UTC().Format(time.RFC3339)})
			if age > limit {
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("the evidence was last taken at %s, more than twice its interval of %s ago", last.UTC().Format(time.RFC3339), govDur(every))}, nil
			}
			return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf("the evidence is taken on schedule: the run before was at %s (interval %s, %d runs in 24 hours)",
				last.UTC().Format(time.RFC3339), govDur(every), runs)}, nil
		},
	}
}

// govBuildCheck: MTL-4.1.1 secure coding and code reviews, as far as the
// running system can show them.
//
// Enforces MTL-7.2 (evidence of MTL-4.1.1): the code running is code of
// the repository as committed, which is what the review process covers.
func govBuildCheck(src Sources) Check {
	return Check{
		Name:    "build.committed-source",
		Clauses: []string{"MTL-4.1.1"},
		Description: "Reads the running binary's build information: passes when it was built from a commit with no uncommitted change " +
			"(vcs.revision recorded, vcs.modified false) or as a released version (a version tag); fails for a build from a tree with " +
			"uncommitted changes, or one that records neither a commit nor a release (go run, a copied development build). It shows only " +
			"that the code running is code of the repository, which the review checklist of the pull-request template and the secure-coding " +
			"rules of the test suite (internal/codecheck) cover; the practices themselves are proven by those tests, not by the running system.",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Build == nil {
				return Result{}, errUnavailable("the build information")
			}
			i := src.Build()
			rev := i.Revision
			if len(rev) > 12 {
				rev = rev[:12]
			}
			dirty := i.Modified || strings.Contains(i.Version, "+dirty")
			released := semver.IsValid(i.Version) && !dirty
			figs := []Figure{{"version", i.Version}, {"commit", rev}, {"uncommitted changes", fmt.Sprint(dirty)}, {"Go", i.GoVersion}}
			switch {
			case dirty:
				return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf("the running binary was built from a tree with uncommitted changes (commit %s): its code did not all go through review", rev)}, nil
			case rev != "":
				return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf("the running binary was built from commit %s with no uncommitted change (version %s)", rev, i.Version)}, nil
			case released:
				return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf("the running binary is the published version %s of the repository", i.Version)}, nil
			}
			return Result{Status: Fail, Figures: figs, Summary: "the running binary records neither its commit nor a released version: its code cannot be traced to the reviewed repository"}, nil
		},
	}
}
