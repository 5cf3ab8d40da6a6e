package thirdparty

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/vendorcheck"
)

// Check statuses in the history.
const (
	CheckGood = "good"
	CheckWarn = "warn"
	CheckBad  = "bad"
)

// CheckRecord is one check of one endpoint, as kept in the history.
type CheckRecord struct {
	ID, VendorID, Endpoint string
	CheckedAt              time.Time
	Reachable              bool
	TLSVersion, Cipher     string
	CertExpiry             time.Time
	HSTS, SecurityTxt      string
	Status                 string // CheckGood, CheckWarn or CheckBad
	Findings               string // the items that did not pass, for people
	Items                  []vendorcheck.Item
	// Degraded names the items worse than in the check before.
	Degraded []string
}

func checkStatus(r vendorcheck.Result) string {
	switch r.Worst() {
	case vendorcheck.Pass:
		return CheckGood
	case vendorcheck.Warn:
		return CheckWarn
	}
	return CheckBad
}

// record turns a vendorcheck result into a history row.
func record(vendorID string, r vendorcheck.Result, at time.Time) CheckRecord {
	c := CheckRecord{ID: strings.ToLower(rand.Text()), VendorID: vendorID, Endpoint: r.Endpoint, CheckedAt: at,
		Status: checkStatus(r), Items: r.Items, CertExpiry: r.CertNotAfter}
	if !r.CertNotAfter.IsZero() {
		c.CertExpiry = db.Time(r.CertNotAfter)
	}
	figure := func(name string) string {
		if it, ok := r.Item(name); ok {
			if it.Figure != "" {
				return it.Status.String() + ": " + it.Figure
			}
			return it.Status.String()
		}
		return "not checked"
	}
	it, ok := r.Item(vendorcheck.ItemReachable)
	c.Reachable = ok && it.Status == vendorcheck.Pass
	if it, ok := r.Item(vendorcheck.ItemTLSVersion); ok {
		c.TLSVersion = it.Figure
	}
	if it, ok := r.Item(vendorcheck.ItemCipherSuite); ok {
		c.Cipher = it.Figure
	}
	c.HSTS, c.SecurityTxt = figure(vendorcheck.ItemHSTS), figure(vendorcheck.ItemSecurityTxt)
	var f []string
	for _, it := range r.Items {
		if it.Status != vendorcheck.Pass {
			f = append(f, it.Name+" "+it.Status.String()+": "+it.Reason)
		}
	}
	c.Findings = strings.Join(f, "; ")
	return c
}

