package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/incident"
)

// TestBreachRegister (MTL-7.1, MTL-5.1.1): the security team and auditors
// see every incident in the register, notifiable or not, with each
// regime's notices, and export a regime's register (recorded in the
// trail with its regime, format and count); a customer gets 404; an
// unknown regime or format is a 400 that says what is known.
func TestBreachRegister(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		sec := cookieOf(signInAs(t, s, "sec@example.com", access.RoleSecurity))
		aud := cookieOf(signInAs(t, s, "aud@example.com", access.RoleAuditor))
		cust := cookieOf(signInFull(t, s, "cust@example.com"))
		quiet, err := s.incidents.Open(ctx, incident.NewIncident{Title: "Probe of the sign-in page", Severity: "low", Category: "scan"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.incidents.Decide(ctx, quiet.ID, incident.Decision{Reasoning: "nothing was read"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		loud, err := s.incidents.Open(ctx, incident.NewIncident{Title: "Readable backup", Severity: "high", Category: "data exposure"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.incidents.Decide(ctx, loud.ID, incident.Decision{PersonalData: true, Risk: true, HighRisk: true, Reasoning: "addresses readable"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		get := func(path, cookie string) (int, string, http.Header) {
			w := do(s, "GET", path, nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
			return w.Code, html.UnescapeString(w.Body.String()), w.Header()
		}

		for _, who := range []string{sec, aud} {
			code, page, _ := get("/security/register", who)
			if code != 200 || !strings.Contains(page, quiet.ID) || !strings.Contains(page, loud.ID) {
				t.Fatalf("register page: %d, holds the non-notifiable %v, the notifiable %v", code, strings.Contains(page, quiet.ID), strings.Contains(page, loud.ID))
			}
			if !strings.Contains(page, "no personal data") || !strings.Contains(page, "authority: required") ||
				!strings.Contains(page, `href="/security/register/export?format=csv&regime=gdpr"`) {
				t.Errorf("the page lacks the decision, the notices or the export links")
			}
			code, body, h := get("/security/register/export?regime=gdpr&format=csv", who)
			if code != 200 || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
				t.Fatalf("CSV export: %d %v", code, h)
			}
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil || len(rows) != 3 || rows[0][0] != "incident_id" || rows[1][0] != quiet.ID {
				t.Errorf("CSV export %q, %v", rows, err)
			}
		}
		code, body, h := get("/security/register/export?regime=gdpr&format=json", aud)
		var doc struct {
			Regime  string
			Entries []map[string]string
		}
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &doc) != nil || len(doc.Entries) != 2 {
			t.Errorf("JSON export: %d %q", code, body)
		}
		recs, err := s.audit.Search(ctx, audit.Filter{Action: "incident.register_export", Limit: 10})
		if err != nil || len(recs) != 3 {
			t.Fatalf("%d export records, want 3: %v", len(recs), err)
		}
		var d struct {
			Regime, Format string
			Count          int
		}
		if err := json.Unmarshal(recs[0].Details, &d); err != nil || d.Regime != "gdpr" || d.Format != "json" || d.Count != 2 || recs[0].Actor != "account:"+accountOf(t, s, strings.TrimPrefix(aud, cookieOf(""))) {
			t.Errorf("export record %s by %s", recs[0].Details, recs[0].Actor)
		}

		for _, bad := range []string{"regime=ccpa&format=csv", "format=csv", "regime=gdpr&format=xlsx", "regime=gdpr&format=csv&from=yesterday"} {
			code, page, _ := get("/security/register/export?"+bad, sec)
			if code != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", bad, code)
			}
			if strings.HasPrefix(bad, "regime=ccpa") && !strings.Contains(page, `There is no regime "ccpa"`) {
				t.Errorf("%s: the answer does not say what is wrong", bad)
			}
		}
		if recs, _ := s.audit.Search(ctx, audit.Filter{Action: "incident.register_export", Limit: 10}); len(recs) != 3 {
			t.Errorf("refused exports were recorded: %d records", len(recs))
		}
		if code, _, _ := get("/security/register?from=2026-13-01", sec); code != http.StatusUnprocessableEntity {
			t.Errorf("a bad date on the page: %d", code)
		}
		for _, path := range []string{"/security/register", "/security/register/export?regime=gdpr&format=csv"} {
			if code, _, _ := get(path, cust); code != http.StatusNotFound {
				t.Errorf("customer GET %s: %d, want 404", path, code)
			}
		}
	})
}
