// Package compliance is the live compliance report (docs/compliance-report.md):
// for every clause of the two policies, the controls that enforce it (from
// the code), the evidence checks that query the running system and say
// pass, warn or fail with figures, and the history of those checks. The
// clause's status is computed from both, never typed by hand. The signed
// evidence bundle packs the report with what an auditor needs to trust it.
package compliance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// Status is what an evidence check found.
type Status string

// The statuses of a check, the best first.
const (
	Pass Status = "pass" // the condition holds
	Warn Status = "warn" // it holds, but something is close to breaking it (a deadline near)
	Fail Status = "fail" // it does not hold, or the check could not run
)

// worse reports whether a is worse than b.
func worse(a, b Status) bool { return rank(a) > rank(b) }

func rank(s Status) int {
	switch s {
	case Pass:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// Figure is one measured value behind a result: a count, a date, a digest.
// Figures never hold a person's data (names, emails, addresses).
type Figure struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Result is what one evidence check found at one moment.
type Result struct {
	Check   string    `json:"check"`
	Status  Status    `json:"status"`
	Summary string    `json:"summary"` // one sentence a reader understands without the figures
	Figures []Figure  `json:"figures,omitempty"`
	TakenAt time.Time `json:"taken_at"`
}

// Check is one evidence check: a query on the running system that proves
// (or disproves) that one or more clauses hold now.
type Check struct {
	// Name is short and stable, such as "identity.customers-have-factor";
	// the history is kept under it.
	Name string
	// Clauses are the clauses whose evidence this is.
	Clauses []string
	// Description says what the check looks at and when it fails, for the
	// report and docs/compliance.md.
	Description string
	// Run takes the evidence at now. An error is recorded as a failed
	// result saying the check could not run.
	Run func(ctx context.Context, now time.Time) (Result, error)
}

// Trigger says why evidence was taken.
type Trigger string

// The triggers of a run.
const (
	Scheduled Trigger = "schedule"
	OnDemand  Trigger = "demand"
	FromCLI   Trigger = "cli"
)

// Run is one taking of the evidence.
type Run struct {
	ID         string       `json:"id"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt time.Time    `json:"finished_at"`
	Trigger    Trigger      `json:"trigger"`
	Actor      string       `json:"actor"`
	ChainHead  audit.Anchor `json:"-"`
	Passed     int          `json:"passed"`
	Warned     int          `json:"warned"`
	Failed     int          `json:"failed"`
	Results    []Result     `json:"results,omitempty"`
}

// Service takes, keeps and reports the evidence.
type Service struct {
	db        *db.DB
	audit     *audit.Log
	profile   policy.Profile
	controls  []policy.Control
	checks    []Check
	keys      *crypto.Keyring // holds the evidence signing keys' seeds (SetKeyring)
	publicURL string          // the portal's public URL, for the report's key address (SetPublicURL)
}

// New returns the compliance service for the program's controls (every
// domain's Controls(), collected by the application) and evidence checks
// (Checks). It fails when a check names an unknown clause, has no name or
// is listed twice, so that a broken registry stops the start.
func New(d *db.DB, a *audit.Log, p policy.Profile, controls []policy.Control, checks []Check) (*Service, error) {
	seen := map[string]bool{}
	var errs []error
	for _, c := range checks {
		switch {
		case c.Name == "" || c.Run == nil || c.Description == "":
			errs = append(errs, fmt.Errorf("compliance: check %q has no name, description or function", c.Name))
		case seen[c.Name]:
			errs = append(errs, fmt.Errorf("compliance: check %q listed twice", c.Name))
		case len(c.Clauses) == 0:
			errs = append(errs, fmt.Errorf("compliance: check %q names no clause", c.Name))
		}
		seen[c.Name] = true
		for _, id := range c.Clauses {
			if _, ok := policy.ClauseByID(id); !ok {
				errs = append(errs, fmt.Errorf("compliance: check %q: unknown clause %q", c.Name, id))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Service{db: d, audit: a, profile: p, controls: controls, checks: checks}, nil
}

// Checks returns the evidence checks in their order.
func (s *Service) Checks() []Check { return slices.Clone(s.checks) }

// Controls returns the controls the report shows.
func (s *Service) Controls() []policy.Control { return slices.Clone(s.controls) }

// Profile returns the policy profile in effect.
func (s *Service) Profile() policy.Profile { return s.profile }

// maxSummary bounds a result's summary as stored.
const maxSummary = 500

// take runs one check, turning an error or a panic into a failed result.
func take(ctx context.Context, c Check, now time.Time) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Fail, Summary: fmt.Sprintf("the check could not run: %v", p)}
		}
		r.Check, r.TakenAt = c.Name, now
		if r.Status != Pass && r.Status != Warn {
			r.Status = Fail
		}
		if r.Summary == "" {
			r.Summary = "no summary"
		}
		if len(r.Summary) > maxSummary {
			r.Summary = r.Summary[:maxSummary]
		}
	}()
	res, err := c.Run(ctx, now)
	if err != nil {
		return Result{Status: Fail, Summary: "the check could not run: " + err.Error()}
	}
	return res
}

// TakeEvidence runs every check now, stores the results as one run and
// records an audit event (compliance.evidence) with the counts. actor is
// who asked: an account ID, or audit.ActorSystem for the schedule.
//
// Enforces MTL-7.2: the evidence of every clause is taken from the running
// system, kept with its time, and each taking is in the audit trail.
func (s *Service) TakeEvidence(ctx context.Context, trigger Trigger, actor string) (Run, error) {
	switch trigger {
	case Scheduled, OnDemand, FromCLI:
	default:
		return Run{}, fmt.Errorf("compliance: unknown trigger %q", trigger)
	}
	head, err := s.audit.Head(ctx)
	if err != nil {
		return Run{}, err
	}
	before, err := s.lastStatuses(ctx)
	if err != nil {
		return Run{}, err
	}
	now := s.db.Now()
	run := Run{ID: strings.ToLower(rand.Text()), StartedAt: now, Trigger: trigger, Actor: actor, ChainHead: head}
	for _, c := range s.checks {
		r := take(ctx, c, s.db.Now())
		switch r.Status {
		case Pass:
			run.Passed++
		case Warn:
			run.Warned++
		default:
			run.Failed++
		}
		run.Results = append(run.Results, r)
	}
	if ctx.Err() != nil {
		return Run{}, ctx.Err()
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		run.FinishedAt = tx.Now()
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO compliance_runs (id, started_at, finished_at, kind, actor, chain_seq, chain_hash, passed, warned, failed)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			run.ID, run.StartedAt, run.FinishedAt, string(trigger), actor, head.Seq, head.Hash, run.Passed, run.Warned, run.Failed); err != nil {
			return fmt.Errorf("compliance: store run: %w", err)
		}
		for _, r := range run.Results {
			figs, err := json.Marshal(r.Figures)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO compliance_results (run_id, check_name, status, summary, figures, taken_at)
				 VALUES ($1, $2, $3, $4, $5, $6)`,
				run.ID, r.Check, string(r.Status), r.Summary, string(figs), r.TakenAt); err != nil {
				return fmt.Errorf("compliance: store result %s: %w", r.Check, err)
			}
		}
		// Enforces MTL-7.2, CP-3.2: a check that begins to fail is
		// recorded once per failing period, which detection raises as a
		// compliance_failing alert to the security team. The first run of
		// an installation is the baseline: what fails in it is what is
		// not set up yet, shown by the report, not a change to alert on.
		for _, r := range run.Results {
			if r.Status != Fail || before[r.Check] == Fail || len(before) == 0 {
				continue
			}
			if _, err := s.audit.Append(ctx, tx, audit.Event{
				Actor: actor, Action: "compliance.check_failed", Target: "compliance-check:" + r.Check, Outcome: audit.Failure,
				Details: map[string]any{"check": r.Check, "clauses": strings.Join(s.clausesOf(r.Check), " "), "summary": r.Summary},
			}); err != nil {
				return err
			}
		}
		outcome := audit.Success
		if run.Failed > 0 {
			outcome = audit.Failure
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{
			Actor: actor, Action: "compliance.evidence", Target: "compliance-run:" + run.ID, Outcome: outcome,
			Details: map[string]any{"trigger": string(trigger), "passed": run.Passed, "warned": run.Warned, "failed": run.Failed,
				"chain_seq": head.Seq},
		})
		return err
	})
	if err != nil {
		return Run{}, err
	}
	return run, nil
}

