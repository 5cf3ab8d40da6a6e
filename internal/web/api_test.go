package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/support"
)

// apiToken makes a token for a signed-in staff member through the tokens
// page, as a person would, and returns the raw token.
func apiToken(t *testing.T, s *testServer, session string, scopes ...access.Permission) string {
	t.Helper()
	form := url.Values{"name": {"test script"}, "days": {"7"}}
	for _, sc := range scopes {
		form.Add("scope", string(sc))
	}
	resp := post(s, "/account/tokens", form, cookieOf(session))
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	m := regexp.MustCompile(`ptk_[a-z2-7]{26}_[a-z2-7]{26}`).FindString(b.String())
	if resp.StatusCode != 200 || m == "" {
		t.Fatalf("token page: %d", resp.StatusCode)
	}
	return m
}

func apiDo(s *testServer, method, path, token, body string) (int, map[string]any) {
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	var rd *strings.Reader
	if body != "" {
		h["Content-Type"] = "application/json"
		rd = strings.NewReader(body)
	}
	var w = do(s, method, path, nil, h)
	if rd != nil {
		w = do(s, method, path, rd, h)
	}
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		return -w.Code, out
	}
	return w.Code, out
}

// TestAPITokens: a support token scoped to the queue reads and answers
// tickets; it cannot reach users (not in scope) or anything sensitive;
// customers cannot hold tokens; a revoked token stops at once; errors are
// JSON (CP-6.3, CP-4.2).
func TestAPITokens(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		cust := signInFull(t, s, "api-cust@example.com")
		postMultipart(s, "/tickets", map[string]string{"subject": "API ticket", "body": "hello"}, nil, cookieOf(cust))
		agent := signInAs(t, s, "api-agent@example.com", access.RoleSupport)
		tok := apiToken(t, s, agent, access.TicketQueue)

		code, body := apiDo(s, "GET", "/api/v1/tickets", tok, "")
		list, _ := body["tickets"].([]any)
		if code != 200 || len(list) != 1 {
			t.Fatalf("GET tickets: %d %v", code, body)
		}
		id := list[0].(map[string]any)["id"].(string)
		if code, body = apiDo(s, "POST", "/api/v1/tickets/"+id+"/replies", tok, `{"body":"From the API"}`); code != 201 || body["status"] != "pending" {
			t.Errorf("reply: %d %v", code, body)
		}
		if code, body = apiDo(s, "GET", "/api/v1/users", tok, ""); code != 404 || body["error"] == nil {
			t.Errorf("out of scope: %d %v", code, body)
		}
		if code, _ = apiDo(s, "GET", "/api/v1/me", tok, ""); code != 404 {
			t.Errorf("/me without token.own in scope: %d", code)
		}
		if code, body = apiDo(s, "POST", "/api/v1/tickets/"+id+"/status", tok, `{"status":"closed","role":"admin"}`); code != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "unknown field") {
			t.Errorf("unknown field: %d %v", code, body)
		}
		w := do(s, "POST", "/api/v1/tickets/"+id+"/status", strings.NewReader(`{"status":"closed"}`), map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "text/plain"})
		if w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain body: %d", w.Code)
		}
		if code, _ = apiDo(s, "GET", "/api/v1/tickets/aaaaaaaaaaaaaaaaaaaaaaaaaa", tok, ""); code != 404 {
			t.Errorf("unknown ticket: %d", code)
		}
		// A browser session does not reach the API.
		w = do(s, "GET", "/api/v1/tickets", nil, map[string]string{"Cookie": cookieOf(agent)})
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("session cookie on the API: %d", w.Code)
		}
		// Customers hold no tokens: customer A has no way to B's tickets here.
		if r := post(s, "/account/tokens", url.Values{"name": {"x"}, "days": {"7"}, "scope": {"ticket.own"}}, cookieOf(cust)); r.StatusCode != http.StatusNotFound {
			t.Errorf("customer token page: %d", r.StatusCode)
		}
		// A sensitive permission is never offered nor accepted.
		if r := post(s, "/account/tokens", url.Values{"name": {"x"}, "days": {"7"}, "scope": {"customer.pii.reveal"}}, cookieOf(agent)); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("sensitive scope: %d", r.StatusCode)
		}
		// Revoked: 401 at once.
		tokens, _ := s.tokens.List(context.Background(), accountOf(t, s, agent))
		if r := post(s, "/account/tokens/"+tokens[0].ID+"/revoke", url.Values{}, cookieOf(agent)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.StatusCode)
		}
		if code, body = apiDo(s, "GET", "/api/v1/tickets", tok, ""); code != 401 || body["error"] == nil {
			t.Errorf("revoked token: %d %v", code, body)
		}
		if code, _ = apiDo(s, "GET", "/api/v1/tickets", "ptk_garbage", ""); code != 401 {
			t.Errorf("garbage token: %d", code)
		}
	})
}

