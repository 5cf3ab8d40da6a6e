package compliance_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/support"
)

const dataPassword = "correct horse battery staple 42"

// eachDataClock runs fn on SQLite and PostgreSQL with a clock the database
// follows, set to t0.
func eachDataClock(t *testing.T, fn func(t *testing.T, d *db.DB, clk *dbtest.Clock)) {
	clk := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		clk.Set(t0)
		fn(t, d, clk)
	})
}

// dataCustomer creates an active customer as an administrator would.
func (w *world) dataCustomer(t *testing.T, email string) access.Principal {
	t.Helper()
	a, err := w.sv.Identity.CreateAccount(context.Background(), identity.NewAccount{Email: email, Role: access.RoleCustomer, Password: dataPassword})
	if err != nil {
		t.Fatal(err)
	}
	return access.Principal{AccountID: a.ID, Role: access.RoleCustomer, Stage: access.StageDone}
}

// wantData runs the check called name and fails the test unless its status
// is status; the summary is logged, to read why with -v.
func (w *world) wantData(t *testing.T, name, what string, status compliance.Status) compliance.Result {
	t.Helper()
	r := w.check(t, name)
	t.Logf("%s: %s: %s", what, r.Status, r.Summary)
	wantStatus(t, what, r, status)
	return r
}

// TestFieldsEncryptedEvidence (CP-5.1, MTL-2.1.3, MTL-1.1): personal
// fields written by the services are ciphertext and decrypt under their
// subject's key; a value written in clear by SQL, a truncated ciphertext
// or a ciphertext moved to another account fails the check, and an
// unfinished key rotation warns.
func TestFieldsEncryptedEvidence(t *testing.T) {
	eachDataClock(t, func(t *testing.T, d *db.DB, clk *dbtest.Clock) {
		w := newWorld(t, d, nil)
		ctx := context.Background()
		a := w.dataCustomer(t, "ada@example.com")
		b := w.dataCustomer(t, "bob@example.com")
		if err := w.sv.Identity.SetContact(ctx, b.AccountID, "Bob Baker", "+44 20 7946 0958"); err != nil {
			t.Fatal(err)
		}
		w.sv.Identity.Login(ctx, identity.Credentials{Email: "ada@example.com", Password: dataPassword, IP: "192.0.2.7", UserAgent: "test"})
		if _, err := w.sv.Support.Open(ctx, a, "A question", "The body.", []support.NewAttachment{{Name: "a.txt", Data: []byte("content")}}); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "crypto.fields-encrypted", "fields written by the services", compliance.Pass)

		// Each break is undone before the next, so that each is seen alone.
		var phone, email []byte
		if err := d.QueryRowContext(ctx, `SELECT phone_enc, email_enc FROM accounts WHERE id = $1`, b.AccountID).Scan(&phone, &email); err != nil {
			t.Fatal(err)
		}
		exec(t, d, `UPDATE accounts SET phone_enc = $1 WHERE id = $2`, []byte("+44 20 7946 0958"), b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "a phone number written in clear", compliance.Fail)
		exec(t, d, `UPDATE accounts SET phone_enc = $1 WHERE id = $2`, phone, b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "the phone number restored", compliance.Pass)
		exec(t, d, `UPDATE accounts SET phone_enc = $1 WHERE id = $2`, phone[:10], b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "a truncated ciphertext", compliance.Fail)
		exec(t, d, `UPDATE accounts SET phone_enc = $1 WHERE id = $2`, phone, b.AccountID)

		var name []byte
		if err := d.QueryRowContext(ctx, `SELECT name_enc FROM accounts WHERE id = $1`, b.AccountID).Scan(&name); err != nil {
			t.Fatal(err)
		}
		exec(t, d, `UPDATE accounts SET name_enc = $1 WHERE id = $2`, []byte("Bob Baker, written in clear, long as a ciphertext"), b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "a name as long as a ciphertext written in clear", compliance.Fail)
		exec(t, d, `UPDATE accounts SET name_enc = $1 WHERE id = $2`, name, b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "the name restored", compliance.Pass)

		exec(t, d, `UPDATE accounts SET email_enc = (SELECT email_enc FROM accounts WHERE id = $1) WHERE id = $2`, a.AccountID, b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "a ciphertext moved to another account", compliance.Fail)
		exec(t, d, `UPDATE accounts SET email_enc = $1 WHERE id = $2`, email, b.AccountID)
		w.wantData(t, "crypto.fields-encrypted", "the address restored", compliance.Pass)

		// A rotation that `portico keys rotate` began and did not finish.
		exec(t, d, `INSERT INTO key_rotations (key_id, previous_key_id, started_at) VALUES ($1, $2, $3)`, 99, int64(w.st.Keyring.PrimaryKeyID()), clk.Now())
		w.wantData(t, "crypto.fields-encrypted", "an unfinished rotation", compliance.Warn)
		exec(t, d, `UPDATE key_rotations SET finished_at = $1, outcome = 'done' WHERE key_id = $2`, clk.Now(), 99)
		w.wantData(t, "crypto.fields-encrypted", "the rotation finished", compliance.Pass)
	})
}

