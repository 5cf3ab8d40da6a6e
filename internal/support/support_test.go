package support_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/portico/portico/internal/support"
)

const pw = "correct horse battery staple 42"

// clock is the test clock that the database follows.
type clock = dbtest.Clock

type env struct {
	t    *testing.T
	ctx  context.Context
	d    *db.DB
	clk  *clock
	id   *identity.Service
	desk *support.Service
	log  *audit.Log
}

// each runs fn on SQLite and, when configured, PostgreSQL, with a clock
// the test moves.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	clk := dbtest.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
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
		p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
		pwc, err := password.New(p.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pwc.Close() })
		log := audit.New(d)
		id, err := identity.New(identity.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Passwords: pwc})
		if err != nil {
			t.Fatal(err)
		}
		desk, err := support.New(support.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if res, err := log.Verify(context.Background(), audit.VerifyOptions{}); err != nil || !res.OK {
				t.Errorf("audit chain does not verify: %+v %v", res, err)
			}
		})
		fn(t, &env{t: t, ctx: context.Background(), d: d, clk: clk, id: id, desk: desk, log: log})
	})
}

// principal creates an account and returns it as a freshly signed-in
// principal.
func (e *env) principal(email string, role access.Role) access.Principal {
	e.t.Helper()
	a, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: email, Role: role, Password: pw})
	if err != nil {
		e.t.Fatal(err)
	}
	return access.Principal{AccountID: a.ID, Role: role, SessionID: "s-" + a.ID, Stage: access.StageDone, ReauthAt: e.clk.Now()}
}

