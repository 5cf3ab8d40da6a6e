package passkey_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/passkey"
)

const (
	testRPID   = "localhost"
	testOrigin = "https://localhost:8443"
)

// finishLogin runs FinishLogin the way a handler must: a refused ceremony
// is committed (the challenge stays spent, the failure recorded).
func finishLogin(s *passkey.Service, d *db.DB, challengeID string, body []byte) (acct string, p passkey.Passkey, err error) {
	txErr := d.Transact(context.Background(), func(tx *db.Tx) error {
		acct, p, err = s.FinishLogin(context.Background(), tx, challengeID, body)
		if errors.Is(err, passkey.ErrRefused) {
			return nil
		}
		return err
	})
	if txErr != nil {
		return "", passkey.Passkey{}, txErr
	}
	return acct, p, err
}

// finishRegistration is finishLogin for FinishRegistration.
func finishRegistration(s *passkey.Service, d *db.DB, accountID, challengeID, name string, body []byte) (p passkey.Passkey, err error) {
	txErr := d.Transact(context.Background(), func(tx *db.Tx) error {
		p, err = s.FinishRegistration(context.Background(), tx, accountID, challengeID, name, body)
		if errors.Is(err, passkey.ErrRefused) {
			return nil
		}
		return err
	})
	if txErr != nil {
		return passkey.Passkey{}, txErr
	}
	return p, err
}

// wantRefused checks that err is a refusal and that the newest audit event
// records it with the reason.
func wantRefused(t *testing.T, d *db.DB, err error, action, reason string) event {
	t.Helper()
	if !errors.Is(err, passkey.ErrRefused) {
		t.Fatalf("%s: err = %v, want a refusal (%s)", action, err, reason)
	}
	if msg := apperr.MessageOf(err); msg == "" || strings.Contains(msg, "_") {
		t.Errorf("%s: user message %q is empty or names the internal reason", action, msg)
	}
	e := lastEvent(t, d)
	if e.Action != action || e.Outcome == audit.Success || e.Details["reason"] != reason {
		t.Fatalf("last audit event = %+v, want %s failure with reason %s", e, action, reason)
	}
	return e
}