// TestRetentionEvidence (CP-5.2): the check fails before the purge ever
// ran, passes after it, fails when a record past its retention is still
// stored after the last run, warns when the next run is late and fails
// when runs were missed.
func TestRetentionEvidence(t *testing.T) {
	eachDataClock(t, func(t *testing.T, d *db.DB, clk *dbtest.Clock) {
		w := newWorld(t, d, nil)
		ctx := context.Background()
		w.dataCustomer(t, "ada@example.com")
		w.sv.Identity.Login(ctx, identity.Credentials{Email: "ada@example.com", Password: "wrong password entirely", IP: "192.0.2.7", UserAgent: "test"})
		w.wantData(t, "retention.purge", "never purged", compliance.Fail)
		if _, err := w.sv.Retention.Run(ctx, false); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "retention.purge", "purged", compliance.Pass)

		// The sign-in outlives its retention, and the purge takes it.
		clk.Add(w.st.Profile.Retention.SignInHistory.Duration + 24*time.Hour)
		if _, err := w.sv.Retention.Run(ctx, false); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "retention.purge", "purged after a year", compliance.Pass)

		// A record past its retention that the purge did not delete (put
		// back from an old copy, or missed by a broken rule).
		w.sv.Identity.Login(ctx, identity.Credentials{Email: "ada@example.com", Password: "wrong password again", IP: "192.0.2.7", UserAgent: "test"})
		exec(t, d, `UPDATE sign_in_events SET at = $1`, clk.Now().Add(-w.st.Profile.Retention.SignInHistory.Duration-time.Hour))
		w.wantData(t, "retention.purge", "a record past its retention", compliance.Fail)
		if _, err := w.sv.Retention.Run(ctx, false); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "retention.purge", "purged again", compliance.Pass)

		clk.Add(90 * time.Minute)
		w.wantData(t, "retention.purge", "the next run late", compliance.Warn)
		clk.Add(3 * time.Hour)
		w.wantData(t, "retention.purge", "runs missed", compliance.Fail)

		// A failed run fails the check however recent.
		if _, err := w.sv.Retention.Run(ctx, false); err != nil {
			t.Fatal(err)
		}
		exec(t, d, `UPDATE retention_runs SET error = 'boom' WHERE started_at = $1`, clk.Now())
		w.wantData(t, "retention.purge", "a failed run", compliance.Fail)
	})
}