func (e *env) countEvents(action string) int {
	e.t.Helper()
	var n int
	if err := e.d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM audit_events WHERE action = $1`, action).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

var png = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)

// TestTicketLifecycle: a customer opens a ticket with an attachment, an
// agent replies and it waits for the customer, the customer replies and it
// is back in the queue, the customer closes it (CP-3.3).
func TestTicketLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		cust := e.principal("ann@example.com", access.RoleCustomer)
		agent := e.principal("agent@example.com", access.RoleSupport)
		tk, err := e.desk.Open(e.ctx, cust, "Cannot download invoice", "The button does nothing.\nSee screenshot.",
			[]support.NewAttachment{{Name: "shot.png", ContentType: "image/png", Data: png}})
		if err != nil {
			t.Fatal(err)
		}
		q, err := e.desk.Queue(e.ctx, agent, support.QueueFilter{})
		if err != nil || len(q) != 1 || q[0].Subject != "Cannot download invoice" {
			t.Fatalf("queue %+v %v", q, err)
		}
		if err := e.desk.Assign(e.ctx, agent, tk.ID, agent.AccountID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.desk.Reply(e.ctx, agent, tk.ID, "Try again now, please.", nil); err != nil {
			t.Fatal(err)
		}
		got, err := e.desk.Get(e.ctx, cust, tk.ID)
		if err != nil || got.Status != support.StatusPending || len(got.Messages) != 2 || !got.Messages[1].Staff || got.AssigneeID != agent.AccountID {
			t.Fatalf("after the agent's reply: %+v %v", got, err)
		}
		if a := got.Messages[0].Attachments; len(a) != 1 || a[0].Name != "shot.png" || a[0].ContentType != "image/png" {
			t.Fatalf("attachments %+v", a)
		}
		att, data, err := e.desk.Attachment(e.ctx, agent, tk.ID, got.Messages[0].Attachments[0].ID)
		if err != nil || !bytes.Equal(data, png) || att.Name != "shot.png" {
			t.Fatalf("download: %v", err)
		}
		if e.countEvents("attachment.download") != 1 {
			t.Error("a staff download was not audited")
		}
		if _, err := e.desk.Reply(e.ctx, cust, tk.ID, "Works, thanks!", nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.desk.Get(e.ctx, cust, tk.ID); got.Status != support.StatusOpen {
			t.Errorf("after the customer's reply: %s", got.Status)
		}
		if err := e.desk.SetStatus(e.ctx, cust, tk.ID, support.StatusPending); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a customer set a status other than closed: %v", err)
		}
		if err := e.desk.SetStatus(e.ctx, cust, tk.ID, support.StatusClosed); err != nil {
			t.Fatal(err)
		}
		if _, err := e.desk.Reply(e.ctx, cust, tk.ID, "One more thing", nil); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("reply to a closed ticket: %v", err)
		}
		own, _ := e.desk.ListOwn(e.ctx, cust)
		if len(own) != 1 || own[0].Status != support.StatusClosed {
			t.Errorf("own list %+v", own)
		}
		if got, _ := e.desk.Get(e.ctx, cust, tk.ID); got.ClosedAt.IsZero() {
			t.Error("no closing time")
		}
		for _, a := range []string{"ticket.open", "ticket.reply", "ticket.status", "ticket.assign"} {
			if e.countEvents(a) == 0 {
				t.Errorf("no %s event", a)
			}
		}
	})
}

// TestTicketIDOR: customer B cannot read, answer, close or download from
// customer A's ticket, and the answer is the same as for a ticket that
// does not exist; a member of staff outside the desk cannot either
// (CP-4.2: object-level checks below the handler).
func TestTicketIDOR(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a := e.principal("a@example.com", access.RoleCustomer)
		b := e.principal("b@example.com", access.RoleCustomer)
		admin := e.principal("admin@example.com", access.RoleAdmin)
		tk, err := e.desk.Open(e.ctx, a, "Private matter", "Only for support.", []support.NewAttachment{{Name: "a.txt", Data: []byte("secret notes")}})
		if err != nil {
			t.Fatal(err)
		}
		full, _ := e.desk.Get(e.ctx, a, tk.ID)
		attID := full.Messages[0].Attachments[0].ID
		_, unknownErr := e.desk.Get(e.ctx, b, "nosuchticket")
		for _, p := range []access.Principal{b, admin, {}} {
			if _, err := e.desk.Get(e.ctx, p, tk.ID); apperr.CodeOf(err) != apperr.NotFound || apperr.MessageOf(err) != apperr.MessageOf(unknownErr) {
				t.Errorf("%s Get: %v", p.Role, err)
			}
			if _, err := e.desk.Reply(e.ctx, p, tk.ID, "hijack", nil); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("%s Reply: %v", p.Role, err)
			}
			if err := e.desk.SetStatus(e.ctx, p, tk.ID, support.StatusClosed); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("%s SetStatus: %v", p.Role, err)
			}
			if _, _, err := e.desk.Attachment(e.ctx, p, tk.ID, attID); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("%s Attachment: %v", p.Role, err)
			}
		}
		if l, _ := e.desk.ListOwn(e.ctx, b); len(l) != 0 {
			t.Errorf("B lists A's tickets: %+v", l)
		}
		if _, err := e.desk.Queue(e.ctx, b, support.QueueFilter{}); err == nil {
			t.Error("a customer read the queue")
		}
		// An attachment ID from another ticket does not open through this one.
		tk2, _ := e.desk.Open(e.ctx, b, "Mine", "Mine too.", nil)
		if _, _, err := e.desk.Attachment(e.ctx, b, tk2.ID, attID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("attachment through another ticket: %v", err)
		}
	})
}

// TestAttachmentsAreChecked: type by content, size and count; a refused
// upload writes nothing (CP-6.1).
func TestAttachmentsAreChecked(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.principal("c@example.com", access.RoleCustomer)
		for name, atts := range map[string][]support.NewAttachment{
			"html disguised as png": {{Name: "x.png", Data: []byte("<html><script>alert(1)</script></html>")}},
			"svg":                   {{Name: "x.svg", Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")}},
			"too big":               {{Name: "x.txt", Data: bytes.Repeat([]byte("a"), support.MaxAttachmentBytes+1)}},
			"too many":              {{Name: "1.txt", Data: []byte("a")}, {Name: "2.txt", Data: []byte("a")}, {Name: "3.txt", Data: []byte("a")}, {Name: "4.txt", Data: []byte("a")}},
			"empty":                 {{Name: "x.txt"}},
		} {
			if _, err := e.desk.Open(e.ctx, c, "Subject here", "Body", atts); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		if l, _ := e.desk.ListOwn(e.ctx, c); len(l) != 0 {
			t.Errorf("a refused ticket was written: %+v", l)
		}
	})
}

// TestTicketsEncryptedAtRest: the raw rows hold none of the subject, body,
// file name or file content (CP-5.1, MTL-2.1.3).
func TestTicketsEncryptedAtRest(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.principal("d@example.com", access.RoleCustomer)
		if _, err := e.desk.Open(e.ctx, c, "Subject-MARKER-1", "Body-MARKER-2", []support.NewAttachment{{Name: "Name-MARKER-3.txt", Data: []byte("Data-MARKER-4")}}); err != nil {
			t.Fatal(err)
		}
		var raw [][]byte
		for _, q := range []string{`SELECT subject_enc FROM tickets`, `SELECT body_enc FROM ticket_messages`,
			`SELECT name_enc FROM ticket_attachments`, `SELECT data_enc FROM ticket_attachments`} {
			var b []byte
			if err := e.d.QueryRowContext(e.ctx, q).Scan(&b); err != nil {
				t.Fatal(err)
			}
			raw = append(raw, b)
		}
		all := bytes.Join(raw, nil)
		for _, m := range []string{"MARKER-1", "MARKER-2", "MARKER-3", "MARKER-4"} {
			if bytes.Contains(all, []byte(m)) {
				t.Errorf("%s is in clear text in the database", m)
			}
		}
	})
}

// TestRevealIsReasonedTimeBoundAndVisible: support sees a customer masked;
// a reveal needs a reason and a fresh sign-in, lasts the profile's grant,
// is audited with the reason, and the customer sees it (MTL-3.2.1,
// MTL-3.2.2).
func TestRevealIsReasonedTimeBoundAndVisible(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		cust := e.principal("jane.doe@example.com", access.RoleCustomer)
		if err := e.id.SetContact(e.ctx, cust.AccountID, "Jane Doe", "+44 20 7946 0958"); err != nil {
			t.Fatal(err)
		}
		agent := e.principal("agent@example.com", access.RoleSupport)
		v, err := e.desk.Lookup(e.ctx, agent, "Jane.Doe@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if v.EmailMasked != "j***@example.com" || v.NameMasked != "J*** D***" || v.PhoneMasked != "*** ** 58" || len(v.Revealed) != 0 {
			t.Fatalf("masked view %+v", v)
		}
		if _, err := e.desk.Reveal(e.ctx, agent, cust.AccountID, support.FieldPhone, "short"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("reveal without a real reason: %v", err)
		}
		stale := agent
		stale.ReauthAt = e.clk.Now().Add(-time.Hour)
		if _, err := e.desk.Reveal(e.ctx, stale, cust.AccountID, support.FieldPhone, "Calling back about ticket 42"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("reveal without step-up: %v", err)
		}
		admin := e.principal("admin@example.com", access.RoleAdmin)
		if _, err := e.desk.Reveal(e.ctx, admin, cust.AccountID, support.FieldPhone, "Calling back about ticket 42"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("an admin revealed customer data: %v", err)
		}
		if _, err := e.desk.Lookup(e.ctx, agent, "agent@example.com"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("a staff account was looked up as a customer: %v", err)
		}
		g, err := e.desk.Reveal(e.ctx, agent, cust.AccountID, support.FieldPhone, "Calling back about ticket 42")
		if err != nil {
			t.Fatal(err)
		}
		v, _ = e.desk.Customer(e.ctx, agent, cust.AccountID)
		if v.Revealed[support.FieldPhone] != "+44 20 7946 0958" || v.Revealed[support.FieldEmail] != "" {
			t.Fatalf("after the reveal: %+v", v.Revealed)
		}
		other := e.principal("agent2@example.com", access.RoleSupport)
		if v2, _ := e.desk.Customer(e.ctx, other, cust.AccountID); len(v2.Revealed) != 0 {
			t.Error("one agent's grant unmasked the field for another")
		}
		// Moved to a role that may look customers up but not reveal, the
		// same person sees the field masked at once (MTL-3.2.2, CP-6.3).
		moved := agent
		moved.Role = access.RoleSecurity
		if v2, err := e.desk.Customer(e.ctx, moved, cust.AccountID); err != nil || len(v2.Revealed) != 0 {
			t.Errorf("a grant unmasks data for its holder after a role change: %v %+v", err, v2.Revealed)
		}
		var details, target string
		e.d.QueryRowContext(e.ctx, `SELECT details, target FROM audit_events WHERE action = 'customer.reveal'`).Scan(&details, &target)
		if strings.Contains(details, "Calling back") || !strings.Contains(details, "reason_enc") || !strings.Contains(details, g.ID) {
			t.Errorf("the reveal is not audited with its reason sealed (CP-5.2): %s", details)
		}
		if shown := string(e.id.ShowDetails(e.ctx, "customer.reveal", target, json.RawMessage(details))); !strings.Contains(shown, `"reason":"Calling back about ticket 42"`) {
			t.Errorf("staff do not see the reveal's reason: %s", shown)
		}
		e.clk.Add(15*time.Minute + time.Second)
		if v, _ = e.desk.Customer(e.ctx, agent, cust.AccountID); len(v.Revealed) != 0 {
			t.Error("the grant outlived the profile's reveal_grant")
		}
		h, err := e.desk.AccessHistory(e.ctx, cust, cust.AccountID)
		if err != nil || len(h) != 1 || h[0].Field != support.FieldPhone || h[0].Reason != "Calling back about ticket 42" || !strings.Contains(h[0].StaffLabel, "support") {
			t.Fatalf("access history %+v %v", h, err)
		}
		if _, err := e.desk.AccessHistory(e.ctx, agent, cust.AccountID); err == nil {
			t.Error("someone else read the customer's access history")
		}
	})
}

// TestReportForCustomer: support files a suspicious-activity report on a
// customer's behalf (CP-3.3).
func TestReportForCustomer(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		cust := e.principal("e@example.com", access.RoleCustomer)
		agent := e.principal("agent@example.com", access.RoleSupport)
		id, err := e.desk.ReportForCustomer(e.ctx, agent, cust.AccountID, "Customer called: a sign-in from abroad they did not make.")
		if err != nil || id == "" {
			t.Fatal(err)
		}
		var source string
		e.d.QueryRowContext(e.ctx, `SELECT source FROM security_reports WHERE id = $1`, id).Scan(&source)
		if source != "support:"+agent.AccountID {
			t.Errorf("source %q", source)
		}
		if _, err := e.desk.ReportForCustomer(e.ctx, cust, cust.AccountID, "Customer called: a sign-in from abroad."); err == nil {
			t.Error("a customer used the on-behalf report")
		}
	})
}

// TestRectifyByStaff: an agent corrects a customer's phone with a reason
// and a fresh sign-in; the trail holds the old and new values encrypted
// under the customer's key, never in clear (CP-11.1, MTL-3.2.2).
func TestRectifyByStaff(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		cust := e.principal("fix.me@example.com", access.RoleCustomer)
		e.id.SetContact(e.ctx, cust.AccountID, "Fix Me", "+44 20 7946 0000")
		agent := e.principal("agent@example.com", access.RoleSupport)
		if err := e.desk.Rectify(e.ctx, agent, cust.AccountID, support.FieldPhone, "+44 20 7946 0958", "short"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("no reason: %v", err)
		}
		if err := e.desk.Rectify(e.ctx, agent, cust.AccountID, support.FieldEmail, "x@example.com", "The customer called to correct it"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("email through support: %v", err)
		}
		admin := e.principal("admin@example.com", access.RoleAdmin)
		if err := e.desk.Rectify(e.ctx, admin, cust.AccountID, support.FieldPhone, "+44 20 7946 0958", "The customer called to correct it"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("admin rectified: %v", err)
		}
		if err := e.desk.Rectify(e.ctx, agent, cust.AccountID, support.FieldPhone, "+44 20 7946 0958", "The customer called to correct it"); err != nil {
			t.Fatal(err)
		}
		if phone, _ := e.id.Phone(e.ctx, cust.AccountID); phone != "+44 20 7946 0958" {
			t.Errorf("phone %q", phone)
		}
		var details string
		e.d.QueryRowContext(e.ctx, `SELECT details FROM audit_events WHERE action = 'customer.rectify'`).Scan(&details)
		if !strings.Contains(details, "old_enc") || strings.Contains(details, "7946") || strings.Contains(details, "The customer called") {
			t.Errorf("rectification details %s", details)
		}
		var n int
		e.d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM privacy_requests WHERE kind = 'rectification' AND account_id = $1`, cust.AccountID).Scan(&n)
		if n != 1 {
			t.Error("the rectification is not tracked as a request (MTL-7.1)")
		}
	})
}