// CheckVendor checks each endpoint of a vendor now, keeps each result in
// the history and, when one is worse than the previous check of the same
// endpoint, appends vendor.check_degraded (which detection raises as a
// vendor_degraded alert). It returns the records.
//
// Enforces CP-10.2: vendor endpoints are checked against the live
// servers, the results kept as history, and a degradation is an alert.
func (s *Service) CheckVendor(ctx context.Context, id string) ([]CheckRecord, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	// The endpoints are checked at once (at most maxEndpoints), so that
	// "Check now" answers within one check's time, then kept in order.
	results := make([]vendorcheck.Result, len(v.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range v.Endpoints {
		wg.Go(func() { results[i] = vendorcheck.Check(ctx, ep, s.check) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var out []CheckRecord
	var errs []error
	for _, res := range results {
		c, err := s.keepCheck(ctx, v.ID, res)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// keepCheck stores one result and compares it with the endpoint's
// previous check, in one transaction.
func (s *Service) keepCheck(ctx context.Context, vendorID string, res vendorcheck.Result) (CheckRecord, error) {
	var c CheckRecord
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		c = record(vendorID, res, tx.Now())
		prev, err := s.lastCheck(ctx, tx, vendorID, res.Endpoint)
		if err != nil {
			return err
		}
		c.Degraded = res.Degraded(vendorcheck.Result{Items: prev.Items})
		items, _ := json.Marshal(res.Items)
		var expiry any
		if !c.CertExpiry.IsZero() {
			expiry = c.CertExpiry
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO vendor_checks (id, vendor_id, endpoint, checked_at, reachable, tls_version, cipher, cert_expiry,
			hsts, security_txt, status, findings, items) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			c.ID, vendorID, c.Endpoint, c.CheckedAt, c.Reachable, c.TLSVersion, c.Cipher, expiry, c.HSTS, c.SecurityTxt, c.Status, c.Findings, string(items)); err != nil {
			return err
		}
		if len(c.Degraded) == 0 {
			return nil
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: audit.ActorSystem, Action: "vendor.check_degraded", Target: "vendor:" + vendorID, Outcome: audit.Failure,
			Details: map[string]any{"endpoint": c.Endpoint, "summary": "vendor endpoint check got worse: " + strings.Join(c.Degraded, ", ") + " (now " + c.Status + ")"}})
		return err
	})
	return c, err
}

func (s *Service) lastCheck(ctx context.Context, q db.Reader, vendorID, endpoint string) (CheckRecord, error) {
	rows, err := s.checks(ctx, q, `WHERE vendor_id = $1 AND endpoint = $2 ORDER BY checked_at DESC, id LIMIT 1`, vendorID, endpoint)
	if err != nil || len(rows) == 0 {
		return CheckRecord{}, err
	}
	return rows[0], nil
}

// Checks returns a vendor's check history, the newest first, at most
// limit rows.
func (s *Service) Checks(ctx context.Context, vendorID string, limit int) ([]CheckRecord, error) {
	return s.checks(ctx, s.db, `WHERE vendor_id = $1 ORDER BY checked_at DESC, endpoint, id LIMIT $2`, vendorID, limit)
}

// LastStatus is the worst status of the latest check of each of a
// vendor's endpoints ("" when never checked).
func (s *Service) LastStatus(ctx context.Context, v Vendor) (string, error) {
	worst := ""
	rank := map[string]int{"": 0, CheckGood: 1, CheckWarn: 2, CheckBad: 3}
	for _, ep := range v.Endpoints {
		c, err := s.lastCheck(ctx, s.db, v.ID, ep)
		if err != nil {
			return "", err
		}
		if rank[c.Status] > rank[worst] {
			worst = c.Status
		}
	}
	return worst, nil
}

func (s *Service) checks(ctx context.Context, q db.Reader, where string, args ...any) ([]CheckRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, vendor_id, endpoint, checked_at, reachable, tls_version, cipher, cert_expiry, hsts, security_txt,
		status, findings, items FROM vendor_checks `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CheckRecord
	for rows.Next() {
		var c CheckRecord
		var expiry sql.NullTime
		var items string
		if err := rows.Scan(&c.ID, &c.VendorID, &c.Endpoint, &c.CheckedAt, &c.Reachable, &c.TLSVersion, &c.Cipher, &expiry, &c.HSTS, &c.SecurityTxt,
			&c.Status, &c.Findings, &items); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(items), &c.Items); err != nil {
			return nil, err
		}
		c.CheckedAt, c.CertExpiry = c.CheckedAt.UTC(), nullTime(expiry)
		out = append(out, c)
	}
	return out, rows.Err()
}

// CheckAll checks every endpoint of every vendor not retired.
func (s *Service) CheckAll(ctx context.Context) error {
	ids, err := db.Strings(ctx, s.db, `SELECT id FROM vendors WHERE status <> 'retired' ORDER BY id`)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := s.CheckVendor(ctx, id); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Warning is a vendor matter the security team is told of by email: an
// agreement that expires soon or has expired, a reassessment overdue.
type Warning struct {
	VendorID, VendorName string
	// Kind: "agreement_expiring", "agreement_expired" or "vendor_review".
	Kind string
	Due  time.Time
}

// SetWarned connects the delivery of warnings (email to the security
// team), called in the transaction that records each one. Call it before
// Run.
func (s *Service) SetWarned(fn func(ctx context.Context, tx *db.Tx, w Warning) error) { s.warned = fn }

// WarnDue records, once per vendor (or agreement) and due date, a
// reassessment past due and an expired agreement as governance.overdue
// (detection raises governance_overdue), and an agreement that expires
// within governance.contract_expiry_warning as vendor.agreement_expiring;
// each is handed to the Warned hook. It returns how many it recorded.
//
// Enforces CP-10.2, MTL-6.2: reassessments past due and agreements
// about to expire or expired are raised while Portico runs.
func (s *Service) WarnDue(ctx context.Context) (int, error) {
	now := s.db.Now()
	n := 0
	// Reassessments past due.
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, review_due FROM vendors WHERE status <> 'retired' AND review_due IS NOT NULL AND review_due < $1`, now)
	if err != nil {
		return 0, err
	}
	type due struct {
		id, name string
		at       time.Time
	}
	var reviews []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.name, &d.at); err != nil {
			rows.Close()
			return 0, err
		}
		reviews = append(reviews, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var errs []error
	for _, d := range reviews {
		ok, err := s.warnOnce(ctx, "governance.overdue", "vendor_review:"+d.id, "vendor_review",
			Warning{VendorID: d.id, VendorName: d.name, Kind: "vendor_review", Due: d.at.UTC()},
			"a vendor's reassessment is past due")
		errs = append(errs, err)
		if ok {
			n++
		}
	}
	// Agreements expiring or expired (of vendors not retired), unless a
	// later agreement of the same kind replaces them.
	rows, err = s.db.QueryContext(ctx, `SELECT g.id, v.id, v.name, g.expires_on FROM vendor_agreements g JOIN vendors v ON v.id = g.vendor_id
		WHERE v.status <> 'retired' AND g.expires_on < $1
		AND NOT EXISTS (SELECT 1 FROM vendor_agreements r WHERE r.vendor_id = g.vendor_id AND r.kind = g.kind AND r.expires_on > g.expires_on)`, now.Add(s.profile.Governance.ContractExpiryWarning.Duration))
	if err != nil {
		return n, err
	}
	type agr struct {
		id string
		due
	}
	var agrs []agr
	for rows.Next() {
		var g agr
		if err := rows.Scan(&g.id, &g.due.id, &g.name, &g.at); err != nil {
			rows.Close()
			return n, err
		}
		agrs = append(agrs, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, err
	}
	for _, g := range agrs {
		w := Warning{VendorID: g.due.id, VendorName: g.name, Due: g.at.UTC()}
		var ok bool
		var err error
		if now.Before(g.at) {
			w.Kind = "agreement_expiring"
			ok, err = s.warnOnce(ctx, "vendor.agreement_expiring", "agreement:"+g.id, "agreement", w, "a vendor agreement expires soon")
		} else {
			w.Kind = "agreement_expired"
			ok, err = s.warnOnce(ctx, "governance.overdue", "agreement:"+g.id, "agreement", w, "a vendor agreement has expired")
		}
		errs = append(errs, err)
		if ok {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// warnOnce appends action on target with the due date unless an event of
// the same action, target and due date is already in the audit trail, and
// hands the warning to the hook, in one transaction.
func (s *Service) warnOnce(ctx context.Context, action, target, kind string, w Warning, summary string) (bool, error) {
	dueText := w.Due.UTC().Format(time.RFC3339)
	warned := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		warned = false
		details, err := db.Strings(ctx, tx, `SELECT details FROM audit_events WHERE action = $1 AND target = $2`, action, target)
		if err != nil {
			return err
		}
		for _, d := range details {
			var m map[string]any
			if json.Unmarshal([]byte(d), &m) == nil && m["due"] == dueText {
				return nil
			}
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Actor: audit.ActorSystem, Action: action, Target: target, Outcome: audit.Success,
			Details: map[string]any{"kind": kind, "due": dueText, "summary": summary, "vendor": w.VendorID}}); err != nil {
			return err
		}
		if s.warned != nil {
			if err := s.warned(ctx, tx, w); err != nil {
				return err
			}
		}
		warned = true
		return nil
	})
	return warned, err
}

// monitorLease is the name of the monitoring pass's lease.
const monitorLease = "vendor.monitor"

// Run checks every vendor's endpoints (CheckAll) and raises what is due
// (WarnDue) at once and then every interval until ctx ends, on one node
// at a time under the lease vendor.monitor, held for three intervals.
// Errors are logged and the pass tried again at the next tick.
//
// Enforces CP-10.2: vendors are monitored continuously while Portico
// runs, every governance.vendor_check_interval.
func (s *Service) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	s.db.RunLeased(audit.WithActor(ctx, audit.ActorSystem), monitorLease, every, logger, "vendor monitoring", func(ctx context.Context) error {
		_, err := s.WarnDue(ctx)
		return errors.Join(err, s.CheckAll(ctx))
	})
}
