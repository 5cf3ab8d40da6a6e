package training_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/cryptotest"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/markdown"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/training"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// notices records what identity hands to the notifier.
type notices struct{ got []identity.Notice }

func (n *notices) SecurityNotice(_ context.Context, _ *db.Tx, x identity.Notice) error {
	n.got = append(n.got, x)
	return nil
}

func (n *notices) SentSince(context.Context, *db.Tx, string, string, time.Time) (bool, error) {
	return false, nil
}

type env struct {
	s   *training.Service
	id  *identity.Service
	d   *db.DB
	out *notices
}

func setup(t *testing.T, d *db.DB, tune func(*policy.Profile)) env {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	if tune != nil {
		tune(&p)
	}
	pwc, err := password.New(p.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pwc.Close() })
	log := audit.New(d)
	out := &notices{}
	id, err := identity.New(identity.Deps{DB: d, Keys: cryptotest.Keyring(t, d), Audit: log, Profile: p, Passwords: pwc, Notifier: out, PublicURL: "https://portal.test"})
	if err != nil {
		t.Fatal(err)
	}
	return env{s: training.New(d, log, p, id), id: id, d: d, out: out}
}

var n int

func (e env) account(t *testing.T, role access.Role, until time.Time) string {
	t.Helper()
	n++
	a, err := e.id.CreateAccount(context.Background(), identity.NewAccount{Email: "staff" + string(rune('a'+n%26)) + time.Now().Format("150405.000000000") + "@example.com",
		Role: role, Password: "correct horse battery staple 42", ContractorUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func exec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if err := d.Transact(context.Background(), func(tx *db.Tx) error { _, err := tx.ExecContext(context.Background(), q, args...); return err }); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// answers are the right answers to m's quiz, with the questions in wrong
// given a wrong answer.
func answers(m training.Module, wrong ...int) map[int]int {
	out := map[int]int{}
	for i, q := range m.Questions {
		for c := range q.Choices {
			isWrong := false
			for _, w := range wrong {
				isWrong = isWrong || w == i
			}
			if q.Right(c) != isWrong {
				out[i] = c
				break
			}
		}
	}
	return out
}

// TestDefaultsInstalledOnce (MTL-8.1): the built-in modules are installed
// on first start, once, audited as the system, however often (and on
// however many nodes) the installation runs; each has a lesson of 250 to
// 500 words and 4 or 5 questions, for every staff role.
func TestDefaultsInstalledOnce(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		e := setup(t, d, nil)
		defaults, err := training.Defaults()
		if err != nil || len(defaults) != 4 {
			t.Fatalf("defaults: %d, %v", len(defaults), err)
		}
		if n, err := e.s.InstallDefaults(ctx); err != nil || n != 4 {
			t.Fatalf("first install: %d, %v", n, err)
		}
		for range 2 {
			if n, err := e.s.InstallDefaults(ctx); err != nil || n != 0 {
				t.Fatalf("second install: %d, %v", n, err)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM training_modules`); n != 4 {
			t.Errorf("%d module rows, want 4", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'training.module_install' AND actor = $1`, audit.ActorSystem); n != 4 {
			t.Errorf("%d install events by the system, want 4", n)
		}
		mods, err := e.s.Modules(ctx)
		if err != nil || len(mods) != 4 {
			t.Fatalf("modules: %d, %v", len(mods), err)
		}
		for _, m := range mods {
			words := len(strings.Fields(m.Lesson))
			if words < 250 || words > 500 || len(m.Questions) < 4 || len(m.Questions) > 5 || !m.Active || !m.Builtin || m.PassMark != 80 {
				t.Errorf("%s: %d words, %d questions, active %v, builtin %v, pass %d", m.Slug, words, len(m.Questions), m.Active, m.Builtin, m.PassMark)
			}
			for _, r := range []access.Role{access.RoleSupport, access.RoleSecurity, access.RoleAdmin, access.RoleAuditor} {
				if !m.For(r) {
					t.Errorf("%s is not for %s", m.Slug, r)
				}
			}
			if !strings.Contains(string(markdown.Render(m.Lesson)), "<h2>") {
				t.Errorf("%s: lesson not rendered", m.Slug)
			}
		}
	})
}

// TestScore (MTL-8.1): the score is the share of questions answered
// right, rounded down; unanswered questions are wrong; the wrong ones are
// named by number.
func TestScore(t *testing.T) {
	qs, err := training.ParseQuiz("? a\n- x\n* y\n- z\n? b\n* x\n- y\n- z\n? c\n- x\n- y\n* z\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		answers map[int]int
		mark    int
		score   int
		passed  bool
		wrong   string
	}{
		{"all right", map[int]int{0: 1, 1: 0, 2: 2}, 80, 100, true, "[]"},
		{"one wrong", map[int]int{0: 1, 1: 1, 2: 2}, 80, 66, false, "[2]"},
		{"one wrong, low mark", map[int]int{0: 1, 1: 1, 2: 2}, 60, 66, true, "[2]"},
		{"unanswered is wrong", map[int]int{0: 1}, 30, 33, true, "[2 3]"},
		{"none", nil, 1, 0, false, "[1 2 3]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := training.Score(qs, c.answers, c.mark)
			wrong, _ := json.Marshal(r.Wrong)
			if r.Score != c.score || r.Passed != c.passed || strings.ReplaceAll(string(wrong), ",", " ") != c.wrong && !(c.wrong == "[]" && string(wrong) == "null") {
				t.Errorf("got %d %v %s", r.Score, r.Passed, wrong)
			}
		})
	}
}

// TestPassRecordsTraining (CP-12, MTL-8.1): a new member of staff past
// the grace period is restricted; failing a quiz records the attempt and
// nothing else; passing every module assigned records the training date
// through identity (audited), which ends the restriction at once. The
// attempts are audited without the answers.
func TestPassRecordsTraining(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		e := setup(t, d, nil)
		if _, err := e.s.InstallDefaults(ctx); err != nil {
			t.Fatal(err)
		}
		who := e.account(t, access.RoleSupport, time.Time{})
		clock.Add(15 * 24 * time.Hour) // past the 14 days' grace
		overdue := func() bool {
			a, err := e.id.Account(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			return e.id.TrainingOverdue(a)
		}
		if !overdue() {
			t.Fatal("new staff past the grace are not restricted")
		}
		p, err := e.s.Progress(ctx, who)
		if err != nil || len(p.Modules) != 4 || !p.Overdue || p.Done() {
			t.Fatalf("progress: %+v, %v", p, err)
		}
		mods := p.Modules
		// A failed attempt: the wrong questions are named, nothing is recorded.
		r, err := e.s.Submit(ctx, who, mods[0].Module.Slug, answers(mods[0].Module, 0, 2))
		if err != nil || r.Passed || r.Completed || len(r.Wrong) != 2 || r.Wrong[0] != 1 || r.Wrong[1] != 3 {
			t.Fatalf("failed attempt: %+v, %v", r, err)
		}
		if !overdue() {
			t.Fatal("a failed attempt lifted the restriction")
		}
		if st, err := e.s.Progress(ctx, who); err != nil || st.Modules[0].State != training.StateFailed || st.Modules[0].Failed != 1 {
			t.Fatalf("after a failure: %+v, %v", st.Modules[0], err)
		}
		// Passing three of four is not enough.
		for i, m := range mods[:3] {
			clock.Add(time.Minute)
			r, err := e.s.Submit(ctx, who, m.Module.Slug, answers(m.Module))
			if err != nil || !r.Passed || r.Score != 100 || r.Completed {
				t.Fatalf("pass %d: %+v, %v", i, r, err)
			}
		}
		if !overdue() {
			t.Fatal("three of four modules lifted the restriction")
		}
		// The last one (one wrong of five still passes at 80%).
		clock.Add(time.Minute)
		last := mods[3].Module
		r, err = e.s.Submit(ctx, who, last.Slug, answers(last, 0))
		if err != nil || !r.Passed || !r.Completed {
			t.Fatalf("last pass: %+v, %v", r, err)
		}
		if overdue() {
			t.Fatal("passing every module did not lift the restriction")
		}
		a, _ := e.id.Account(ctx, who)
		if want := t0.Add(15*24*time.Hour + time.Minute); !a.TrainingCompletedAt.Equal(want) {
			t.Errorf("recorded %v, want the oldest pass %v", a.TrainingCompletedAt, want)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'account.training.record' AND target = $1`, "account:"+who); n != 1 {
			t.Errorf("%d training records audited, want 1", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'training.attempt'`); n != 5 {
			t.Errorf("%d attempts audited, want 5", n)
		}
		rows, err := d.QueryContext(ctx, `SELECT details FROM audit_events WHERE action = 'training.attempt'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var details string
			if err := rows.Scan(&details); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(details), &m); err != nil {
				t.Fatal(err)
			}
			if len(m) != 4 || m["module"] == nil || m["score"] == nil || m["passed"] == nil {
				t.Errorf("attempt details %s: want module, version, score, passed only", details)
			}
		}
		// Retaking a module that is not the oldest pass changes nothing;
		// retaking the oldest moves the record on to the next oldest.
		clock.Add(24 * time.Hour)
		if r, err := e.s.Submit(ctx, who, last.Slug, answers(last)); err != nil || !r.Passed || r.Completed {
			t.Fatalf("retake: %+v, %v", r, err)
		}
		if r, err := e.s.Submit(ctx, who, mods[0].Module.Slug, answers(mods[0].Module)); err != nil || !r.Completed {
			t.Fatalf("retake of the oldest: %+v, %v", r, err)
		}
		a, _ = e.id.Account(ctx, who)
		if want := t0.Add(15*24*time.Hour + 2*time.Minute); !a.TrainingCompletedAt.Equal(want) {
			t.Errorf("recorded %v after the retake, want %v", a.TrainingCompletedAt, want)
		}
		// Answers that do not fit the quiz are refused with nothing written.
		before := count(t, d, `SELECT COUNT(*) FROM training_attempts`)
		if _, err := e.s.Submit(ctx, who, last.Slug, map[int]int{0: 9}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("answer out of range: %v", err)
		}
		if _, err := e.s.Submit(ctx, who, "no-such-module", nil); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("unknown module: %v", err)
		}
		if after := count(t, d, `SELECT COUNT(*) FROM training_attempts`); after != before {
			t.Errorf("refused attempts wrote %d rows", after-before)
		}
	})
}

// TestAssignmentByRole (MTL-8.1): a module applies to the roles of its
// audience; contractors take their role's modules; a module outside the
// role, or inactive, can be neither opened nor taken; customers have
// none.
func TestAssignmentByRole(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		e := setup(t, d, nil)
		if _, err := e.s.InstallDefaults(ctx); err != nil {
			t.Fatal(err)
		}
		m, err := e.s.Create(ctx, training.Draft{Slug: "triage", Title: "Triaging alerts", Lesson: "Read the alert first.", PassMark: 100,
			Quiz: "? First step?\n- Close it\n* Read it\n- Ignore it\n", Audience: []access.Role{access.RoleSecurity}}, "admin1")
		if err != nil {
			t.Fatal(err)
		}
		sec := e.account(t, access.RoleSecurity, time.Time{})
		contractor := e.account(t, access.RoleSupport, t0.Add(90*24*time.Hour))
		customer := e.account(t, access.RoleCustomer, time.Time{})
		progress := func(who string) int {
			p, err := e.s.Progress(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Modules)
		}
		if progress(sec) != 5 || progress(contractor) != 4 {
			t.Errorf("security has %d modules (want 5), the support contractor %d (want 4)", progress(sec), progress(contractor))
		}
		if _, _, err := e.s.Lesson(ctx, contractor, "triage"); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("support opened a security module: %v", err)
		}
		if _, err := e.s.Submit(ctx, contractor, "triage", answers(m)); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("support took a security module: %v", err)
		}
		if _, _, err := e.s.Lesson(ctx, sec, "triage"); err != nil {
			t.Errorf("security cannot open its module: %v", err)
		}
		if _, err := e.s.Progress(ctx, customer); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("a customer has training: %v", err)
		}
		if _, _, err := e.s.Lesson(ctx, customer, "phishing"); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("a customer opened a module: %v", err)
		}
		if err := e.s.SetActive(ctx, "triage", false); err != nil {
			t.Fatal(err)
		}
		if progress(sec) != 4 {
			t.Error("an inactive module is still assigned")
		}
		if _, err := e.s.Submit(ctx, sec, "triage", answers(m)); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("an inactive module was taken: %v", err)
		}
		// The administrators' overview: completion per module.
		for _, mod := range []string{"phishing"} {
			mm, _ := e.s.Module(ctx, mod)
			if _, err := e.s.Submit(ctx, contractor, mod, answers(mm)); err != nil {
				t.Fatal(err)
			}
		}
		o, err := e.s.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sum := range o.Modules {
			want := 0
			if sum.Slug == "phishing" {
				want = 1
			}
			assigned := 2
			if sum.Slug == "triage" {
				assigned = 0
			}
			if sum.Passed != want || sum.Assigned != assigned {
				t.Errorf("%s: %d of %d passed, want %d of %d", sum.Slug, sum.Passed, sum.Assigned, want, assigned)
			}
		}
		staff, err := e.s.ModuleStaff(ctx, mustModule(t, e, "phishing"))
		if err != nil || len(staff) != 2 {
			t.Fatalf("module staff: %+v, %v", staff, err)
		}
		for _, st := range staff {
			if (st.AccountID == contractor) != (st.Status.State == training.StatePassed) || (st.AccountID == contractor) != st.Contractor {
				t.Errorf("staff row %+v", st)
			}
		}
	})
}

func mustModule(t *testing.T, e env, slug string) training.Module {
	t.Helper()
	m, err := e.s.Module(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReminders (MTL-8.1, CP-12): a member of staff is reminded 14 days
// before their training is due (a tenth of the interval when that is
// shorter) and on the due date, once each per due date, by notice and
// audited; once overdue, governance.overdue is appended once per due
// date, naming no one; a new training brings new reminders for the new
// due date.
func TestReminders(t *testing.T) {
	clock := dbtest.NewClock(t0)
	for _, c := range []struct {
		name     string
		interval time.Duration
		lead     time.Duration
	}{
		{"a year: 14 days ahead", 365 * 24 * time.Hour, 14 * 24 * time.Hour},
		{"50 days: 5 days ahead", 50 * 24 * time.Hour, 5 * 24 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
				clock.Set(t0)
				ctx := context.Background()
				e := setup(t, d, func(p *policy.Profile) { p.Governance.TrainingInterval = policy.Duration{Duration: c.interval} })
				who := e.account(t, access.RoleAuditor, time.Time{})
				exec(t, d, `UPDATE accounts SET training_completed_at = $1 WHERE id = $2`, t0, who)
				due := t0.Add(c.interval)
				pass := func(t *testing.T, at time.Time, want int) {
					t.Helper()
					clock.Set(at)
					e.out.got = nil
					n, err := e.s.Remind(ctx)
					if err != nil || n != want {
						t.Fatalf("at %v: %d recorded, want %d (%v)", at, n, want, err)
					}
				}
				pass(t, due.Add(-c.lead-time.Second), 0)
				pass(t, due.Add(-c.lead), 1)
				if len(e.out.got) != 1 || e.out.got[0].AccountID != who || !e.out.got[0].Email || !strings.Contains(e.out.got[0].Body, "/training") || strings.Contains(e.out.got[0].Body, "https://") {
					t.Fatalf("reminder notices: %+v", e.out.got)
				}
				pass(t, due.Add(-time.Hour), 0)
				pass(t, due, 2) // the due-day reminder and the alert
				if len(e.out.got) != 1 || !strings.Contains(e.out.got[0].Title, "today") {
					t.Fatalf("due-day notices: %+v", e.out.got)
				}
				pass(t, due.Add(3*24*time.Hour), 0)
				if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'training.reminder' AND target = $1`, "account:"+who); n != 2 {
					t.Errorf("%d reminders audited, want 2", n)
				}
				var details string
				if err := d.QueryRowContext(ctx, `SELECT details FROM audit_events WHERE action = 'governance.overdue' AND target = $1`, "training:"+who).Scan(&details); err != nil {
					t.Fatalf("no overdue alert: %v", err)
				}
				var m map[string]string
				if err := json.Unmarshal([]byte(details), &m); err != nil || m["kind"] != "training" || m["due"] != due.Format(time.RFC3339) || strings.Contains(m["summary"], who) {
					t.Errorf("overdue details %s", details)
				}
				if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'governance.overdue'`); n != 1 {
					t.Errorf("%d overdue alerts, want 1", n)
				}
				// Trained again: the next due date has its own reminders.
				exec(t, d, `UPDATE accounts SET training_completed_at = $1 WHERE id = $2`, clock.Now(), who)
				pass(t, clock.Now().Add(c.interval-c.lead), 1)
				// A customer or a disabled member of staff is never reminded.
				other := e.account(t, access.RoleSupport, time.Time{})
				exec(t, d, `UPDATE accounts SET status = 'disabled' WHERE id = $1`, other)
				e.account(t, access.RoleCustomer, time.Time{})
				pass(t, clock.Now().Add(365*24*time.Hour), 2)
			})
		})
	}
}

// TestRunIsLeased (MTL-8.1): the background pass installs the built-in
// modules and sends the reminders on the node that holds the lease only.
func TestRunIsLeased(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		e := setup(t, d, nil)
		e.account(t, access.RoleSupport, time.Time{}) // due in 14 days: reminded now
		if ok, _, err := d.TakeLease(ctx, "training.reminders", "another-node", time.Hour); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		run := func() {
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			e.s.Run(ctx, 20*time.Millisecond, nil)
		}
		run()
		if n := count(t, d, `SELECT COUNT(*) FROM training_modules`) + count(t, d, `SELECT COUNT(*) FROM training_reminders`); n != 0 {
			t.Fatalf("%d rows written while another node held the lease", n)
		}
		clock.Add(time.Hour + time.Second) // the other node's lease ran out
		run()
		if n := count(t, d, `SELECT COUNT(*) FROM training_modules`); n != 4 {
			t.Errorf("%d modules installed by the pass, want 4", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM training_reminders`); n != 1 {
			t.Errorf("%d reminders sent by the pass, want 1", n)
		}
	})
}

