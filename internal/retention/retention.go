// Package retention deletes personal data when the policy profile's
// retention period for its category has passed (CP-5.2, MTL-2.1.2): a
// scheduled purge, leased so that one node runs it at a time, deleting in
// small batches (each its own short transaction, so that requests are
// never held up for long), recording every run with its counts per
// category and auditing a summary. Whole accounts (unconfirmed sign-ups,
// inactive customers after a warning) are crypto-shredded and deleted.
//
// The audit trail is pruned from its start with a recorded anchor, so that
// it still verifies (audit.Log.Prune), up to 50,000 events a run.
package retention

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/policy"
)

// Deps are what the purge works with. Notices may be nil (no warnings are
// then sent, and no inactive account is deleted, since none was warned).
type Deps struct {
	DB       *db.DB
	Keys     *crypto.Keyring
	Audit    *audit.Log
	Profile  policy.Profile
	Identity *identity.Service
	Notices  *notify.Service
	// Batch is how many rows one transaction deletes (default 5000: a
	// million rows in 47-52 s against 60-64 s with 2000, the p99 of a page
	// during it unchanged at 9-12 ms; docs/performance.md).
	Batch int
	// Pause is how long the purge waits between batches, so that
	// requests get the database in between (default 2 ms).
	Pause time.Duration
}

// Service runs the retention schedule.
type Service struct {
	d      Deps
	holder string
}

// New returns the retention service.
func New(d Deps) (*Service, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil || d.Identity == nil {
		return nil, errors.New("retention: DB, Keys, Audit and Identity are required")
	}
	if d.Batch <= 0 {
		d.Batch = 5000
	}
	if d.Pause < 0 {
		d.Pause = 0
	} else if d.Pause == 0 {
		d.Pause = 2 * time.Millisecond
	}
	return &Service{d: d, holder: strings.ToLower(rand.Text())}, nil
}

// Run is one run of the purge.
type Run struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time
	DryRun     bool
	Counts     map[string]int // rows (or accounts) per category: deleted, or due with DryRun
	Error      string
}

// ErrBusy means another node holds the purge's lease.
var ErrBusy = apperr.New(apperr.Conflict, "The retention purge is already running on another node.")

const leaseName = "retention.purge"

// leaseFor is how long a run holds the lease; a node that dies mid-run
// frees it when it runs out.
const leaseFor = 30 * time.Minute

// rule is one category of the schedule.
type rule struct {
	name   string
	where  string // the expired rows of table, with $1 the cutoff
	table  string
	cutoff func(p policy.Profile, now time.Time) time.Time
}

func ago(d func(policy.Retention) policy.Duration) func(policy.Profile, time.Time) time.Time {
	return func(p policy.Profile, now time.Time) time.Time { return now.Add(-d(p.Retention).Duration) }
}

// rules are the row-level categories; accounts are handled apart.
//
// Enforces CP-5.2: every category has its period from the profile.
var rules = []rule{
	{"sign_in_history", "at < $1", "sign_in_events", ago(func(r policy.Retention) policy.Duration { return r.SignInHistory })},
	{"sessions", "(ended_at IS NOT NULL AND ended_at < $1) OR expires_at < $1", "sessions", ago(func(r policy.Retention) policy.Duration { return r.SignInHistory })},
	{"risk_signals", "created_at < $1", "risk_signals", ago(func(r policy.Retention) policy.Duration { return r.SignInHistory })},
	{"closed_tickets", "closed_at IS NOT NULL AND closed_at < $1", "tickets", ago(func(r policy.Retention) policy.Duration { return r.ClosedTickets })},
	// Only closed reports, counted from their closing (detect.CloseReport
	// sets closed_at): a report still open, waiting for its customer or
	// escalated to an incident stays however old it is.
	{"security_reports", "status = 'closed' AND closed_at IS NOT NULL AND closed_at < $1", "security_reports", ago(func(r policy.Retention) policy.Duration { return r.SecurityReports })},
	{"notices", "created_at < $1", "notices", ago(func(r policy.Retention) policy.Duration { return r.Notices })},
	{"sent_mail", "status <> 'pending' AND created_at < $1", "outbox", ago(func(r policy.Retention) policy.Duration { return r.Notices })},
}

// Categories lists the names a run reports counts under.
func Categories() []string {
	out := make([]string, 0, len(rules)+3)
	for _, r := range rules {
		out = append(out, r.name)
	}
	return append(out, "unverified_signups", "inactive_warned", "inactive_accounts", "audit_events")
}