// lastStatuses returns each check's status in the latest run (empty when
// evidence was never taken).
func (s *Service) lastStatuses(ctx context.Context) (map[string]Status, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT c.check_name, c.status FROM compliance_results c
		 WHERE c.run_id = (SELECT id FROM compliance_runs ORDER BY started_at DESC, id LIMIT 1)`)
	if err != nil {
		return nil, fmt.Errorf("compliance: read last statuses: %w", err)
	}
	defer rows.Close()
	out := map[string]Status{}
	for rows.Next() {
		var name, st string
		if err := rows.Scan(&name, &st); err != nil {
			return nil, err
		}
		out[name] = Status(st)
	}
	return out, rows.Err()
}

// clausesOf returns the clauses of the check called name.
func (s *Service) clausesOf(name string) []string {
	for _, c := range s.checks {
		if c.Name == name {
			return c.Clauses
		}
	}
	return nil
}

// evidenceLease is the lease of the scheduled evidence pass.
const evidenceLease = "compliance.evidence"

// RunScheduled takes the evidence at once and then every interval, on one
// node at a time, until ctx ends.
//
// Enforces MTL-7.2: the evidence is taken regularly without anyone asking.
func (s *Service) RunScheduled(ctx context.Context, every time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	s.db.RunLeased(audit.WithActor(ctx, audit.ActorSystem), evidenceLease, every, logger, "compliance evidence", func(ctx context.Context) error {
		// A node that restarts often must not take the evidence each time:
		// skip when the last run is younger than the interval.
		last, ok, err := s.LatestRun(ctx)
		if err != nil {
			return err
		}
		if ok && s.db.Now().Sub(last.StartedAt) < every-time.Second {
			return nil
		}
		run, err := s.TakeEvidence(ctx, Scheduled, audit.ActorSystem)
		if err != nil {
			return err
		}
		logger.Info("compliance evidence taken", "run", run.ID, "passed", run.Passed, "warned", run.Warned, "failed", run.Failed)
		// The run walks the whole audit chain and every account once an
		// hour; its garbage goes back to the OS now, rather than staying
		// in an idle node's heap until a collection that GOGC=400 puts
		// off (5 MB of idle RSS on an empty installation, measured by
		// bench/startup).
		debug.FreeOSMemory()
		if n, err := s.PruneHistory(ctx); err != nil {
			return err
		} else if n > 0 {
			logger.Info("old compliance evidence deleted", "runs", n)
		}
		return nil
	})
}

// PruneHistory deletes the evidence runs older than the audit trail's
// retention (retention.audit_events, at least a year): the history is kept
// as long as the events that record each run. It returns how many runs
// went.
//
// Enforces CP-5.2, MTL-7.2: the evidence history has a retention, and it
// is the audit trail's.
func (s *Service) PruneHistory(ctx context.Context) (int, error) {
	keep := s.profile.Retention.AuditEvents.Duration
	if keep < 365*24*time.Hour {
		keep = 365 * 24 * time.Hour
	}
	var n int64
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		cutoff := tx.Now().Add(-keep)
		// compliance_results go with their run (ON DELETE CASCADE); the
		// explicit delete keeps SQLite honest without foreign keys on.
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM compliance_results WHERE run_id IN (SELECT id FROM compliance_runs WHERE started_at < $1)`, cutoff); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM compliance_runs WHERE started_at < $1`, cutoff)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("compliance: prune history: %w", err)
	}
	return int(n), nil
}

// LatestRun returns the newest run with its results (ok false when
// evidence was never taken).
func (s *Service) LatestRun(ctx context.Context) (Run, bool, error) {
	runs, err := s.Runs(ctx, 1)
	if err != nil || len(runs) == 0 {
		return Run{}, false, err
	}
	run := runs[0]
	rows, err := s.db.QueryContext(ctx,
		`SELECT check_name, status, summary, figures, taken_at FROM compliance_results WHERE run_id = $1 ORDER BY check_name`, run.ID)
	if err != nil {
		return Run{}, false, fmt.Errorf("compliance: read results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r    Result
			st   string
			figs string
		)
		if err := rows.Scan(&r.Check, &st, &r.Summary, &figs, &r.TakenAt); err != nil {
			return Run{}, false, err
		}
		r.Status, r.TakenAt = Status(st), db.Time(r.TakenAt)
		if err := json.Unmarshal([]byte(figs), &r.Figures); err != nil {
			return Run{}, false, fmt.Errorf("compliance: result %s: figures: %w", r.Check, err)
		}
		run.Results = append(run.Results, r)
	}
	return run, true, rows.Err()
}

// Runs returns the newest n runs, newest first, without their results.
func (s *Service) Runs(ctx context.Context, n int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, started_at, finished_at, kind, actor, chain_seq, chain_hash, passed, warned, failed
		 FROM compliance_runs ORDER BY started_at DESC, id LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("compliance: read runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var (
			r    Run
			kind string
		)
		if err := rows.Scan(&r.ID, &r.StartedAt, &r.FinishedAt, &kind, &r.Actor, &r.ChainHead.Seq, &r.ChainHead.Hash,
			&r.Passed, &r.Warned, &r.Failed); err != nil {
			return nil, err
		}
		r.Trigger, r.StartedAt, r.FinishedAt = Trigger(kind), db.Time(r.StartedAt), db.Time(r.FinishedAt)
		r.ChainHead.At = r.StartedAt
		out = append(out, r)
	}
	return out, rows.Err()
}

// runStatuses is one run of the history: when it began and each check's
// status in it.
type runStatuses struct {
	id     string
	at     time.Time
	checks map[string]Status
}

// history reads the runs started at or after since, oldest first, with
// the status of every check in each. Two queries: the runs (with their
// times), then the results by run ID alone (no time to decode per row),
// so that 90 days of hourly runs read fast.
func (s *Service) history(ctx context.Context, since time.Time) ([]runStatuses, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, started_at FROM compliance_runs WHERE started_at >= $1 ORDER BY started_at, id`, since)
	if err != nil {
		return nil, fmt.Errorf("compliance: read history: %w", err)
	}
	var out []runStatuses
	index := map[string]int{}
	for rows.Next() {
		r := runStatuses{checks: map[string]Status{}}
		if err := rows.Scan(&r.id, &r.at); err != nil {
			rows.Close()
			return nil, err
		}
		r.at = db.Time(r.at)
		index[r.id] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx,
		`SELECT c.run_id, c.check_name, c.status FROM compliance_results c
		 WHERE c.run_id IN (SELECT id FROM compliance_runs WHERE started_at >= $1)`, since)
	if err != nil {
		return nil, fmt.Errorf("compliance: read history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var run, check, st string
		if err := rows.Scan(&run, &check, &st); err != nil {
			return nil, err
		}
		if i, ok := index[run]; ok { // a run that began after the first query is left out
			out[i].checks[check] = Status(st)
		}
	}
	return out, rows.Err()
}
