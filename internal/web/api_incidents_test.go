package web

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
)

// apiErr is the message of a JSON problem.
func apiErr(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// concreteAPI fills an incident route's pattern with real IDs.
func concreteAPI(pattern, id, nid string) (string, string) {
	method, path, _ := strings.Cut(pattern, " ")
	return method, strings.NewReplacer("{id}", id, "{nid}", nid).Replace(path)
}

// TestAPIIncidentToNotice (CP-7.2, CP-9.1, MTL-5.1.2): a security token
// opens an incident, finds the affected customers, saves a breach notice
// without its likely consequences and is refused the send with the
// missing part named, completes the notice and sends it to the affected
// customer only, and reads each delivery; the checklist gates the phase;
// unknown JSON fields and data categories outside the inventory are
// refused.
func TestAPIIncidentToNotice(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		cust := signInFull(t, s, "api-affected@example.com")
		custID := accountOf(t, s, cust)
		sec := signInAs(t, s, "api-sec@example.com", access.RoleSecurity)
		tok := apiToken(t, s, sec, access.IncidentManage, access.IncidentRead)

		if code, body := apiDo(s, "POST", "/api/v1/incidents", tok, `{"title":"T","severity":"high","category":"c","owner":"x"}`); code != 400 || !strings.Contains(apiErr(body), "unknown field") {
			t.Errorf("unknown field: %d %v", code, body)
		}
		if code, body := apiDo(s, "POST", "/api/v1/incidents", tok, `{"title":"T","severity":"high","category":"c","data_categories":["Shoe sizes"]}`); code != 422 || !strings.Contains(apiErr(body), "data inventory") {
			t.Errorf("a data category outside the inventory: %d %v", code, body)
		}
		code, inc := apiDo(s, "POST", "/api/v1/incidents", tok, `{"title":"Passwords tried from one network","severity":"high",
			"category":"account takeover","data_categories":["Account identity"]}`)
		if code != 201 || inc["phase"] != "detected" || inc["source"] != nil || len(inc["clocks"].([]any)) != 2 {
			t.Fatalf("open: %d %v", code, inc)
		}
		id := inc["id"].(string)
		base := "/api/v1/incidents/" + id
		if cats := inc["data_categories"].([]any); len(cats) != 1 || cats[0] != "Account identity" {
			t.Errorf("data categories: %v", cats)
		}
		if clk := inc["clocks"].([]any)[0].(map[string]any); clk["name"] != "customers" || clk["state"] != "running" || clk["seconds_left"].(float64) <= 0 {
			t.Errorf("customers' clock: %v", clk)
		}

		// The checklist gates the phase; ticks say who.
		if code, body := apiDo(s, "POST", base+"/phase", tok, `{}`); code != 409 {
			t.Errorf("advanced with the checklist undone: %d %v", code, body)
		}
		for _, item := range []string{"scope", "owner"} {
			if code, body := apiDo(s, "POST", base+"/checks", tok, `{"item":"`+item+`"}`); code != 200 {
				t.Fatalf("check %s: %d %v", item, code, body)
			}
		}
		code, detail := apiDo(s, "GET", base, tok, "")
		cl := detail["checklist"].(map[string]any)
		if code != 200 || cl["complete"] != true || cl["next_phase"] != "triaged" || cl["items"].([]any)[0].(map[string]any)["checked_by"] != accountOf(t, s, sec) {
			t.Errorf("checklist: %d %v", code, cl)
		}
		if code, body := apiDo(s, "POST", base+"/phase", tok, `{}`); code != 200 || body["phase"] != "triaged" {
			t.Errorf("advance: %d %v", code, body)
		}

		// The affected set: every customer (the staff are not customers).
		code, aff := apiDo(s, "POST", base+"/affected", tok, `{"kind":"all"}`)
		if ids, _ := aff["account_ids"].([]any); code != 200 || aff["count"] != float64(1) || len(ids) != 1 || ids[0] != custID {
			t.Fatalf("affected: %d %v", code, aff)
		}
		if code, aff = apiDo(s, "GET", base+"/affected", tok, ""); code != 200 || aff["query"].(map[string]any)["kind"] != "all" {
			t.Errorf("GET affected: %d %v", code, aff)
		}
		if code, body := apiDo(s, "POST", base+"/affected", tok, `{"kind":"network","network":"203.0.113.0/24","from":"yesterday"}`); code != 422 || !strings.Contains(apiErr(body), "RFC 3339") {
			t.Errorf("a window that is not a time: %d %v", code, body)
		}
		if code, body := apiDo(s, "POST", base+"/decision", tok, `{"personal_data":true,"risk":true,"high_risk":true,"reasoning":"Passwords of customers were tried."}`); code != 200 || body["breach_decision"].(map[string]any)["high_risk"] != true {
			t.Errorf("decision: %d %v", code, body)
		}

		// CP-9.1: a notice without its likely consequences is saved, and
		// the send is refused naming them.
		draft := `"kind":"breach","title":"A security incident affecting your account","nature":"Someone tried stolen passwords.",
			"measures":"We locked the accounts.","advice":"Choose a new password.","contact":"security@example.test","steps":["change_password"]`
		code, notice := apiDo(s, "POST", base+"/notices", tok, `{`+draft+`}`)
		if code != 201 || !strings.Contains(mustJSON(notice["missing"]), "likely consequences") || notice["sent_at"] != nil {
			t.Fatalf("save the draft: %d %v", code, notice)
		}
		nid := notice["id"].(string)
		nbase := base + "/notices/" + nid
		code, body := apiDo(s, "POST", nbase+"/send", tok, `{}`)
		if code != 422 || !strings.Contains(apiErr(body), "likely consequences") {
			t.Fatalf("an incomplete notice was sent: %d %v", code, body)
		}
		if code, body = apiDo(s, "GET", nbase+"/deliveries", tok, ""); code != 200 || len(body["deliveries"].([]any)) != 0 {
			t.Fatalf("deliveries of a refused notice: %d %v", code, body)
		}
		if got, _ := s.incidents.ForCustomer(context.Background(), custID); len(got) != 0 {
			t.Fatal("the customer received an incomplete notice")
		}
		code, notice = apiDo(s, "POST", nbase, tok, `{`+draft+`,"consequences":"Someone may have read your tickets."}`)
		if code != 200 || len(notice["missing"].([]any)) != 0 || !strings.Contains(notice["body"].(string), "Someone may have read your tickets.") {
			t.Fatalf("complete the draft: %d %v", code, notice)
		}
		code, body = apiDo(s, "POST", nbase+"/send", tok, `{}`)
		if code != 200 || body["delivered"] != float64(1) {
			t.Fatalf("send: %d %v", code, body)
		}
		if code, body = apiDo(s, "POST", nbase, tok, `{`+draft+`}`); code != 409 {
			t.Errorf("a sent notice was changed: %d %v", code, body)
		}
		code, body = apiDo(s, "GET", nbase+"/deliveries", tok, "")
		dl, _ := body["deliveries"].([]any)
		if code != 200 || len(dl) != 1 || dl[0].(map[string]any)["account_id"] != custID || dl[0].(map[string]any)["state"] != "queued" ||
			body["counts"].(map[string]any)["total"] != float64(1) {
			t.Fatalf("deliveries: %d %v", code, body)
		}
		code, notice = apiDo(s, "GET", nbase, tok, "")
		if prog, _ := notice["step_progress"].([]any); code != 200 || notice["deliveries"].(map[string]any)["queued"] != float64(1) || len(prog) != 1 || prog[0].(map[string]any)["of"] != float64(1) {
			t.Errorf("the sent notice: %d %v", code, notice)
		}
		if code, body = apiDo(s, "GET", base+"/notices", tok, ""); code != 200 || len(body["notices"].([]any)) != 1 {
			t.Errorf("notices: %d %v", code, body)
		}
		if code, body = apiDo(s, "GET", base, tok, ""); code != 200 || body["clocks"].([]any)[0].(map[string]any)["state"] != "met" {
			t.Errorf("the customers' clock after the notice: %d %v", code, body)
		}

		// Containment acts on the affected accounts only.
		if code, body = apiDo(s, "POST", base+"/containment", tok, `{"action":"end_sessions"}`); code != 200 || body["accounts"] != float64(1) {
			t.Errorf("containment: %d %v", code, body)
		}
		if sessionLive(s, cust) || !sessionLive(s, sec) {
			t.Error("containment ended the wrong sessions")
		}
		if code, body = apiDo(s, "GET", "/api/v1/incidents", tok, ""); code != 200 || len(body["incidents"].([]any)) != 1 {
			t.Errorf("list: %d %v", code, body)
		}
		if code, body = apiDo(s, "GET", "/api/v1/incidents?state=closed", tok, ""); code != 200 || len(body["incidents"].([]any)) != 0 {
			t.Errorf("closed list: %d %v", code, body)
		}
		if code, _ = apiDo(s, "GET", "/api/v1/incidents/aaaaaaaaaaaaaaaaaaaaaaaaaa", tok, ""); code != 404 {
			t.Errorf("unknown incident: %d", code)
		}
		// A notice is read only under its own incident.
		_, other := apiDo(s, "POST", "/api/v1/incidents", tok, `{"title":"Another","severity":"low","category":"c"}`)
		if code, _ = apiDo(s, "GET", "/api/v1/incidents/"+other["id"].(string)+"/notices/"+nid+"/deliveries", tok, ""); code != 404 {
			t.Errorf("a notice read under another incident: %d", code)
		}
	})
}

