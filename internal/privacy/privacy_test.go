package privacy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
)

const pw = "correct horse battery staple 42"

// clock is the test clock that the database follows.
type clock = dbtest.Clock

type env struct {
	ctx  context.Context
	d    *db.DB
	clk  *clock
	keys *crypto.Keyring
	id   *identity.Service
	desk *support.Service
	svc  *privacy.Service

	tokens   *apitoken.Store
	notices  *notify.Service
	passkeys *passkey.Service
	reports  *detect.Service
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	clk := dbtest.NewClock(time.Time{})
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		clk.Set(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
		fn(t, newEnv(t, d, clk))
	})
}

// newEnv builds the services over d; at the end the audit chain must
// verify.
func newEnv(t testing.TB, d *db.DB, clk *clock) *env {
	t.Helper()
	keyset := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(keyset); err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.Open(d, keyset)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := policy.Builtin(policy.Default)
	p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	pwc, err := password.New(p.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pwc.Close() })
	log := audit.New(d)
	notices, err := notify.New(d, keys, log, notify.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sessions := session.NewStore(d, keys, log, p.Session)
	id, err := identity.New(identity.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Passwords: pwc, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	desk, err := support.New(support.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := apitoken.New(apitoken.Deps{DB: d, Keys: keys, Audit: log, Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	passkeys, err := passkey.New(d, log, passkey.Config{Keys: keys, RPID: "localhost", Origins: []string{"http://localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	reports := detect.New(detect.Deps{DB: d, Audit: log, Profile: p, Keys: keys})
	svc, err := privacy.New(privacy.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id, Support: desk, Notices: notices, Tokens: tokens, Passkeys: passkeys,
		Detect: reports})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if res, err := log.Verify(context.Background(), audit.VerifyOptions{}); err != nil || !res.OK {
			t.Errorf("audit chain does not verify: %+v %v", res, err)
		}
	})
	return &env{ctx: context.Background(), d: d, clk: clk, keys: keys, id: id, desk: desk, svc: svc, tokens: tokens, notices: notices, passkeys: passkeys,
		reports: reports}
}

func (e *env) customer(t testing.TB, email string) access.Principal {
	t.Helper()
	a, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: email, Name: "Jane Doe", Role: access.RoleCustomer, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return access.Principal{AccountID: a.ID, Role: access.RoleCustomer, SessionID: "s", Stage: access.StageDone, ReauthAt: e.clk.Now()}
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		body, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(body)
	}
	return out
}

func (e *env) events(t *testing.T, action string) int {
	t.Helper()
	var n int
	if err := e.d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM audit_events WHERE action = $1`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExportArchive: the customer's archive holds their data decrypted,
// one JSON file per category with a README; the link works once, for its
// owner, for an hour; request and download are audited (CP-11.1).
func TestExportArchive(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "jane@example.com")
		if err := e.id.SetContact(e.ctx, c.AccountID, "Jane Doe", "+44 20 7946 0958"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.desk.Open(e.ctx, c, "Invoice question", "Where is my invoice?", nil); err != nil {
			t.Fatal(err)
		}
		e.id.Login(e.ctx, identity.Credentials{Email: "jane@example.com", Password: "wrong password here", IP: "203.0.113.7", UserAgent: "test"})
		token, _, err := e.svc.RequestExport(e.ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		other := e.customer(t, "other@example.com")
		if _, _, err := e.svc.Download(e.ctx, other, token); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("another customer used the link: %v", err)
		}
		b, name, err := e.svc.Download(e.ctx, c, token)
		if err != nil || !strings.HasSuffix(name, ".zip") {
			t.Fatal(err)
		}
		files := unzip(t, b)
		for _, want := range []struct{ file, text string }{
			{"README.md", "tickets.json"},
			{"account.json", "jane@example.com"},
			{"account.json", "+44 20 7946 0958"},
			{"tickets.json", "Where is my invoice?"},
			{"sign_ins.json", "203.0.113.7"},
			{"notices.json", "["},
			{"security_reports.json", "["},
			{"access_history.json", "["},
			{"sessions.json", "["},
		} {
			if !strings.Contains(files[want.file], want.text) {
				t.Errorf("%s does not hold %q:\n%s", want.file, want.text, files[want.file])
			}
		}
		if _, _, err := e.svc.Download(e.ctx, c, token); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("second use of the link: %v", err)
		}
		token2, _, _ := e.svc.RequestExport(e.ctx, c)
		e.clk.Add(time.Hour + time.Second)
		if _, _, err := e.svc.Download(e.ctx, c, token2); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("expired link: %v", err)
		}
		if e.events(t, "privacy.export.request") != 2 || e.events(t, "privacy.export.download") != 1 {
			t.Error("export request or download not audited")
		}
		rs, _ := e.svc.Requests(e.ctx, c.AccountID)
		done := 0
		for _, r := range rs {
			if r.Status == privacy.StatusDone && r.DueAt.Sub(r.CreatedAt) == 28*24*time.Hour {
				done++
			}
		}
		if len(rs) != 2 || done != 1 {
			t.Errorf("requests %+v", rs)
		}
	})
}

// TestErasure: the customer schedules the erasure, may cancel it during
// the grace period; when it runs, the data key is destroyed and the
// account's rows deleted: sign-in is impossible, nothing decrypts, and the
// audit trail keeps only the opaque ID (CP-11.1, CP-5.2).
func TestErasure(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "erase.me@example.com")
		if _, err := e.desk.Open(e.ctx, c, "Something private", "My secret words.", nil); err != nil {
			t.Fatal(err)
		}
		r, err := e.svc.RequestErasure(e.ctx, c)
		if err != nil || r.ScheduledFor.Sub(r.CreatedAt) != 7*24*time.Hour {
			t.Fatalf("request: %+v %v", r, err)
		}
		if _, err := e.svc.RequestErasure(e.ctx, c); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("second request: %v", err)
		}
		if err := e.svc.CancelErasure(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(8 * 24 * time.Hour)
		if n, _ := e.svc.RunDueErasures(e.ctx); n != 0 {
			t.Fatalf("a cancelled erasure ran")
		}
		if _, err := e.svc.RequestErasure(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(6 * 24 * time.Hour)
		if n, _ := e.svc.RunDueErasures(e.ctx); n != 0 {
			t.Fatal("the erasure ran before its grace period ended")
		}
		// A copy of a ciphertext taken before the erasure (a replica, a
		// dump), with the field it belongs to: its table, column and
		// real row ID. Right now it decrypts, so the only thing that can
		// stop it later is the key.
		var ticketID string
		var subject []byte
		if err := e.d.QueryRowContext(e.ctx, `SELECT id, subject_enc FROM tickets WHERE account_id = $1`, c.AccountID).Scan(&ticketID, &subject); err != nil {
			t.Fatal(err)
		}
		subjectField := crypto.Field{Table: "tickets", Column: "subject_enc", Row: ticketID}
		if pt, err := e.keys.Decrypt(e.ctx, e.d, c.AccountID, subjectField, subject); err != nil || string(pt) != "Something private" {
			t.Fatalf("before the erasure the copy does not decrypt: %q, %v", pt, err)
		}
		e.clk.Add(24*time.Hour + time.Second)
		if n, err := e.svc.RunDueErasures(e.ctx); n != 1 || err != nil {
			t.Fatalf("RunDueErasures = %d, %v", n, err)
		}
		if _, err := e.id.Account(e.ctx, c.AccountID); err == nil {
			t.Error("the account row survived")
		}
		if _, err := e.id.Login(e.ctx, identity.Credentials{Email: "erase.me@example.com", Password: pw, IP: "192.0.2.1", UserAgent: "t"}); err == nil {
			t.Error("the erased account signed in")
		}
		var n int
		e.d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM tickets WHERE account_id = $1`, c.AccountID).Scan(&n)
		if n != 0 {
			t.Error("tickets survived")
		}
		// The same copy, with the same field, no longer decrypts, and
		// only because the key is gone (not a wrong row, not a missing
		// key row).
		if pt, err := e.keys.Decrypt(e.ctx, e.d, c.AccountID, subjectField, subject); !errors.Is(err, crypto.ErrSubjectKeyDestroyed) {
			t.Errorf("a pre-erasure ciphertext after the erasure: %q, %v; want crypto.ErrSubjectKeyDestroyed", pt, err)
		}
		if e.events(t, "privacy.erasure.done") != 1 || e.events(t, "privacy.erasure.cancel") != 1 {
			t.Error("erasure steps not audited")
		}
		// The address is free again.
		if _, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: "erase.me@example.com", Role: access.RoleCustomer, Password: pw}); err != nil {
			t.Errorf("the address cannot be used again: %v", err)
		}
	})
}

