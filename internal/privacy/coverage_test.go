package privacy_test

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
)

// owned selects an account's rows of each table that a category of the
// inventory names; a category on a table missing here fails the test, so
// a new one is covered when it is added.
var owned = map[string]string{
	"accounts":           `id = $1`,
	"ticket_messages":    `ticket_id IN (SELECT id FROM tickets WHERE account_id = $1)`,
	"ticket_attachments": `ticket_id IN (SELECT id FROM tickets WHERE account_id = $1)`,
	"report_messages":    `report_id IN (SELECT id FROM security_reports WHERE account_id = $1)`,
	"reveal_grants":      `customer_id = $1`,
	"audit_events":       `target = 'account:' || CAST($1 AS TEXT)`,
}

// hasData reports whether any of the category's columns holds a value for
// the account.
func (e *env) hasData(t *testing.T, c privacy.Category, accountID string) bool {
	t.Helper()
	byTable := map[string][]string{}
	for _, col := range c.Columns {
		table, name, _ := strings.Cut(col, ".")
		// A default ('', 0, false) is not data about the person.
		byTable[table] = append(byTable[table], "COALESCE(CAST("+name+" AS TEXT), '') NOT IN ('', '0', 'false')")
	}
	for table, conds := range byTable {
		where, ok := owned[table]
		if !ok {
			where = `account_id = $1`
		}
		var n int
		q := `SELECT COUNT(*) FROM ` + table + ` WHERE (` + where + `) AND (` + strings.Join(conds, " OR ") + `)`
		if err := e.d.QueryRowContext(e.ctx, q, accountID).Scan(&n); err != nil {
			t.Fatalf("category %q, table %s (add it to owned if it is not linked by account_id): %v", c.Name, table, err)
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// TestExportCoversTheInventory: a customer and a member of staff with
// data in every category of the inventory find each category that holds
// their data in their export, in the file the inventory names, and not
// empty: the archive leaves out nothing the record of processing says we
// hold (CP-11.1, MTL-2.1.1).
func TestExportCoversTheInventory(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c, agent := e.seedEverything(t)

		p, _ := policy.Builtin(policy.Default)
		for _, who := range []struct {
			name, id string
			want     []string // values that must be in the archive
		}{
			{"customer", c.AccountID, []string{"everything@example.com", "+44 20 7946 0111", "203.0.113.7", "203.0.113.9", "A message.", "I did not sign in from there.",
				"Were you travelling that week?", "No, I was at home in Leeds.", "country_change", "product_news", "Sending the invoice she asked for", "erasure", "processing_restricted_since\": \"2"}},
			{"staff", agent.AccountID, []string{"agent.cov@example.com", "Desk script", "192.0.2.44"}},
		} {
			t.Run(who.name, func(t *testing.T) {
				b, err := e.svc.Archive(e.ctx, who.id)
				if err != nil {
					t.Fatal(err)
				}
				files := unzip(t, b)
				covered := 0
				for _, cat := range privacy.Inventory(p) {
					if !strings.HasSuffix(cat.InExport, ".json") || !e.hasData(t, cat, who.id) {
						continue
					}
					covered++
					body, ok := files[cat.InExport]
					if !ok {
						t.Errorf("CP-11.1: %q holds data of the %s, but the export has no %s", cat.Name, who.name, cat.InExport)
						continue
					}
					var v any
					if err := json.Unmarshal([]byte(body), &v); err != nil {
						t.Errorf("%s is not JSON: %v", cat.InExport, err)
					} else if list, isList := v.([]any); isList && len(list) == 0 {
						t.Errorf("CP-11.1: %q holds data of the %s, but %s is empty", cat.Name, who.name, cat.InExport)
					}
				}
				all := ""
				for _, body := range files {
					all += body
				}
				for _, w := range who.want {
					if !strings.Contains(all, w) {
						t.Errorf("the export does not hold %q", w)
					}
				}
				if strings.Contains(all, "Internal: matches alert 42.") {
					t.Error("the export holds the security team's internal note on a report")
				}
				if who.name == "customer" && covered < 10 {
					t.Errorf("only %d categories hold data of the customer: the seeding fell short and the test proves little", covered)
				}
			})
		}
	})
}

// seedEverything gives a customer data in every category of the inventory
// (signed up on the form, so with the notice accepted there; a later
// notice acknowledged; a passkey; a ticket with a file; sign-ins; a
// report; risk signals; a consent; requests; notices, one read; staff's
// reveals and a restriction) and a support agent an API token used from
// an address. It returns the customer and the agent.
func (e *env) seedEverything(t *testing.T) (customer, agent access.Principal) {
	t.Helper()
	if err := e.id.SignUp(e.ctx, identity.SignUpInput{Email: "everything@example.com", Name: "Every Thing", Password: pw,
		PrivacyVersion: privacy.BuiltinNoticeVersion, CurrentPrivacyVersion: privacy.BuiltinNoticeVersion, IP: "203.0.113.9"}); err != nil {
		t.Fatal(err)
	}
	// The confirmation link is identity's to test; here the address is
	// taken as confirmed.
	var id string
	if err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
		return tx.QueryRowContext(e.ctx, `UPDATE accounts SET status = 'active', email_verified_at = $1 WHERE status = 'unverified' RETURNING id`,
			tx.Now()).Scan(&id)
	}); err != nil {
		t.Fatal(err)
	}
	c := access.Principal{AccountID: id, Role: access.RoleCustomer, SessionID: "s", Stage: access.StageDone, ReauthAt: e.clk.Now()}
	e.clk.Add(time.Hour)
	if err := e.id.SetContact(e.ctx, c.AccountID, "Every Thing", "+44 20 7946 0111"); err != nil {
		t.Fatal(err)
	}
	in, err := e.id.Login(e.ctx, identity.Credentials{Email: "everything@example.com", Password: pw, IP: "203.0.113.9", UserAgent: "Browser-1"})
	if err != nil {
		t.Fatal(err)
	}
	e.id.Login(e.ctx, identity.Credentials{Email: "everything@example.com", Password: "not the password at all", IP: "203.0.113.7", UserAgent: "Browser-1"})
	if _, err := e.desk.Open(e.ctx, c, "A ticket", "A message.", []support.NewAttachment{{Name: "a.txt", Data: []byte("attached")}}); err != nil {
		t.Fatal(err)
	}
	rid, err := e.id.ReportSuspicious(e.ctx, c.AccountID, "", "I did not sign in from there.", "customer")
	if err != nil {
		t.Fatal(err)
	}
	// The security team's thread: a note (internal, not exported), a
	// question, the answer.
	if err := e.reports.NoteReport(e.ctx, rid, "Internal: matches alert 42.", "sec"); err != nil {
		t.Fatal(err)
	}
	if err := e.reports.AskCustomer(e.ctx, rid, "Were you travelling that week?", "sec"); err != nil {
		t.Fatal(err)
	}
	if err := e.reports.AnswerReport(e.ctx, c.AccountID, rid, "No, I was at home in Leeds."); err != nil {
		t.Fatal(err)
	}
	if err := e.id.EndForRisk(e.ctx, in.Session, identity.RiskCountryChange, map[string]string{"from": "GB", "to": "FR"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetConsent(e.ctx, c, "product_news", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RequestErasure(e.ctx, c); err != nil { // a request, a notice and an email
		t.Fatal(err)
	}
	if err := e.svc.CancelErasure(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	staffPrincipal := func(email string, role access.Role) (access.Principal, session.Session) {
		if _, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: email, Name: "Staff", Role: role, Password: pw}); err != nil {
			t.Fatal(err)
		}
		in, err := e.id.Login(e.ctx, identity.Credentials{Email: email, Password: pw, IP: "198.51.100.20", UserAgent: "Staff-Browser"})
		if err != nil {
			t.Fatal(err)
		}
		return access.Principal{AccountID: in.Session.AccountID, Role: role, SessionID: in.Session.ID, Stage: access.StageDone, ReauthAt: e.clk.Now()}, in.Session
	}
	agent, _ = staffPrincipal("agent.cov@example.com", access.RoleSupport)
	admin, _ := staffPrincipal("admin.cov@example.com", access.RoleAdmin)
	if _, err := e.desk.Reveal(e.ctx, agent, c.AccountID, support.FieldEmail, "Sending the invoice she asked for"); err != nil {
		t.Fatal(err)
	}
	raw, _, err := e.tokens.Create(e.ctx, agent, "Desk script", []access.Permission{access.TicketQueue}, 30*24*60*60*1e9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Authenticate(e.ctx, raw, "192.0.2.44"); err != nil {
		t.Fatal(err)
	}
	// A newer privacy notice, acknowledged: the sign-up acceptance stays.
	e.clk.Add(time.Hour)
	if _, err := e.svc.PublishNotice(e.ctx, admin, "2027-01", "Support tickets are now kept for two years."); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Acknowledge(e.ctx, c, "2027-01"); err != nil {
		t.Fatal(err)
	}
	// Support answers with a file of its own.
	tickets, err := e.desk.ListOwn(e.ctx, c)
	if err != nil || len(tickets) != 1 {
		t.Fatalf("tickets: %v %v", tickets, err)
	}
	if _, err := e.desk.Reply(e.ctx, agent, tickets[0].ID, "Here is your invoice.", []support.NewAttachment{{Name: "Invoice 42.pdf", Data: []byte("%PDF-1.4 invoice")}}); err != nil {
		t.Fatal(err)
	}
	// A notice read, and a passkey.
	inbox, err := e.notices.Inbox(e.ctx, c.AccountID, 0)
	if err != nil || len(inbox) == 0 {
		t.Fatalf("inbox: %v %v", inbox, err)
	}
	if err := e.notices.MarkRead(e.ctx, c.AccountID, inbox[0].ID); err != nil {
		t.Fatal(err)
	}
	e.insertPasskey(t, c.AccountID, "Work laptop")
	// Last: a restricted account's tickets are read-only.
	if err := e.id.SetRestricted(e.ctx, admin, c.AccountID, true, "She objected by letter on 2 November"); err != nil {
		t.Fatal(err)
	}
	return c, agent
}

// insertPasskey stores a passkey without a ceremony (its key is junk): the
// export lists passkeys, it does not use them.
func (e *env) insertPasskey(t *testing.T, accountID, name string) {
	t.Helper()
	err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
		id := strings.ToLower(rand.Text())
		enc, err := e.keys.Encrypt(e.ctx, tx, accountID, crypto.Field{Table: "passkeys", Column: "name_enc", Row: id}, []byte(name))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(e.ctx, `INSERT INTO passkeys (rp_id, id, account_id, credential_id, public_key, attestation_type, attestation_format,
			aaguid, sign_count, transports, backup_eligible, backup_state, user_verified, name_enc, created_at, last_used_at)
			VALUES ('localhost', $1, $2, $3, $4, 'none', 'none', $5, 0, 'internal', FALSE, FALSE, TRUE, $6, $7, NULL)`,
			id, accountID, []byte(id), []byte{0xa5, 0x01, 0x02}, make([]byte, 16), enc, tx.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
