package apitoken_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// clock is the test clock that the database follows.
type clock = dbtest.Clock

// each runs fn on every test database with a store and two accounts.
func each(t *testing.T, fn func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store)) {
	clk := dbtest.NewClock(time.Time{})
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		fn(t, d, clk, setup(t, d, clk))
	})
}

// setup makes a store over d with two accounts, and signs the agent in.
func setup(t testing.TB, d *db.DB, clk *clock) *apitoken.Store {
	t.Helper()
	clk.Set(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	keyset := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(keyset); err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.Open(d, keyset)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := policy.Builtin(policy.Default)
	st, err := apitoken.New(apitoken.Deps{DB: d, Keys: keys, Audit: audit.New(d), Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"agent", "other"} {
		if err := d.Transact(context.Background(), func(tx *db.Tx) error {
			_, err := tx.ExecContext(context.Background(),
				`INSERT INTO accounts (id, email_lookup, email_enc, role, created_at, updated_at) VALUES ($1, $2, $3, 'support', $4, $4)`,
				id, []byte(id), []byte("x"), tx.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The agent signs in: a live session that has just authenticated,
	// as token creation needs (CP-6.3 step-up).
	sessions = session.NewStore(d, keys, audit.New(d), p.Session)
	if err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, sess, err := sessions.Create(context.Background(), tx, session.Start{AccountID: "agent", Role: "support", AAL: 2,
			Methods: []string{"password", "totp"}, IP: "203.0.113.5", UserAgent: "test"})
		agent = access.Principal{AccountID: "agent", Role: access.RoleSupport, SessionID: sess.ID, Stage: access.StageDone, ReauthAt: sess.ReauthAt}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// agent is the support agent's principal in the current test, signed in
// by each; sessions is that test's session store.
var (
	agent    access.Principal
	sessions *session.Store
)

// TestTokenScopesAndLifetime: scopes within the role and never sensitive;
// lifetime bounded by the profile; customers hold none (CP-6.3).
func TestTokenScopesAndLifetime(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		for name, tc := range map[string]struct {
			p      access.Principal
			scopes []access.Permission
			life   time.Duration
		}{
			"scope beyond the role": {agent, []access.Permission{access.UserManage}, 7 * 24 * time.Hour},
			"sensitive scope":       {agent, []access.Permission{access.CustomerReveal}, 7 * 24 * time.Hour},
			"no scope":              {agent, nil, 7 * 24 * time.Hour},
			"too long":              {agent, []access.Permission{access.TicketQueue}, 91 * 24 * time.Hour},
			"too short":             {agent, []access.Permission{access.TicketQueue}, time.Hour},
			"customer":              {access.Principal{AccountID: "agent", Role: access.RoleCustomer, Stage: access.StageDone}, []access.Permission{access.TicketOwn}, 7 * 24 * time.Hour},
		} {
			if _, _, err := st.Create(ctx, tc.p, "laptop", tc.scopes, tc.life); err == nil {
				t.Errorf("%s: created", name)
			}
		}
		raw, tok, err := st.Create(ctx, agent, "laptop", []access.Permission{access.TicketQueue, access.TicketQueue}, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok.Scopes) != 1 {
			t.Errorf("scopes %v", tok.Scopes)
		}
		got, err := st.Authenticate(ctx, raw, "203.0.113.5")
		if err != nil || got.AccountID != "agent" || got.Role != access.RoleSupport || len(got.Scopes) != 1 {
			t.Fatalf("Authenticate: %+v %v", got, err)
		}
		list, _ := st.List(ctx, "agent")
		if len(list) != 1 || list[0].LastUsedIP != "203.0.113.5" || list[0].LastUsedAt.IsZero() {
			t.Errorf("list %+v", list)
		}
		var stored []byte
		d.QueryRowContext(ctx, `SELECT secret_hash FROM api_tokens`).Scan(&stored)
		if bytes.Contains(stored, []byte(raw[len(raw)-26:])) {
			t.Error("the secret is stored in clear")
		}
		var ipEnc []byte
		d.QueryRowContext(ctx, `SELECT last_used_ip_enc FROM api_tokens`).Scan(&ipEnc)
		if bytes.Contains(ipEnc, []byte("203.0.113.5")) {
			t.Error("the last address is stored in clear")
		}
		clk.Add(7*24*time.Hour + time.Second)
		if _, err := st.Authenticate(ctx, raw, "203.0.113.5"); err != apitoken.ErrNoToken {
			t.Errorf("expired token: %v", err)
		}
	})
}

// TestTokenRevocation: the holder revokes their own token, which stops at
// once; another account's token ID answers NotFound; forged values fail.
func TestTokenRevocation(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		raw, tok, err := st.Create(ctx, agent, "ci", []access.Permission{access.TicketQueue}, 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		other := access.Principal{AccountID: "other", Role: access.RoleSupport, Stage: access.StageDone}
		if err := st.Revoke(ctx, other, tok.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("foreign revoke: %v", err)
		}
		forged := raw[:len(raw)-1] + "a"
		if forged == raw {
			forged = raw[:len(raw)-1] + "b"
		}
		for _, bad := range []string{"", "ptk_", forged, "Bearer " + raw, raw + "x"} {
			if _, err := st.Authenticate(ctx, bad, "ip"); err != apitoken.ErrNoToken {
				t.Errorf("Authenticate(%q): %v", bad, err)
			}
		}
		if err := st.Revoke(ctx, agent, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Authenticate(ctx, raw, "ip"); err != apitoken.ErrNoToken {
			t.Errorf("revoked token: %v", err)
		}
	})
}

// TestTokenCreationNeedsStepUp covers CP-6.3: a token outlives the
// session that makes it, so only a session that re-authenticated within
// the step-up window, and is still live, may make one.
func TestTokenCreationNeedsStepUp(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		scopes := []access.Permission{access.TicketQueue}
		clk.Add(6 * time.Minute) // past the 5-minute step-up window
		if _, _, err := st.Create(ctx, agent, "stale", scopes, 7*24*time.Hour); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("create without a fresh step-up: %v", err)
		}
		fresh := agent
		fresh.ReauthAt = clk.Now()
		if _, _, err := st.Create(ctx, fresh, "fresh", scopes, 7*24*time.Hour); err != nil {
			t.Fatalf("create after a step-up: %v", err)
		}
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := sessions.EndAll(ctx, tx, "agent", "", "logout")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Create(ctx, fresh, "ended", scopes, 7*24*time.Hour); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Errorf("create from an ended session: %v", err)
		}
	})
}

// TestTokenCredentialsEpoch covers CP-6.3: a token dies when its holder's
// credentials epoch moves past it, and a token made by a session from
// before the move is born dead, however the two requests raced.
func TestTokenCredentialsEpoch(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		scopes := []access.Permission{access.TicketQueue}
		raw, _, err := st.Create(ctx, agent, "before", scopes, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Authenticate(ctx, raw, "ip"); err != nil {
			t.Fatalf("a live token: %v", err)
		}
		// Another node moves the epoch (a password reset, say) without
		// touching the token row, as a racing request would see it.
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE accounts SET credentials_epoch = credentials_epoch + 1 WHERE id = 'agent'`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Authenticate(ctx, raw, "ip"); err != apitoken.ErrNoToken {
			t.Errorf("a token from before the epoch: %v", err)
		}
		// The agent's session is from before the move too (its row was
		// not ended: a race), so what it makes is behind the account.
		late, tok, err := st.Create(ctx, agent, "raced", scopes, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Epoch != 0 {
			t.Errorf("a token made by a session of epoch 0 has epoch %d", tok.Epoch)
		}
		if _, err := st.Authenticate(ctx, late, "ip"); err != apitoken.ErrNoToken {
			t.Errorf("a token made by a superseded session: %v", err)
		}
	})
}
