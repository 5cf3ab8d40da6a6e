package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestTokenCreatedNotice covers CP-6.3: a new personal access token is a
// credential that outlives the session, so its holder is told, in the
// portal and by email, as of a new second factor.
func TestTokenCreatedNotice(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		const addr = "token-holder@example.com"
		a := e.account(addr, pwA, access.RoleSupport)
		si := e.mustLogin(addr, pwA)
		tokens, err := apitoken.New(apitoken.Deps{DB: d, Keys: e.keys, Audit: e.log, Profile: e.profile,
			Created: func(ctx context.Context, tx *db.Tx, tok apitoken.Token) error {
				return e.svc.TokenCreated(ctx, tx, tok.AccountID, tok.Name, tok.ExpiresAt)
			}})
		if err != nil {
			t.Fatal(err)
		}
		holder := access.Principal{AccountID: a.ID, Role: access.RoleSupport, SessionID: si.Session.ID, Stage: access.StageDone, ReauthAt: si.Session.ReauthAt}
		if _, _, err := tokens.Create(e.ctx, holder, "deploy script", []access.Permission{access.TicketQueue}, 7*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		ms := e.mails(addr, "An API token was created")
		if len(ms) != 1 || !strings.Contains(ms[0].Text, `"deploy script"`) || !strings.Contains(ms[0].Text, "/account/tokens") {
			t.Fatalf("mail about the new token: %+v", ms)
		}
		found := false
		for _, it := range e.inbox(a.ID) {
			found = found || strings.Contains(it.Title, "An API token was created")
		}
		if !found {
			t.Error("no inbox notice of the new token")
		}
	})
}
