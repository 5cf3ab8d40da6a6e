package identity_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// cheap are test argon2 parameters; the production defaults are checked by
// TestProductionArgon2Defaults.
var cheap = identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func newService(t *testing.T, d *db.DB) (*identity.Service, *audit.Log) {
	t.Helper()
	path := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	kr, err := crypto.Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := policy.Builtin("customer-portal")
	p.Password.Argon2 = policy.Argon2{MemoryKiB: cheap.MemoryKiB, Iterations: cheap.Iterations, Parallelism: cheap.Parallelism}
	log := audit.New(d)
	pw, err := password.New(p.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := identity.New(identity.Deps{DB: d, Keys: kr, Audit: log, Profile: p, Passwords: pw,
		Sessions: session.NewStore(d, kr, log, p.Session)})
	if err != nil {
		t.Fatal(err)
	}
	return svc, log
}

// TestPasswordHash covers CP-4.3 and MTL-3.1.1: salted argon2id with its
// parameters in the encoding, constant-time verification, re-hash when the
// parameters change, NFKC normalisation and no truncation.
func TestPasswordHash(t *testing.T) {
	const pw = "tr0ub4dor & 3 more words"
	h1, err := identity.HashPassword(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := identity.HashPassword(pw, cheap)
	if h1 == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("encoding %q lacks the parameters", h1)
	}

	t.Run("right password", func(t *testing.T) {
		ok, rehash, err := identity.VerifyPassword(pw, h1, cheap)
		if err != nil || !ok || rehash {
			t.Errorf("ok=%v rehash=%v err=%v", ok, rehash, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		ok, rehash, err := identity.VerifyPassword(pw+"x", h1, cheap)
		if err != nil || ok || rehash {
			t.Errorf("ok=%v rehash=%v err=%v", ok, rehash, err)
		}
	})
	t.Run("no case folding", func(t *testing.T) {
		if ok, _, _ := identity.VerifyPassword(strings.ToUpper(pw), h1, cheap); ok {
			t.Error("upper-cased password accepted")
		}
	})
	t.Run("no truncation", func(t *testing.T) {
		long := strings.Repeat("a", 100)
		h, _ := identity.HashPassword(long, cheap)
		if ok, _, _ := identity.VerifyPassword(long[:72], h, cheap); ok {
			t.Error("a 72-character prefix of a 100-character password was accepted")
		}
	})
	t.Run("NFKC normalised", func(t *testing.T) {
		// U+FB01 (the fi ligature) is "fi" under NFKC.
		h, _ := identity.HashPassword("pro\ufb01table password", cheap)
		if ok, _, _ := identity.VerifyPassword("profitable password", h, cheap); !ok {
			t.Error("the NFKC form of the password was refused")
		}
	})
	t.Run("changed parameters ask for a re-hash", func(t *testing.T) {
		stronger := identity.Argon2Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1}
		ok, rehash, err := identity.VerifyPassword(pw, h1, stronger)
		if err != nil || !ok || !rehash {
			t.Errorf("ok=%v rehash=%v err=%v", ok, rehash, err)
		}
	})
	t.Run("malformed hashes are errors, not matches", func(t *testing.T) {
		for _, bad := range []string{
			"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
			"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA",
			"$argon2id$v=19$m=0,t=1,p=1$c2FsdA$aGFzaA",
			"$argon2id$v=19$m=9999999,t=1,p=1$c2FsdA$aGFzaA",
			"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA",
			"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
		} {
			if ok, _, err := identity.VerifyPassword(pw, bad, cheap); ok || err == nil {
				t.Errorf("%q: ok=%v err=%v", bad, ok, err)
			}
		}
	})
}

// TestProductionArgon2Defaults pins the production parameters (the OWASP
// baseline, CP-4.3): tests elsewhere use cheap ones through the profile.
func TestProductionArgon2Defaults(t *testing.T) {
	for _, name := range policy.Names() {
		p, err := policy.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		a := p.Password.Argon2
		if a.MemoryKiB != 19456 || a.Iterations != 2 || a.Parallelism != 1 {
			t.Errorf("%s: argon2 m=%d t=%d p=%d, want m=19456 t=2 p=1", name, a.MemoryKiB, a.Iterations, a.Parallelism)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	good := map[string]string{
		"  Alice@Example.COM ": "alice@example.com",
		"bob+tag@example.org":  "bob+tag@example.org",
	}
	for in, want := range good {
		if got, err := identity.NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "alice", "alice@localhost", "Alice <alice@example.com>", "a@b@example.com", strings.Repeat("a", 250) + "@example.com"} {
		if _, err := identity.NormalizeEmail(bad); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("NormalizeEmail(%q) = %v, want an Invalid error", bad, err)
		}
	}
}

// TestCheckPasswordSaysWhichRuleFailed covers CP-4.3 (foundation part).
func TestCheckPasswordSaysWhichRuleFailed(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	svc, _ := newService(t, d)
	cases := []struct{ pw, want string }{
		{"short", "too short"},
		{strings.Repeat("x", 200), "too long"},
		{"my name is carol123 ok", "contains your email address"},
	}
	for _, tc := range cases {
		err := svc.CheckPassword(tc.pw, "carol123@example.com", "")
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), tc.want) {
			t.Errorf("CheckPassword(%q) = %v, want %q", tc.pw, err, tc.want)
		}
	}
	if err := svc.CheckPassword("correct horse battery staple 42", "carol123@example.com", ""); err != nil {
		t.Errorf("good password refused: %v", err)
	}
}

// TestCreateAccount covers CP-5.1 and MTL-2.1.3 (the email is stored only
// encrypted and as a keyed hash) and CP-5.3 (the creation is audited in the
// same transaction).
func TestCreateAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), audit.ActorCLI)
		svc, log := newService(t, d)
		acct, err := svc.CreateAccount(ctx, identity.NewAccount{Email: "Dana.Secret@Example.com", Role: access.RoleSupport, Password: "a long support passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		if len(acct.ID) != 26 || acct.Role != access.RoleSupport || acct.Status != "active" {
			t.Errorf("account %+v", acct)
		}
		email, err := svc.Email(ctx, acct.ID)
		if err != nil || email != "dana.secret@example.com" {
			t.Errorf("Email = %q, %v", email, err)
		}
		found, err := svc.FindByEmail(ctx, " DANA.secret@example.com")
		if err != nil || found.ID != acct.ID {
			t.Errorf("FindByEmail = %+v, %v", found, err)
		}
		if _, err := svc.FindByEmail(ctx, "nobody@example.com"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("unknown address: %v", err)
		}

		// No column of the row holds the address in clear text.
		var lookup, enc []byte
		var hash string
		if err := d.QueryRowContext(ctx, `SELECT email_lookup, email_enc, password_hash FROM accounts WHERE id = $1`, acct.ID).Scan(&lookup, &enc, &hash); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{lookup, enc, []byte(hash)} {
			if bytes.Contains(bytes.ToLower(b), []byte("dana.secret")) {
				t.Error("the email address is stored in clear text")
			}
		}
		if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "passphrase") {
			t.Errorf("password stored as %q", hash)
		}

		// A duplicate is a conflict and writes nothing more.
		before, _ := log.Head(ctx)
		_, err = svc.CreateAccount(ctx, identity.NewAccount{Email: "dana.secret@example.com", Role: access.RoleCustomer, Password: "another long passphrase"})
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("duplicate: %v", err)
		}
		after, _ := log.Head(ctx)
		if after.Seq != before.Seq {
			t.Errorf("a refused creation wrote audit events (%d -> %d)", before.Seq, after.Seq)
		}

		// The creation event is in the trail, by the CLI, without the address.
		var buf bytes.Buffer
		if _, err := log.Export(ctx, &buf, time.Time{}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, `"action":"account.create"`) || !strings.Contains(out, `"target":"account:`+acct.ID+`"`) {
			t.Errorf("no account.create event:\n%s", out)
		}
		if strings.Contains(strings.ToLower(out), "dana.secret") {
			t.Error("the audit trail holds the email address")
		}

		t.Run("bad input writes nothing", func(t *testing.T) {
			for _, n := range []identity.NewAccount{
				{Email: "not an address", Role: access.RoleCustomer, Password: "a long enough passphrase"},
				{Email: "e@example.com", Role: "owner", Password: "a long enough passphrase"},
				{Email: "e@example.com", Role: access.RoleCustomer, Password: "short"},
			} {
				if _, err := svc.CreateAccount(ctx, n); apperr.CodeOf(err) != apperr.Invalid {
					t.Errorf("%+v: %v, want Invalid", n, err)
				}
			}
			var n int
			d.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
			if n != 1 {
				t.Errorf("%d accounts, want 1", n)
			}
		})
	})
}