// Run purges what has expired (or, with dryRun, only counts it), records
// the run and audits a summary. It returns ErrBusy when another node is
// running it.
func (s *Service) Run(ctx context.Context, dryRun bool) (Run, error) {
	ok, err := s.lease(ctx)
	if err != nil {
		return Run{}, err
	}
	if !ok {
		return Run{}, ErrBusy
	}
	defer s.release(context.WithoutCancel(ctx))
	ctx = audit.WithActor(ctx, audit.ActorSystem)
	run := Run{ID: strings.ToLower(rand.Text()), StartedAt: s.d.DB.Now(), DryRun: dryRun, Counts: map[string]int{}}
	if err := s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO retention_runs (id, started_at, dry_run) VALUES ($1, $2, $3)`, run.ID, run.StartedAt, dryRun)
		return err
	}); err != nil {
		return Run{}, err
	}
	runErr := s.purge(ctx, &run, run.StartedAt)
	if runErr != nil {
		run.Error = runErr.Error()
	}
	run.FinishedAt = s.d.DB.Now()
	counts, _ := json.Marshal(run.Counts)
	err = s.d.DB.Transact(context.WithoutCancel(ctx), func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE retention_runs SET finished_at = $1, counts = $2, error = $3 WHERE id = $4`,
			run.FinishedAt, string(counts), run.Error, run.ID); err != nil {
			return err
		}
		details := map[string]any{"run": run.ID, "dry_run": dryRun}
		for k, v := range run.Counts {
			details[k] = v
		}
		outcome := audit.Success
		if runErr != nil {
			outcome, details["error"] = audit.Failure, "see retention_runs"
		}
		_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "retention.run", Target: "retention:" + run.ID, Outcome: outcome, Details: details})
		return err
	})
	if runErr != nil {
		return run, runErr
	}
	return run, err
}

func (s *Service) purge(ctx context.Context, run *Run, now time.Time) error {
	for _, r := range rules {
		n, err := s.rows(ctx, r, r.cutoff(s.d.Profile, now), run.DryRun)
		run.Counts[r.name] = n
		if err != nil {
			return fmt.Errorf("retention: %s: %w", r.name, err)
		}
	}
	n, err := s.accounts(ctx, `status = 'unverified' AND created_at < $1`, now.Add(-s.d.Profile.Retention.UnverifiedSignups.Duration), run.DryRun, "unverified_signup")
	run.Counts["unverified_signups"] = n
	if err != nil {
		return fmt.Errorf("retention: unverified sign-ups: %w", err)
	}
	if run.Counts["inactive_warned"], err = s.warnInactive(ctx, now, run.DryRun); err != nil {
		return fmt.Errorf("retention: inactivity warnings: %w", err)
	}
	warning := s.d.Profile.Retention.InactiveAccountWarning.Duration
	n, err = s.accounts(ctx,
		`role = 'customer' AND status <> 'unverified' AND COALESCE(last_sign_in_at, created_at) < $1
		 AND inactivity_warned_at IS NOT NULL AND inactivity_warned_at > COALESCE(last_sign_in_at, created_at)
		 AND inactivity_warned_at < $2`,
		now.Add(-s.d.Profile.Retention.InactiveAccounts.Duration), run.DryRun, "inactive", now.Add(-warning))
	run.Counts["inactive_accounts"] = n
	if err != nil {
		return fmt.Errorf("retention: inactive accounts: %w", err)
	}
	// The audit trail last: this run's own deletions are in it, and its
	// start moves on with a recorded prune (audit.Log.Prune).
	cutoff := now.Add(-s.d.Profile.Retention.AuditEvents.Duration)
	if run.DryRun {
		err = s.d.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE at < $1`, cutoff).Scan(&n)
	} else {
		n, err = s.d.Audit.Prune(ctx, cutoff, 50_000)
	}
	run.Counts["audit_events"] = n
	if err != nil {
		return fmt.Errorf("retention: audit events: %w", err)
	}
	return nil
}

// rows deletes (or counts) a rule's expired rows in batches.
func (s *Service) rows(ctx context.Context, r rule, cutoff time.Time, dryRun bool) (int, error) {
	if dryRun {
		var n int
		err := s.d.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+r.table+` WHERE `+r.where, cutoff).Scan(&n)
		return n, err
	}
	total := 0
	for {
		var n int64
		err := s.d.DB.Transact(ctx, func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx,
				`DELETE FROM `+r.table+` WHERE id IN (SELECT id FROM `+r.table+` WHERE `+r.where+` LIMIT $2)`, cutoff, s.d.Batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += int(n)
		if err != nil || int(n) < s.d.Batch {
			return total, err
		}
		if err := pause(ctx, s.d.Pause); err != nil {
			return total, err
		}
	}
}

func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// accounts crypto-shreds and deletes the accounts that match cond, one
// per transaction.
func (s *Service) accounts(ctx context.Context, cond string, cutoff time.Time, dryRun bool, reason string, more ...any) (int, error) {
	args := append([]any{cutoff}, more...)
	if dryRun {
		var n int
		err := s.d.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE `+cond, args...).Scan(&n)
		return n, err
	}
	total := 0
	for {
		ids, err := s.ids(ctx, `SELECT id FROM accounts WHERE `+cond+` LIMIT 100`, args...)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		for _, id := range ids {
			err := s.d.DB.Transact(ctx, func(tx *db.Tx) error {
				if err := s.d.Keys.DestroySubjectKey(ctx, tx, id); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, id); err != nil {
					return err
				}
				_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "retention.account.delete", Target: "account:" + id,
					Outcome: audit.Success, Details: map[string]any{"reason": reason}})
				return err
			})
			if err != nil {
				return total, err
			}
			total++
		}
		// Enforces CP-5.2: the SQLite log keeps the shredded keys' old
		// pages until a checkpoint truncates it.
		if err := s.d.DB.Checkpoint(ctx); err != nil {
			return total, err
		}
		if err := pause(ctx, s.d.Pause); err != nil {
			return total, err
		}
	}
}