// TestStaffDoNotSelfServe: staff accounts are the operator's records; an
// administrator handles them (CP-11.1 applies to customers' data).
func TestStaffDoNotSelfServe(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a, _ := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: "staff@example.com", Role: access.RoleSupport, Password: pw})
		p := access.Principal{AccountID: a.ID, Role: access.RoleSupport, Stage: access.StageDone}
		if _, err := e.svc.RequestErasure(e.ctx, p); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("staff erasure: %v", err)
		}
		if _, _, err := e.svc.RequestExport(e.ctx, p); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("staff export: %v", err)
		}
	})
}

// TestInventoryCoversTheExport: every file of the export is explained by
// a category of the inventory (MTL-2.1.1).
func TestInventoryCoversTheExport(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "inv@example.com")
		b, err := e.svc.Archive(e.ctx, c.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := policy.Builtin(policy.Default)
		explained := map[string]bool{"README.md": true, "schema.json": true} // the archive's own documentation
		for _, cat := range privacy.Inventory(p) {
			explained[cat.InExport] = true
			if cat.Purpose == "" || cat.Basis == "" || cat.Retention == "" || cat.Where == "" {
				t.Errorf("category %q is incomplete", cat.Name)
			}
		}
		for name := range unzip(t, b) {
			if strings.HasPrefix(name, "attachments/") {
				name = "tickets.json" // the files of the tickets, listed there
			}
			if !explained[name] {
				t.Errorf("%s is not in the inventory", name)
			}
		}
	})
}