// TestAPIIncidentPermissions (CP-4.2, CP-6.3): an auditor's token reads
// every incident route and every write is refused like a route that does
// not exist, changing nothing; a support token and a customer's token get,
// on every incident route, the answer of a route that does not exist.
func TestAPIIncidentPermissions(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		signInFull(t, s, "api-perm-cust@example.com")
		sec := apiToken(t, s, signInAs(t, s, "api-perm-sec@example.com", access.RoleSecurity), access.IncidentManage, access.IncidentRead)
		_, inc := apiDo(s, "POST", "/api/v1/incidents", sec, `{"title":"Seen","severity":"medium","category":"c"}`)
		id := inc["id"].(string)
		apiDo(s, "POST", "/api/v1/incidents/"+id+"/affected", sec, `{"kind":"all"}`)
		_, n := apiDo(s, "POST", "/api/v1/incidents/"+id+"/notices", sec, `{"kind":"breach","title":"Draft"}`)
		nid := n["id"].(string)

		aud := apiToken(t, s, signInAs(t, s, "api-perm-aud@example.com", access.RoleAuditor), access.IncidentRead)
		agent := apiToken(t, s, signInAs(t, s, "api-perm-agent@example.com", access.RoleSupport), access.TicketQueue)
		customer := forgedToken(t, s, "api-perm-holder@example.com", access.RoleCustomer, "incident.read incident.manage")

		routes := s.apiIncidentRoutes()
		if len(routes) == 0 {
			t.Fatal("no incident API routes")
		}
		for _, rt := range routes {
			method, path := concreteAPI(rt.pattern, id, nid)
			body := ""
			if method == "POST" {
				body = `{}`
			}
			// The answer for a route that does not exist, with the same token.
			for who, tok := range map[string]string{"support": agent, "customer": customer, "auditor": aud} {
				if who == "auditor" && rt.perm == access.IncidentRead {
					if code, b := apiDo(s, method, path, tok, body); code != 200 {
						t.Errorf("%s as the auditor: %d %v", rt.pattern, code, b)
					}
					continue
				}
				wantCode, want := apiDo(s, method, "/api/v1/no-such-route"+strings.TrimPrefix(path, "/api/v1"), tok, body)
				code, got := apiDo(s, method, path, tok, body)
				// Signed-in staff are told 404; a customer's token is no token.
				if code != wantCode || apiErr(got) != apiErr(want) || code != map[string]int{"support": 404, "customer": 401, "auditor": 404}[who] {
					t.Errorf("%s as %s: %d %q, a route that does not exist: %d %q", rt.pattern, who, code, apiErr(got), wantCode, apiErr(want))
				}
			}
		}
		// The auditor's refused writes changed nothing.
		after, err := s.incidents.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if after.Phase != "detected" || after.Breach != nil || after.Affected != 1 {
			t.Errorf("refused writes changed the incident: %+v", after)
		}
		if got, _ := s.incidents.NoticeByID(ctx, id, nid); !got.SentAt.IsZero() || got.Title != "Draft" {
			t.Errorf("refused writes changed the notice: %+v", got)
		}
	})
}

// forgedToken writes a live token for a new account of role straight
// into the table, as no page would make it (customers hold no tokens),
// to show what the API answers if one existed.
func forgedToken(t *testing.T, s *testServer, email string, role access.Role, scopes string) string {
	t.Helper()
	acct := accountOf(t, s, signInAs(t, s, email, role))
	id, secret := strings.Repeat("a", 25)+"b", strings.Repeat("c", 26)
	h := sha256.Sum256([]byte(secret))
	now := s.db.Now()
	if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO api_tokens (id, secret_hash, account_id, role, name, scopes, created_at, expires_at, credentials_epoch)
			SELECT $1, $2, id, $3, 'forged', $4, $5, $6, credentials_epoch FROM accounts WHERE id = $7`,
			id, h[:], string(role), scopes, now, now.Add(24*time.Hour), acct)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return "ptk_" + id + "_" + secret
}