// TestPasskeysScopedToAccount covers MTL-3.1.2 and CP-4.2 for the passkey
// list: List, Count, Rename and Remove see only the account's own passkeys;
// another account's passkey ID answers NotFound exactly like a made-up one;
// changes are audited; labels are encrypted at rest.
func TestPasskeysScopedToAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newService(t, d, testRPID, testOrigin)
		a, b := createAccount(t, d), createAccount(t, d)
		var pa1, pa2, pb passkey.Passkey
		transact(t, d, func(tx *db.Tx) (err error) {
			if pa1, err = s.InsertForTest(ctx, tx, a, "Work laptop", nil); err != nil {
				return err
			}
			if pa2, err = s.InsertForTest(ctx, tx, a, "Phone", nil); err != nil {
				return err
			}
			pb, err = s.InsertForTest(ctx, tx, b, "Bob's key", nil)
			return err
		})

		list, err := s.List(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		names := func(acct string) map[string]string {
			t.Helper()
			list, err := s.List(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, p := range list {
				if p.AccountID != acct {
					t.Errorf("List(%s) returned a passkey of %s", acct, p.AccountID)
				}
				out[p.ID] = p.Name
			}
			return out
		}
		if got := names(a); len(list) != 2 || got[pa1.ID] != "Work laptop" || got[pa2.ID] != "Phone" {
			t.Fatalf("List(a) = %+v", list)
		}
		if got := names(b); len(got) != 1 || got[pb.ID] != "Bob's key" {
			t.Fatalf("List(b) = %v", got)
		}
		if n, _ := s.Count(ctx, a); n != 2 {
			t.Errorf("Count(a) = %d, want 2", n)
		}
		if n, _ := s.Count(ctx, createAccount(t, d)); n != 0 {
			t.Errorf("Count(new account) = %d, want 0", n)
		}

		t.Run("labels are encrypted at rest", func(t *testing.T) {
			var enc []byte
			if err := d.QueryRowContext(ctx, `SELECT name_enc FROM passkeys WHERE id = $1`, pa1.ID).Scan(&enc); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(enc, []byte("Work laptop")) {
				t.Error("the label is stored in clear text")
			}
		})

		t.Run("another account's passkey is NotFound", func(t *testing.T) {
			for _, tc := range []struct{ acct, id string }{{b, pa1.ID}, {a, pb.ID}, {a, "no-such-passkey"}, {"", pa1.ID}} {
				err := d.Transact(ctx, func(tx *db.Tx) error { return s.Rename(ctx, tx, tc.acct, tc.id, "Mine now") })
				if apperr.CodeOf(err) != apperr.NotFound {
					t.Errorf("Rename(%q, %q) = %v, want NotFound", tc.acct, tc.id, err)
				}
				err = d.Transact(ctx, func(tx *db.Tx) error { return s.Remove(ctx, tx, tc.acct, tc.id) })
				if apperr.CodeOf(err) != apperr.NotFound {
					t.Errorf("Remove(%q, %q) = %v, want NotFound", tc.acct, tc.id, err)
				}
			}
			if n, _ := s.Count(ctx, a); n != 2 {
				t.Errorf("after the attempts Count(a) = %d, want 2", n)
			}
			if got := names(a)[pa1.ID]; got != "Work laptop" {
				t.Errorf("the label changed to %q", got)
			}
		})

		t.Run("rename", func(t *testing.T) {
			transact(t, d, func(tx *db.Tx) error { return s.Rename(ctx, tx, a, pa2.ID, "  Personal phone ") })
			if got := names(a)[pa2.ID]; got != "Personal phone" {
				t.Errorf("name = %q", got)
			}
			e := lastEvent(t, d)
			if e.Action != "passkey.rename" || e.Target != "account:"+a || e.Details["passkey_id"] != pa2.ID {
				t.Errorf("audit event = %+v", e)
			}
			if strings.Contains(e.raw, "Personal phone") {
				t.Error("the label is in the audit trail")
			}
			for _, bad := range []string{"", "   ", strings.Repeat("x", passkey.MaxNameLength+1), "tab\there", "new\nline"} {
				err := d.Transact(ctx, func(tx *db.Tx) error { return s.Rename(ctx, tx, a, pa2.ID, bad) })
				if apperr.CodeOf(err) != apperr.Invalid || apperr.MessageOf(err) == "" {
					t.Errorf("Rename to %q = %v, want Invalid with a message", bad, err)
				}
			}
		})

		t.Run("remove", func(t *testing.T) {
			transact(t, d, func(tx *db.Tx) error { return s.Remove(ctx, tx, a, pa1.ID) })
			if n, _ := s.Count(ctx, a); n != 1 {
				t.Errorf("Count(a) = %d, want 1", n)
			}
			if n, _ := s.Count(ctx, b); n != 1 {
				t.Errorf("Count(b) = %d, want 1", n)
			}
			e := lastEvent(t, d)
			if e.Action != "passkey.remove" || e.Outcome != audit.Success || e.Details["passkey_id"] != pa1.ID {
				t.Errorf("audit event = %+v", e)
			}
			err := d.Transact(ctx, func(tx *db.Tx) error { return s.Remove(ctx, tx, a, pa1.ID) })
			if apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("second Remove = %v, want NotFound", err)
			}
		})

		t.Run("deleting the account deletes its passkeys and ceremonies", func(t *testing.T) {
			if _, _, err := s.BeginRegistration(ctx, b, "bob@example.com"); err != nil {
				t.Fatal(err)
			}
			transact(t, d, func(tx *db.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, b)
				return err
			})
			for _, table := range []string{"passkeys", "passkey_handles", "webauthn_challenges"} {
				var n int
				if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE account_id = $1`, b).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%s still has %d rows of the deleted account", table, n)
				}
			}
		})
	})
}

// options is what the tests read from Begin*'s options.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		Timeout   int    `json:"timeout"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
		AuthenticatorSelection struct {
			ResidentKey        string `json:"residentKey"`
			RequireResidentKey bool   `json:"requireResidentKey"`
			UserVerification   string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		UserVerification   string `json:"userVerification"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func parseOptions(t *testing.T, b []byte) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("options %s: %v", b, err)
	}
	return o
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}

// TestBeginOptions covers CP-4.1 and MTL-3.1.2: registration asks for a
// discoverable credential with user verification preferred and excludes
// the account's passkeys; the user handle is 32 random bytes per account,
// not the account ID and not personal data; a second-factor sign-in allows
// only the account's credentials; a passwordless one requires user
// verification.
func TestBeginOptions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newService(t, d, testRPID, testOrigin)
		a, b := createAccount(t, d), createAccount(t, d)
		credA := bytes.Repeat([]byte{0xaa}, 32)
		transact(t, d, func(tx *db.Tx) error {
			_, err := s.InsertForTest(ctx, tx, a, "Work laptop", credA)
			return err
		})

		if _, _, err := s.BeginRegistration(ctx, "no-such-account", "x"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("BeginRegistration(unknown account) = %v, want NotFound", err)
		}

		id, raw, err := s.BeginRegistration(ctx, a, "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if id == "" {
			t.Fatal("no challenge ID")
		}
		o := parseOptions(t, raw).PublicKey
		if o.RP.ID != testRPID || o.RP.Name != "Portico" {
			t.Errorf("rp = %+v", o.RP)
		}
		if sel := o.AuthenticatorSelection; sel.ResidentKey != "required" || !sel.RequireResidentKey || sel.UserVerification != "preferred" {
			t.Errorf("authenticatorSelection = %+v, want a required resident key and preferred user verification", sel)
		}
		if len(b64(t, o.Challenge)) < 16 {
			t.Errorf("challenge of %d bytes", len(b64(t, o.Challenge)))
		}
		if o.Timeout != int(passkey.ChallengeTTL.Milliseconds()) {
			t.Errorf("timeout = %d ms, want the challenge lifetime", o.Timeout)
		}
		if len(o.ExcludeCredentials) != 1 || !bytes.Equal(b64(t, o.ExcludeCredentials[0].ID), credA) {
			t.Errorf("excludeCredentials = %+v, want the account's passkey", o.ExcludeCredentials)
		}
		if o.User.DisplayName != "alice@example.com" {
			t.Errorf("user.displayName = %q", o.User.DisplayName)
		}

		t.Run("user handle is random, stable and not the account ID", func(t *testing.T) {
			handle := b64(t, o.User.ID)
			stored, err := s.UserHandleForTest(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if len(handle) != 32 || !bytes.Equal(handle, stored) {
				t.Fatalf("user.id = %x (%d bytes), stored %x", handle, len(handle), stored)
			}
			if bytes.Contains(handle, []byte(a)) || bytes.Contains([]byte(o.User.ID), []byte(a)) {
				t.Error("the user handle holds the account ID")
			}
			_, raw2, _ := s.BeginRegistration(ctx, a, "alice@example.com")
			if again := b64(t, parseOptions(t, raw2).PublicKey.User.ID); !bytes.Equal(again, handle) {
				t.Error("the handle changed between ceremonies")
			}
			_, rawB, _ := s.BeginRegistration(ctx, b, "bob@example.com")
			if hb := b64(t, parseOptions(t, rawB).PublicKey.User.ID); bytes.Equal(hb, handle) {
				t.Error("two accounts share a handle")
			}
		})

		t.Run("the display name is not stored", func(t *testing.T) {
			var n int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM webauthn_challenges WHERE session_data LIKE '%alice%'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d stored ceremonies hold the display name", n)
			}
		})

		t.Run("second factor allows only the account's passkeys", func(t *testing.T) {
			if _, _, err := s.BeginLogin(ctx, b); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("BeginLogin(account without passkeys) = %v, want NotFound", err)
			}
			if _, _, err := s.BeginLogin(ctx, "no-such-account"); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("BeginLogin(unknown account) = %v, want NotFound", err)
			}
			_, raw, err := s.BeginLogin(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			o := parseOptions(t, raw).PublicKey
			if len(o.AllowCredentials) != 1 || !bytes.Equal(b64(t, o.AllowCredentials[0].ID), credA) {
				t.Errorf("allowCredentials = %+v", o.AllowCredentials)
			}
			if o.RPID != testRPID || o.UserVerification != "preferred" {
				t.Errorf("rpId = %q, userVerification = %q", o.RPID, o.UserVerification)
			}
		})

		t.Run("passwordless requires user verification and names no account", func(t *testing.T) {
			id, raw, err := s.BeginDiscoverableLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			o := parseOptions(t, raw).PublicKey
			if len(o.AllowCredentials) != 0 || o.UserVerification != "required" || o.RPID != testRPID {
				t.Errorf("options = %+v", o)
			}
			var acct *string
			if err := d.QueryRowContext(ctx, `SELECT account_id FROM webauthn_challenges WHERE id = $1`, id).Scan(&acct); err != nil {
				t.Fatal(err)
			}
			if acct != nil {
				t.Errorf("the passwordless ceremony names account %q", *acct)
			}
		})
	})
}

// TestChallengeSingleUseAndExpiry covers CP-4.1: a ceremony finishes at
// most once, within ChallengeTTL by the database's clock, for the account
// and the kind it was begun for; every refusal is audited with its reason
// and no credential material.
func TestChallengeSingleUseAndExpiry(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newService(t, d, testRPID, testOrigin)
		a, b := createAccount(t, d), createAccount(t, d)
		junk := []byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`)

		t.Run("a challenge of account A cannot finish for account B", func(t *testing.T) {
			id, _, err := s.BeginRegistration(ctx, a, "a")
			if err != nil {
				t.Fatal(err)
			}
			_, err = finishRegistration(s, d, b, id, "", junk)
			e := wantRefused(t, d, err, "passkey.add", "wrong_account")
			if e.Target != "account:"+b {
				t.Errorf("target = %q", e.Target)
			}
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("code = %s", apperr.CodeOf(err))
			}
			// B's attempt did not spend A's ceremony.
			_, err = finishRegistration(s, d, a, id, "", junk)
			wantRefused(t, d, err, "passkey.add", "malformed")
			_, err = finishRegistration(s, d, a, id, "", junk)
			wantRefused(t, d, err, "passkey.add", "replayed")
		})

		t.Run("a ceremony of one kind cannot finish the other", func(t *testing.T) {
			reg, _, err := s.BeginRegistration(ctx, a, "a")
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = finishLogin(s, d, reg, junk)
			wantRefused(t, d, err, "passkey.login", "unknown_challenge")
			login, _, err := s.BeginDiscoverableLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = finishRegistration(s, d, a, login, "", junk)
			wantRefused(t, d, err, "passkey.add", "unknown_challenge")
			// Neither was spent by the mix-up.
			_, err = finishRegistration(s, d, a, reg, "", junk)
			wantRefused(t, d, err, "passkey.add", "malformed")
			_, _, err = finishLogin(s, d, login, junk)
			wantRefused(t, d, err, "passkey.login", "malformed")
		})

		t.Run("a passwordless endpoint refuses a second-factor ceremony and the reverse", func(t *testing.T) {
			// A second-factor ceremony only prefers user verification; it
			// must not finish as a passwordless sign-in (CP-4.1).
			login, _, err := s.BeginDiscoverableLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ferr error
			if err := d.Transact(ctx, func(tx *db.Tx) error {
				_, _, ferr = s.FinishLoginAs(ctx, tx, login, passkey.ModeSecondFactor, junk)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, d, ferr, "passkey.login", "wrong_mode")
		})

		t.Run("unknown challenge", func(t *testing.T) {
			for _, id := range []string{"", "no-such-challenge", strings.Repeat("x", 5000), "' OR 1=1 --"} {
				_, _, err := finishLogin(s, d, id, junk)
				e := wantRefused(t, d, err, "passkey.login", "unknown_challenge")
				if e.Target != "" || apperr.CodeOf(err) != apperr.Unauthorized {
					t.Errorf("target = %q, code = %s", e.Target, apperr.CodeOf(err))
				}
			}
		})

		t.Run("expired challenge", func(t *testing.T) {
			id, _, err := s.BeginDiscoverableLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(passkey.ChallengeTTL)
			_, _, err = finishLogin(s, d, id, junk)
			e := wantRefused(t, d, err, "passkey.login", "expired")
			if e.Details["mode"] != "passwordless" {
				t.Errorf("details = %v", e.Details)
			}
			// The expired ceremony is spent too.
			_, _, err = finishLogin(s, d, id, junk)
			wantRefused(t, d, err, "passkey.login", "replayed")

			reg, _, err := s.BeginRegistration(ctx, a, "a")
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(passkey.ChallengeTTL - 1)
			_, err = finishRegistration(s, d, a, reg, "", junk)
			wantRefused(t, d, err, "passkey.add", "malformed") // one microsecond left: not expired
		})

		t.Run("malformed answers are refused", func(t *testing.T) {
			for _, body := range [][]byte{
				nil, []byte(""), []byte("null"), []byte("[]"), []byte("{"), []byte(`"x"`),
				[]byte(`{"id":"","type":"public-key"}`),
				[]byte(`{"id":"AAAA","rawId":"AAAB","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`),
				[]byte(`{"id":"AAAA","rawId":"AAAA","type":"password","response":{}}`),
				append([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`), []byte(` {}`)...),
				bytes.Repeat([]byte(" "), 70<<10),
			} {
				id, _, err := s.BeginDiscoverableLogin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = finishLogin(s, d, id, body)
				wantRefused(t, d, err, "passkey.login", "malformed")
			}
		})

		t.Run("concurrent finishes: exactly one claims the challenge", func(t *testing.T) {
			id, _, err := s.BeginDiscoverableLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { _, _, errs[i] = finishLogin(s, d, id, junk) })
			}
			wg.Wait()
			for _, err := range errs {
				if !errors.Is(err, passkey.ErrRefused) {
					t.Fatalf("err = %v", err)
				}
			}
			claimed := 0
			for _, e := range events(t, d)[len(events(t, d))-len(errs):] {
				switch e.Details["reason"] {
				case "malformed":
					claimed++
				case "replayed":
				default:
					t.Errorf("event %+v", e)
				}
			}
			if claimed != 1 {
				t.Errorf("%d finishes claimed the challenge, want 1", claimed)
			}
		})

		t.Run("audit details hold no credential material", func(t *testing.T) {
			allowed := map[string]bool{"reason": true, "mode": true, "passkey_id": true, "aaguid": true,
				"backup_eligible": true, "user_verified": true, "stored_count": true, "received_count": true}
			for _, e := range events(t, d) {
				for k := range e.Details {
					if !allowed[k] {
						t.Errorf("event %s has detail %q", e.Action, k)
					}
				}
				if strings.Contains(e.raw, "AAAA") {
					t.Errorf("event %s holds part of the answer: %s", e.Action, e.raw)
				}
			}
		})

		t.Run("purge removes expired ceremonies only", func(t *testing.T) {
			fresh, _, err := s.BeginDiscoverableLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.PurgeChallenges(ctx); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM webauthn_challenges WHERE id = $1`, fresh).Scan(&n); err != nil || n != 1 {
				t.Fatalf("fresh ceremony purged (n=%d, %v)", n, err)
			}
			clk.Add(passkey.ChallengeTTL + 1)
			if got, err := s.PurgeChallenges(ctx); err != nil || got == 0 {
				t.Fatalf("purged %d, %v", got, err)
			}
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM webauthn_challenges`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d ceremonies left (%v)", n, err)
			}
		})
	})
}

// TestParseFinish covers the finish endpoint's envelope: one object with a
// challenge ID and a credential, nothing else.
func TestParseFinish(t *testing.T) {
	good := `{"challenge_id":"abc","credential":{"id":"x"},"name":"Work laptop","csrf_token":"t"}`
	f, err := passkey.ParseFinish([]byte(good))
	if err != nil || f.ChallengeID != "abc" || f.Name != "Work laptop" || string(f.Credential) != `{"id":"x"}` || f.CSRFToken != "t" {
		t.Fatalf("ParseFinish(good) = %+v, %v", f, err)
	}
	for _, bad := range []string{
		"", "null", "[]", "{", `{"challenge_id":"abc"}`, `{"credential":{}}`,
		`{"challenge_id":"abc","credential":null}`, `{"challenge_id":1,"credential":{}}`,
		`{"challenge_id":"abc","credential":{}} {}`,
		`{"challenge_id":"` + strings.Repeat("a", 65) + `","credential":{}}`,
		`{"challenge_id":"abc","credential":"` + strings.Repeat("a", 70<<10) + `"}`,
	} {
		if _, err := passkey.ParseFinish([]byte(bad)); apperr.CodeOf(err) != apperr.BadRequest {
			t.Errorf("ParseFinish(%.40q) = %v, want BadRequest", bad, err)
		}
	}
}

// TestNewValidatesConfig: a relying party without an RP ID, an origin or a
// keyring is a configuration mistake caught at start.
func TestNewValidatesConfig(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	ok := newService(t, d, testRPID, testOrigin)
	if ok == nil {
		t.Fatal("no service")
	}
	log, kr := audit.New(d), newKeyring(t, d)
	for name, cfg := range map[string]passkey.Config{
		"no RP ID":   {Origins: []string{testOrigin}, Keys: kr},
		"no origins": {RPID: testRPID, Keys: kr},
		"no keyring": {RPID: testRPID, Origins: []string{testOrigin}},
		"IP RP ID":   {RPID: "127.0.0.1", Origins: []string{testOrigin}, Keys: kr},
	} {
		if _, err := passkey.New(d, log, cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