// TestNoticeVersionsAndConsents: a new notice version asks every customer
// to acknowledge it; consents to optional purposes are given and withdrawn
// with history and the notice version in force; the export holds them
// (MTL-2.1.1, MTL-2.1.2).
func TestNoticeVersionsAndConsents(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "consent@example.com")
		admin := access.Principal{AccountID: "admin", Role: access.RoleAdmin, Stage: access.StageDone}
		need, cur, err := e.svc.NeedsAcknowledgement(e.ctx, c)
		if err != nil || !need || cur.Version != privacy.BuiltinNoticeVersion {
			// CreateAccount records no version: the customer reads the notice once.
			t.Fatalf("first notice: %v %+v %v", need, cur, err)
		}
		if err := e.svc.Acknowledge(e.ctx, c, privacy.BuiltinNoticeVersion); err != nil {
			t.Fatal(err)
		}
		if need, _, _ := e.svc.NeedsAcknowledgement(e.ctx, c); need {
			t.Fatal("still asked after acknowledging")
		}
		if _, err := e.svc.PublishNotice(e.ctx, c, "2027-01", "We added service research as an optional purpose."); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("a customer published a notice: %v", err)
		}
		if _, err := e.svc.PublishNotice(e.ctx, admin, "Bad Version!", "We added service research as an optional purpose."); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad version: %v", err)
		}
		e.clk.Add(time.Minute)
		if _, err := e.svc.PublishNotice(e.ctx, admin, "2027-01", "We added service research as an optional purpose."); err != nil {
			t.Fatal(err)
		}
		if need, cur, _ := e.svc.NeedsAcknowledgement(e.ctx, c); !need || cur.Version != "2027-01" {
			t.Fatalf("after publishing: %v %+v", need, cur)
		}
		if err := e.svc.Acknowledge(e.ctx, c, privacy.BuiltinNoticeVersion); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("acknowledging an old version: %v", err)
		}
		if err := e.svc.Acknowledge(e.ctx, c, "2027-01"); err != nil {
			t.Fatal(err)
		}

		if err := e.svc.SetConsent(e.ctx, c, "product_news", true); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(time.Minute)
		if err := e.svc.SetConsent(e.ctx, c, "product_news", false); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetConsent(e.ctx, c, "selling_data", true); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("unknown purpose: %v", err)
		}
		now, history, _ := e.svc.Consents(e.ctx, c.AccountID)
		if now["product_news"] || len(history) != 2 || !history[1].Granted || history[0].NoticeVersion != "2027-01" {
			t.Fatalf("consents %v %+v", now, history)
		}
		if e.events(t, "privacy.consent.withdraw") != 1 || e.events(t, "privacy.notice.acknowledge") != 2 || e.events(t, "privacy.notice.publish") != 1 {
			t.Error("not audited")
		}
		b, _ := e.svc.Archive(e.ctx, c.AccountID)
		if files := unzip(t, b); !strings.Contains(files["consents.json"], "product_news") {
			t.Errorf("consents.json: %s", files["consents.json"])
		}
	})
}
