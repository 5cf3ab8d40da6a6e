package retention_test

import (
	"crypto/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/support"
)

// purgeCase is one category of the retention schedule: how to make one of
// its rows now, and where to look for it afterwards.
type purgeCase struct {
	// category is the name a run counts under (retention.Categories).
	category string
	// period is the profile key ([retention] in the policy file) whose
	// period the category is kept for.
	period string
	// table and key find a seeded row again: SELECT COUNT(*) FROM table
	// WHERE key = id.
	table, key string
	// seed makes one row of the category that the purge may delete once
	// its period has passed, and returns its key.
	seed func(t *testing.T, e *env, owner access.Principal) any
	// keep, if set, makes a row as old as the expired one that the purge
	// must keep all the same (still open, still pending, still in use).
	keep func(t *testing.T, e *env, owner access.Principal) any
}

// coveredElsewhere are the categories that need more than one run (a
// warning first) and have their own test.
var coveredElsewhere = map[string][]string{ // category -> profile keys
	"inactive_warned":   {"inactive_accounts", "inactive_account_warning"}, // TestInactiveAccounts
	"inactive_accounts": {"inactive_accounts", "inactive_account_warning"}, // TestInactiveAccounts
}

func newID() string { return strings.ToLower(rand.Text()) }

// exec runs q in a transaction whose time is the test clock's; $1 is that
// time.
func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(e.ctx, q, append([]any{tx.Now()}, args...)...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

var purgeCases = []purgeCase{
	{category: "sign_in_history", period: "sign_in_history", table: "sign_in_events", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			id := newID()
			e.exec(t, `INSERT INTO sign_in_events (id, account_id, at, outcome, reason, method, device, country)
				VALUES ($2, $3, $1, 'failure', 'password', 'password', 'desktop', 'XX')`, id, owner.AccountID)
			return id
		}},
	{category: "sessions", period: "sign_in_history", table: "sessions", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			// Ended now: it goes once it has been ended for the period.
			id := newID()
			e.exec(t, `INSERT INTO sessions (id, secret_hash, account_id, role, aal, methods, created_at, last_seen_at, reauth_at,
				expires_at, ip_enc, user_agent_enc, device, country, ended_at, end_reason)
				VALUES ($2, $3, $4, 'customer', 2, 'password,totp', $1, $1, $1, $5, $6, $6, 'desktop', 'XX', $1, 'signed_out')`,
				id, make([]byte, 32), owner.AccountID, e.clk.Now().Add(12*time.Hour), []byte{0})
			return id
		}},
	{category: "risk_signals", period: "sign_in_history", table: "risk_signals", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			id := newID()
			e.exec(t, `INSERT INTO risk_signals (id, account_id, session_id, kind, detail, created_at)
				VALUES ($2, $3, 's', 'country_change', 'XX to YY', $1)`, id, owner.AccountID)
			return id
		}},
	{category: "closed_tickets", period: "closed_tickets", table: "tickets", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {

			tk, err := e.desk.Open(e.ctx, owner, "A question", "Closed now.", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.desk.SetStatus(e.ctx, owner, tk.ID, support.StatusClosed); err != nil {
				t.Fatal(err)
			}
			return tk.ID
		},
		keep: func(t *testing.T, e *env, owner access.Principal) any {
			tk, err := e.desk.Open(e.ctx, owner, "Still open", "Never closed.", nil)
			if err != nil {
				t.Fatal(err)
			}
			return tk.ID
		}},
	{category: "security_reports", period: "security_reports", table: "security_reports", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			// Filed ten years ago and closed now: the period counts from
			// the closing, so the fresh one stays however old its filing.
			id := newID()
			e.exec(t, `INSERT INTO security_reports (id, account_id, created_at, source, status, outcome, closed_at)
				VALUES ($2, $3, $4, 'customer', 'closed', 'no_evidence', $1)`, id, owner.AccountID, e.clk.Now().AddDate(-10, 0, 0))
			return id
		},
		keep: func(t *testing.T, e *env, owner access.Principal) any {
			// Escalated to an incident ten years ago and never closed: kept.
			id := newID()
			if err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
				_, err := tx.ExecContext(e.ctx, `INSERT INTO security_reports (id, account_id, created_at, source, status) VALUES ($1, $2, $3, 'customer', 'escalated')`,
					id, owner.AccountID, e.clk.Now().AddDate(-10, 0, 0))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return id
		}},
	{category: "notices", period: "notices", table: "notices", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			id := newID()
			e.exec(t, `INSERT INTO notices (id, account_id, kind, title, body_enc, created_at) VALUES ($2, $3, 'security', 'A notice', $4, $1)`,
				id, owner.AccountID, []byte{0})
			return id
		}},
	{category: "sent_mail", period: "notices", table: "outbox", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			id := newID()
			e.exec(t, `INSERT INTO outbox (id, account_id, kind, recipient_enc, subject_enc, body_enc, status, attempts, next_attempt_at, created_at, sent_at)
				VALUES ($2, $3, 'security', $4, $4, $4, 'sent', 1, $1, $1, $1)`, id, owner.AccountID, []byte{0})
			return id
		},
		keep: func(t *testing.T, e *env, owner access.Principal) any {
			id := newID()
			e.exec(t, `INSERT INTO outbox (id, account_id, kind, recipient_enc, subject_enc, body_enc, status, attempts, next_attempt_at, created_at)
				VALUES ($2, $3, 'security', $4, $4, $4, 'pending', 0, $1, $1)`, id, owner.AccountID, []byte{0})
			return id
		}},
	{category: "unverified_signups", period: "unverified_signups", table: "accounts", key: "id",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			email := "signup." + newID() + "@example.com"
			if err := e.id.SignUp(e.ctx, identity.SignUpInput{Email: email, Name: "Never Confirmed", Password: pw,
				PrivacyVersion: "2026-11", CurrentPrivacyVersion: "2026-11", IP: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
			a, err := e.id.FindByEmail(e.ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			return a.ID
		},
		keep: func(t *testing.T, e *env, owner access.Principal) any { return owner.AccountID }}, // confirmed, as old
	{category: "audit_events", period: "audit_events", table: "audit_events", key: "seq",
		seed: func(t *testing.T, e *env, owner access.Principal) any {
			var r audit.Record
			if err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
				var err error
				r, err = e.deps.Audit.Append(e.ctx, tx, audit.Event{Action: "test.event", Target: "account:" + owner.AccountID, Outcome: audit.Success})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return r.Seq
		}},
}

// testPurgeEachCategory (part of TestPurge): for every category of the schedule, a row older
// than the profile's period (by a day) goes and a row younger than it (by
// a day) stays, and a row the category never takes (open, pending, in use)
// stays however old (CP-5.2). Dropping a category from the schedule, or
// keeping it for another period, fails here.
func testPurgeEachCategory(t *testing.T) {
	p, _ := policy.Builtin(policy.Default)
	periods := retentionPeriods(p.Retention)
	for _, c := range purgeCases {
		t.Run(c.category, func(t *testing.T) {
			period, ok := periods[c.period]
			if !ok {
				t.Fatalf("no retention period %q in the profile", c.period)
			}
			each(t, func(t *testing.T, e *env) {
				owner := e.customer(t, "owner@example.com")
				expired := c.seed(t, e, owner)
				var kept any
				if c.keep != nil {
					kept = c.keep(t, e, owner)
				}
				e.clk.Add(2 * 24 * time.Hour)
				fresh := c.seed(t, e, owner)
				e.clk.Add(period - 24*time.Hour) // expired: period + 1 day; fresh: period - 1 day
				run, err := e.purge.Run(e.ctx, false)
				if err != nil {
					t.Fatal(err)
				}
				exists := func(id any) bool {
					return e.count(t, `SELECT COUNT(*) FROM `+c.table+` WHERE `+c.key+` = $1`, id) == 1
				}
				if exists(expired) {
					t.Errorf("%s: the row past its period (%s) was kept; run counts %v", c.category, c.period, run.Counts)
				}
				if !exists(fresh) {
					t.Errorf("%s: the row inside its period (%s) was deleted", c.category, c.period)
				}
				if kept != nil && !exists(kept) {
					t.Errorf("%s: a row the category does not take was deleted", c.category)
				}
				if run.Counts[c.category] < 1 {
					t.Errorf("%s: the run counted %d", c.category, run.Counts[c.category])
				}
			})
		})
	}
}

// testPurgeCasesCoverTheSchedule (part of TestPurge): the cases above (with those tested
// apart) are exactly the categories a run reports, and name every
// retention period of the profile, so a category or a period added later
// cannot go untested.
func testPurgeCasesCoverTheSchedule(t *testing.T) {
	var tested []string
	periods := map[string]bool{}
	for _, c := range purgeCases {
		tested = append(tested, c.category)
		periods[c.period] = true
	}
	for cat, ps := range coveredElsewhere {
		tested = append(tested, cat)
		for _, p := range ps {
			periods[p] = true
		}
	}
	slices.Sort(tested)
	schedule := slices.Sorted(slices.Values(retention.Categories()))
	if !slices.Equal(tested, schedule) {
		t.Errorf("categories tested %v, categories of the schedule %v", tested, schedule)
	}
	p, _ := policy.Builtin(policy.Default)
	for key := range retentionPeriods(p.Retention) {
		if !periods[key] {
			t.Errorf("the profile's retention period %q governs no tested category", key)
		}
		delete(periods, key)
	}
	for key := range periods {
		t.Errorf("a case names %q, which is not a retention period of the profile", key)
	}
}

// retentionPeriods are the profile's retention periods by their key in the
// policy file.
func retentionPeriods(r policy.Retention) map[string]time.Duration {
	out := map[string]time.Duration{}
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("toml"), ",")
		out[key] = v.Field(i).Interface().(policy.Duration).Duration
	}
	return out
}
