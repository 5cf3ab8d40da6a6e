package web

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
)

// TestEveryResetEndsAPITokens covers CP-6.3 and CP-4.1: each action that
// gets an attacker out of an account (a password reset or change, "sign
// out everywhere else", an administrator's "end sessions", a risk
// sign-out, a suspicious-activity report) ends the account's personal API
// tokens too: the token that worked a moment before answers 401 on
// /api/v1/, on SQLite and PostgreSQL.
func TestEveryResetEndsAPITokens(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		admin := signInAs(t, s, "epoch-admin@example.com", access.RoleAdmin)
		for i, tc := range []struct {
			name string
			// act performs the action on the holder, whose session token
			// and account ID it is given.
			act func(t *testing.T, holder, id string)
		}{
			{"password change", func(t *testing.T, holder, _ string) {
				next := "violet kettle drums under the bridge 7"
				r := post(s, "/account/password", url.Values{"current": {testPassword}, "new": {next}, "confirm": {next}}, cookieOf(holder))
				if r.StatusCode != http.StatusSeeOther {
					t.Fatalf("password change: %d", r.StatusCode)
				}
			}},
			{"password reset", func(t *testing.T, _, id string) {
				link := resetLink(t, s, id)
				next := "violet kettle drums under the bridge 8"
				r := post(s, "/reset/"+link, url.Values{"password": {next}, "confirm": {next}}, "")
				if r.StatusCode != http.StatusSeeOther {
					t.Fatalf("reset: %d", r.StatusCode)
				}
			}},
			{"sign out everywhere else", func(t *testing.T, holder, _ string) {
				if r := post(s, "/account/sessions/end-others", url.Values{}, cookieOf(holder)); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("end others: %d", r.StatusCode)
				}
			}},
			{"administrator ends sessions", func(t *testing.T, _, id string) {
				if r := post(s, "/admin/users/"+id+"/end-sessions", url.Values{}, cookieOf(admin)); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("admin end sessions: %d", r.StatusCode)
				}
			}},
			{"risk sign-out", func(t *testing.T, holder, _ string) {
				w := do(s, "GET", "/account", nil, map[string]string{"Cookie": cookieOf(holder), "User-Agent": "another browser"})
				if w.Code != http.StatusSeeOther || sessionLive(s, holder) {
					t.Fatalf("a changed browser: %d, session live %v", w.Code, sessionLive(s, holder))
				}
			}},
			{"suspicious-activity report", func(t *testing.T, holder, _ string) {
				if r := post(s, "/account/report", url.Values{"note": {"not me"}}, cookieOf(holder)); r.StatusCode != http.StatusOK {
					t.Fatalf("report: %d", r.StatusCode)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				holder := signInAs(t, s, "epoch-"+string(rune('a'+i))+"@example.com", access.RoleSupport)
				id := accountOf(t, s, holder)
				tok := apiToken(t, s, holder, access.TicketQueue)
				if code, _ := apiDo(s, "GET", "/api/v1/tickets", tok, ""); code != http.StatusOK {
					t.Fatalf("the token before: %d", code)
				}
				tc.act(t, holder, id)
				if code, body := apiDo(s, "GET", "/api/v1/tickets", tok, ""); code != http.StatusUnauthorized {
					t.Errorf("the token after %s: %d %v", tc.name, code, body)
				}
			})
		}
	})
}

// resetLink plants a password-reset link for account id, as the mail
// would carry it (the web tests run without an outbox reader), and returns
// its token.
func resetLink(t *testing.T, s *testServer, id string) string {
	t.Helper()
	token := strings.Repeat("R", 40) + strings.ToUpper(id[:12])
	sum := sha256.Sum256([]byte(token))
	err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(),
			`INSERT INTO account_tokens (id, token_hash, account_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, 'reset_password', $4, $5)`,
			"reset"+id[:12], sum[:], id, tx.Now(), tx.Now().Add(30*time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return token
}