// TestAPIUsersAndHolderChecks: an admin token manages users through the
// API; when the holder's role changes, or their training lapses, the token
// stops (CP-6.3, CP-12).
func TestAPIUsersAndHolderChecks(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		admin := signInAs(t, s, "api-admin@example.com", access.RoleAdmin)
		tok := apiToken(t, s, admin, access.UserRead, access.UserManage, access.TokenOwn)
		cust := signInFull(t, s, "api-target@example.com")
		custID := accountOf(t, s, cust)
		code, body := apiDo(s, "GET", "/api/v1/users?role=customer", tok, "")
		if code != 200 || body["total"] != float64(1) {
			t.Fatalf("users: %d %v", code, body)
		}
		u := body["users"].([]any)[0].(map[string]any)
		if u["email_masked"] != "a***@example.com" || strings.Contains(mustJSON(body), "api-target@") {
			t.Errorf("user not masked: %v", u)
		}
		if code, body = apiDo(s, "POST", "/api/v1/users/"+custID+"/disable", tok, ""); code != 200 || body["status"] != "disabled" {
			t.Errorf("disable: %d %v", code, body)
		}
		if sessionLive(s, cust) {
			t.Error("disabled through the API but the session lives")
		}
		if code, _ = apiDo(s, "GET", "/api/v1/me", tok, ""); code != 200 {
			t.Errorf("me: %d", code)
		}
		// Training overdue: the holder is restricted, and so is the token.
		if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE accounts SET created_at = $1 WHERE id = $2`, time.Now().Add(-30*24*time.Hour), accountOf(t, s, admin))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if code, _ = apiDo(s, "GET", "/api/v1/me", tok, ""); code != 401 {
			t.Errorf("token of a holder with overdue training: %d", code)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOpenAPIMatchesRoutes: the served description lists exactly the API
// routes of the route table, each with the permission the table names
// (x-permission), and is valid enough for tools: an openapi version, a
// bearer scheme, and responses on every operation.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newTestServer(t)
	w := do(s, "GET", "/api/v1/openapi.json", nil, nil)
	if w.Code != 200 {
		t.Fatalf("GET openapi.json: %d", w.Code)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Components.SecuritySchemes["bearer"]["scheme"] != "bearer" {
		t.Errorf("openapi %q, schemes %v", doc.OpenAPI, doc.Components.SecuritySchemes)
	}
	documented := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			perm, _ := op["x-permission"].(string)
			documented[key] = perm
			if _, ok := op["responses"].(map[string]any); !ok {
				t.Errorf("%s has no responses", key)
			}
			if op["operationId"] == nil {
				t.Errorf("%s has no operationId", key)
			}
		}
	}
	served := map[string]string{}
	for _, rt := range s.routes() {
		if strings.Contains(rt.pattern, " /api/") {
			served[rt.pattern] = string(rt.perm)
		}
	}
	var problems []string
	for k, perm := range served {
		if d, ok := documented[k]; !ok {
			problems = append(problems, "served, not documented: "+k)
		} else if d != perm {
			problems = append(problems, k+": documented permission "+d+", route needs "+perm)
		}
	}
	for k := range documented {
		if _, ok := served[k]; !ok {
			problems = append(problems, "documented, not served: "+k)
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	_ = support.StatusOpen
}