func (s *Service) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.d.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// warnInactive tells customers whose account is about to be closed for
// inactivity, once per period of inactivity.
func (s *Service) warnInactive(ctx context.Context, now time.Time, dryRun bool) (int, error) {
	if s.d.Notices == nil {
		return 0, nil
	}
	ret := s.d.Profile.Retention
	cond := `role = 'customer' AND status = 'active' AND COALESCE(last_sign_in_at, created_at) < $1
	         AND (inactivity_warned_at IS NULL OR inactivity_warned_at < COALESCE(last_sign_in_at, created_at))`
	cutoff := now.Add(-(ret.InactiveAccounts.Duration - ret.InactiveAccountWarning.Duration))
	if dryRun {
		var n int
		err := s.d.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE `+cond, cutoff).Scan(&n)
		return n, err
	}
	ids, err := s.ids(ctx, `SELECT id FROM accounts WHERE `+cond+` LIMIT 1000`, cutoff)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		email, err := s.d.Identity.Email(ctx, id)
		if err != nil {
			return n, err
		}
		when := now.Add(ret.InactiveAccountWarning.Duration).UTC().Format("2 January 2006")
		err = s.d.DB.Transact(ctx, func(tx *db.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET inactivity_warned_at = $1 WHERE id = $2`, tx.Now(), id); err != nil {
				return err
			}
			if _, err := s.d.Notices.Notify(ctx, tx, notify.Notice{AccountID: id, Kind: "privacy.inactive-account",
				Title: "Your Portico account will be closed for inactivity",
				Body: "You have not signed in to Portico for a long time, so under our retention policy we will close your account and delete your data on " + when +
					". To keep your account, just sign in before then. To take a copy of your data first, sign in and open Account > Your data."}, email); err != nil {
				return err
			}
			_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "retention.inactivity.warn", Target: "account:" + id, Outcome: audit.Success})
			return err
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// lease takes the purge's lease if it is free or expired.
func (s *Service) lease(ctx context.Context) (bool, error) {
	ok, _, err := s.d.DB.TakeLease(ctx, leaseName, s.holder, leaseFor)
	return ok, err
}

func (s *Service) release(ctx context.Context) {
	_ = s.d.DB.ReleaseLease(ctx, leaseName, s.holder)
}

// Interval is how often the purge runs.
const Interval = time.Hour

// Overdue counts, per category, the rows (or accounts) whose retention
// had ended by asOf and that are still stored: what a purge started at
// asOf should have deleted. It records and changes nothing. The
// compliance evidence calls it with the start of the last run.
//
// Enforces CP-5.2: what outlived its retention can be shown, not assumed.
func (s *Service) Overdue(ctx context.Context, asOf time.Time) (map[string]int, error) {
	run := Run{DryRun: true, Counts: map[string]int{}}
	if err := s.purge(ctx, &run, asOf); err != nil {
		return nil, err
	}
	delete(run.Counts, "inactive_warned") // a warning to send, not data kept too long
	return run.Counts, nil
}

// LastRun returns the most recent run that is not a dry run.
func (s *Service) LastRun(ctx context.Context) (Run, bool, error) {
	var r Run
	var fin sql.NullTime
	var counts string
	err := s.d.DB.QueryRowContext(ctx,
		`SELECT id, started_at, finished_at, counts, error FROM retention_runs WHERE dry_run = $1 ORDER BY started_at DESC LIMIT 1`, false).
		Scan(&r.ID, &r.StartedAt, &fin, &counts, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	r.FinishedAt = fin.Time
	r.Counts = map[string]int{}
	_ = json.Unmarshal([]byte(counts), &r.Counts)
	return r, true, nil
}