// TestPrivacyRequestsEvidence (CP-11.1, MTL-7.1): open requests within
// their deadline pass; an erasure left waiting past its grace warns, one
// close to its legal deadline warns, one past it fails; once carried out
// the check passes again.
func TestPrivacyRequestsEvidence(t *testing.T) {
	eachDataClock(t, func(t *testing.T, d *db.DB, clk *dbtest.Clock) {
		w := newWorld(t, d, nil)
		ctx := context.Background()
		p := w.st.Profile.Privacy
		a := w.dataCustomer(t, "ada@example.com")
		b := w.dataCustomer(t, "bob@example.com")
		if _, _, err := w.sv.Privacy.RequestExport(ctx, b); err != nil {
			t.Fatal(err)
		}
		if _, err := w.sv.Privacy.RequestErasure(ctx, a); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "privacy.requests", "just asked", compliance.Pass)

		clk.Add(p.ErasureGrace.Duration + p.ErasureGrace.Duration/5)
		w.wantData(t, "privacy.requests", "erasure waiting past its grace", compliance.Warn)
		clk.Set(t0.Add(p.RequestDeadline.Duration - p.RequestDeadline.Duration/20))
		w.wantData(t, "privacy.requests", "close to the deadline", compliance.Warn)
		clk.Set(t0.Add(p.RequestDeadline.Duration + time.Hour))
		w.wantData(t, "privacy.requests", "past the deadline", compliance.Fail)

		if n, err := w.sv.Privacy.RunDueErasures(ctx); err != nil || n != 1 {
			t.Fatalf("erasures: %d %v", n, err)
		}
		w.wantData(t, "privacy.requests", "carried out", compliance.Pass)
	})
}