// TestAdminModules (MTL-8.1): an administrator's module is read from the
// quiz's text format; a bad one is refused with a message saying what to
// fix and nothing written; editing saves a new version; deactivating is
// audited.
func TestAdminModules(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		e := setup(t, d, nil)
		good := training.Draft{Slug: "clean-desk", Title: "Clean desk", Lesson: "# Clean desk\n\nLock your screen.", PassMark: 50,
			Quiz:     "? When do you lock your screen?\r\n- Never\r\n* Whenever you leave it\r\n- At night\r\n\r\n? Where do printed customer details go?\n* The shredder\n- The bin\n- Your bag\n- The desk\n",
			Audience: []access.Role{access.RoleSupport, access.RoleAdmin}}
		for _, c := range []struct{ name, field, quiz, says string }{
			{"no right answer", "quiz", "? Q\n- a\n- b\n- c\n", "Question 1 has no right answer"},
			{"two right answers", "quiz", "? Q\n* a\n* b\n- c\n", "Question 1 has 2 right answers"},
			{"too few answers", "quiz", "? Q\n* a\n- b\n", "Question 1 has 2 answers: give it 3 or 4"},
			{"too many answers", "quiz", "? Q\n* a\n- b\n- c\n- d\n- e\n", "Question 1 has 5 answers"},
			{"a stray line", "quiz", "? Q\n* a\n- b\nc\n", "Line 4 starts with neither"},
			{"an answer first", "quiz", "* a\n? Q\n", "Line 1 is an answer before any question"},
			{"empty", "quiz", "\n\n", "The quiz has no question"},
			{"empty question", "quiz", "?\n* a\n- b\n- c\n", "Line 1 is empty"},
		} {
			t.Run(c.name, func(t *testing.T) {
				bad := good
				bad.Quiz = c.quiz
				_, err := e.s.Create(ctx, bad, "admin1")
				if apperr.CodeOf(err) != apperr.Invalid || fieldOf(err) != c.field || !strings.Contains(apperr.MessageOf(err), c.says) {
					t.Errorf("got %v (field %q), want %q", err, fieldOf(err), c.says)
				}
			})
		}
		for _, c := range []struct {
			name, field string
			edit        func(*training.Draft)
		}{
			{"bad slug", "slug", func(d *training.Draft) { d.Slug = "Clean Desk!" }},
			{"double hyphen", "slug", func(d *training.Draft) { d.Slug = "clean--desk" }},
			{"reserved slug", "slug", func(d *training.Draft) { d.Slug = "new" }},
			{"no title", "title", func(d *training.Draft) { d.Title = " " }},
			{"no lesson", "lesson", func(d *training.Draft) { d.Lesson = "" }},
			{"pass mark", "pass_mark", func(d *training.Draft) { d.PassMark = 0 }},
			{"no audience", "audience", func(d *training.Draft) { d.Audience = nil }},
		} {
			t.Run(c.name, func(t *testing.T) {
				bad := good
				c.edit(&bad)
				if _, err := e.s.Create(ctx, bad, "admin1"); apperr.CodeOf(err) != apperr.Invalid || fieldOf(err) != c.field {
					t.Errorf("got %v (field %q), want one on %s", err, fieldOf(err), c.field)
				}
			})
		}
		if _, err := training.ParseAudience([]string{"support", "customer"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("customer audience: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM training_modules`) + count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action LIKE 'training.%'`); n != 0 {
			t.Fatalf("refused modules wrote %d rows", n)
		}
		m, err := e.s.Create(ctx, good, "admin1")
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Questions) != 2 || m.Questions[0].Text != "When do you lock your screen?" || !m.Questions[0].Right(1) || !m.Questions[1].Right(0) || len(m.Questions[1].Choices) != 4 {
			t.Fatalf("parsed %+v", m.Questions)
		}
		if back, err := training.ParseQuiz(training.FormatQuiz(m.Questions)); err != nil || len(back) != 2 || !back[1].Right(0) {
			t.Errorf("format round trip: %v", err)
		}
		if _, err := e.s.Create(ctx, good, "admin1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("same slug twice: %v", err)
		}
		clock.Add(time.Hour)
		good.Title = "Clean desk and screen"
		if m, err = e.s.Edit(ctx, "clean-desk", good, "admin2"); err != nil || m.Version != 2 {
			t.Fatalf("edit: %+v, %v", m, err)
		}
		if got := mustModule(t, e, "clean-desk"); got.Version != 2 || got.Title != "Clean desk and screen" || got.CreatedBy != "admin2" {
			t.Errorf("in use: %+v", got)
		}
		if _, err := e.s.Edit(ctx, "nope", good, "admin2"); !errors.Is(err, training.ErrNoModule) {
			t.Errorf("edit of a missing module: %v", err)
		}
		if err := e.s.SetActive(ctx, "clean-desk", false); err != nil {
			t.Fatal(err)
		}
		if err := e.s.SetActive(ctx, "clean-desk", false); err != nil {
			t.Fatal(err)
		}
		if got := mustModule(t, e, "clean-desk"); got.Active {
			t.Error("still active")
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action IN ('training.module_create', 'training.module_edit', 'training.module_deactivate')`); n != 3 {
			t.Errorf("%d module events, want 3", n)
		}
	})
}

// fieldOf is the input an error is about ("" for the form as a whole).
func fieldOf(err error) string {
	for k := range apperr.FieldsOf(err) {
		return k
	}
	return ""
}