// TestErasuresShreddedEvidence (CP-5.2, CP-11.1): an erasure carried out
// by the service is crypto-shredded and in the ledger; one marked done by
// hand (key alive, account left) fails, and so does a destroyed key the
// ledger lost (a restore would bring the person back), and an account
// deleted by SQL with its key left alive, and a shredded account whose row
// was left behind.
func TestErasuresShreddedEvidence(t *testing.T) {
	eachDataClock(t, func(t *testing.T, d *db.DB, clk *dbtest.Clock) {
		w := newWorld(t, d, nil)
		ctx := context.Background()
		a := w.dataCustomer(t, "ada@example.com")
		b := w.dataCustomer(t, "bob@example.com")
		w.wantData(t, "privacy.erasures-shredded", "no erasure yet", compliance.Pass)
		for _, p := range []access.Principal{a, b} {
			if _, err := w.sv.Privacy.RequestErasure(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(w.st.Profile.Privacy.ErasureGrace.Duration + time.Minute)
		exec(t, d, `UPDATE privacy_requests SET scheduled_for = $1 WHERE account_id = $2`, clk.Now().Add(time.Hour), b.AccountID)
		if n, err := w.sv.Privacy.RunDueErasures(ctx); err != nil || n != 1 {
			t.Fatalf("erasures: %d %v", n, err)
		}
		w.wantData(t, "privacy.erasures-shredded", "erased by the service", compliance.Pass)

		exec(t, d, `UPDATE privacy_requests SET status = 'done', completed_at = $1 WHERE account_id = $2`, clk.Now(), b.AccountID)
		w.wantData(t, "privacy.erasures-shredded", "marked done by hand", compliance.Fail)
		exec(t, d, `UPDATE privacy_requests SET status = 'pending', completed_at = NULL WHERE account_id = $1`, b.AccountID)
		w.wantData(t, "privacy.erasures-shredded", "back to pending", compliance.Pass)

		ledger, err := os.ReadFile(w.st.Keyring.LedgerPath())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(w.st.Keyring.LedgerPath(), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "privacy.erasures-shredded", "the ledger lost an erasure", compliance.Fail)
		if err := os.WriteFile(w.st.Keyring.LedgerPath(), ledger, 0o600); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "privacy.erasures-shredded", "the ledger restored", compliance.Pass)

		// Deleted by SQL instead of erased: the rows are gone but the key
		// lives, so any backup still decrypts.
		exec(t, d, `DELETE FROM accounts WHERE id = $1`, b.AccountID)
		exec(t, d, `UPDATE privacy_requests SET status = 'done', completed_at = $1 WHERE account_id = $2`, clk.Now(), b.AccountID)
		w.wantData(t, "privacy.erasures-shredded", "deleted without shredding", compliance.Fail)
		exec(t, d, `UPDATE privacy_requests SET status = 'pending', completed_at = NULL WHERE account_id = $1`, b.AccountID)

		// Shredded (and in the ledger) but the account's row, with its
		// clear columns, left behind.
		c := w.dataCustomer(t, "cy@example.com")
		if _, err := w.sv.Privacy.RequestErasure(ctx, c); err != nil {
			t.Fatal(err)
		}
		exec(t, d, `UPDATE subject_keys SET wrapped_key = NULL, destroyed_at = $1 WHERE subject_id = $2`, clk.Now(), c.AccountID)
		exec(t, d, `UPDATE privacy_requests SET status = 'done', completed_at = $1 WHERE account_id = $2`, clk.Now(), c.AccountID)
		if err := os.WriteFile(w.st.Keyring.LedgerPath(), append(ledger, []byte(c.AccountID+"\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "privacy.erasures-shredded", "shredded but the account left", compliance.Fail)
	})
}

// TestPrivacyNoticeEvidence (MTL-2.1.2): acknowledgements of the notice in
// force and consents for declared purposes pass; an account that claims a
// version never published, or a consent for an undeclared purpose,
// fails.
func TestPrivacyNoticeEvidence(t *testing.T) {
	eachDataClock(t, func(t *testing.T, d *db.DB, clk *dbtest.Clock) {
		w := newWorld(t, d, nil)
		ctx := context.Background()
		a := w.dataCustomer(t, "ada@example.com")
		w.dataCustomer(t, "bob@example.com") // has not acknowledged yet: sees the banner
		if err := w.sv.Privacy.Acknowledge(ctx, a, privacy.BuiltinNoticeVersion); err != nil {
			t.Fatal(err)
		}
		if err := w.sv.Privacy.SetConsent(ctx, a, "product_news", true); err != nil {
			t.Fatal(err)
		}
		w.wantData(t, "privacy.notice", "acknowledged and consented", compliance.Pass)

		t.Run("a consent for an undeclared purpose fails", func(t *testing.T) {
			exec(t, d, `INSERT INTO consents (id, account_id, purpose, granted, at, notice_version) VALUES ($1, $2, $3, $4, $5, $6)`,
				"c-undeclared", a.AccountID, "ad_targeting", true, clk.Now(), privacy.BuiltinNoticeVersion)
			w.wantData(t, "privacy.notice", "undeclared purpose", compliance.Fail)
			exec(t, d, `DELETE FROM consents WHERE id = $1`, "c-undeclared")
			w.wantData(t, "privacy.notice", "removed", compliance.Pass)
		})
		t.Run("a version never published fails", func(t *testing.T) {
			exec(t, d, `UPDATE accounts SET privacy_version = $1 WHERE id = $2`, "1999-01", a.AccountID)
			w.wantData(t, "privacy.notice", "unpublished version", compliance.Fail)
		})
	})
}

// TestRecordOfProcessingEvidence (MTL-2.1.1): the running database has no
// column outside the record of processing; a column added outside a
// reviewed migration (as someone with database access would) fails.
func TestRecordOfProcessingEvidence(t *testing.T) {
	eachDataClock(t, func(t *testing.T, d *db.DB, clk *dbtest.Clock) {
		w := newWorld(t, d, nil)
		w.wantData(t, "privacy.record-of-processing", "the schema as migrated", compliance.Pass)
		exec(t, d, `ALTER TABLE accounts ADD COLUMN date_of_birth TEXT`)
		w.wantData(t, "privacy.record-of-processing", "an unrecorded column", compliance.Fail)
	})
}
