package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
)

// postMultipart sends a same-origin multipart form with files.
func postMultipart(s *testServer, path string, fields map[string]string, files map[string][]byte, cookie string) *http.Response {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("attachments", name)
		fw.Write(data)
	}
	mw.Close()
	return do(s, "POST", path, &b, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": mw.FormDataContentType(), "Cookie": cookie}).Result()
}

func cookieOf(token string) string { return session.CookieName + "=" + token }

var ticketLink = regexp.MustCompile(`^/tickets/([a-z2-7]{26})\?`)

// TestTicketIDORWeb: customer B reaches none of customer A's ticket pages,
// replies, close or attachments by ID through the browser routes: each
// answers 404 like an unknown ID (CP-4.2).
func TestTicketIDORWeb(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		a := cookieOf(signInFull(t, s, "idor-a@example.com"))
		b := cookieOf(signInFull(t, s, "idor-b@example.com"))
		resp := postMultipart(s, "/tickets", map[string]string{"subject": "A's private ticket", "body": "secret words"}, map[string][]byte{"note.txt": []byte("private file")}, a)
		m := ticketLink.FindStringSubmatch(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || m == nil {
			t.Fatalf("open: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		id := m[1]
		page := do(s, "GET", "/tickets/"+id, nil, map[string]string{"Cookie": a})
		if page.Code != 200 || !strings.Contains(page.Body.String(), "secret words") {
			t.Fatalf("owner's view: %d", page.Code)
		}
		att := regexp.MustCompile(`/tickets/` + id + `/attachments/([a-z2-7]{26})`).FindStringSubmatch(page.Body.String())
		if att == nil {
			t.Fatal("no attachment link")
		}
		dl := do(s, "GET", att[0], nil, map[string]string{"Cookie": a})
		if dl.Code != 200 || dl.Body.String() != "private file" || !strings.HasPrefix(dl.Header().Get("Content-Disposition"), "attachment") ||
			!strings.Contains(dl.Header().Get("Content-Security-Policy"), "sandbox") || dl.Header().Get("Content-Type") != "text/plain" {
			t.Fatalf("owner's download: %d %v", dl.Code, dl.Header())
		}
		unknown := do(s, "GET", "/tickets/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil, map[string]string{"Cookie": b})
		for _, tc := range []struct{ method, path string }{
			{"GET", "/tickets/" + id},
			{"GET", att[0]},
			{"POST", "/tickets/" + id + "/reply"},
			{"POST", "/tickets/" + id + "/close"},
		} {
			var w *http.Response
			if tc.method == "GET" {
				w = do(s, "GET", tc.path, nil, map[string]string{"Cookie": b}).Result()
			} else {
				w = post(s, tc.path, url.Values{"body": {"hijack"}}, b)
			}
			if w.StatusCode != http.StatusNotFound {
				t.Errorf("B %s %s: %d, want 404", tc.method, tc.path, w.StatusCode)
			}
		}
		if unknown.Code != http.StatusNotFound {
			t.Errorf("unknown ticket: %d", unknown.Code)
		}
		// And the desk routes are not a way round it for a customer.
		if w := do(s, "GET", "/desk/tickets/"+id, nil, map[string]string{"Cookie": b}); w.Code != http.StatusNotFound {
			t.Errorf("customer on the desk route: %d", w.Code)
		}
		if !strings.Contains(do(s, "GET", "/tickets/"+id, nil, map[string]string{"Cookie": a}).Body.String(), "secret words") {
			t.Error("A's ticket changed")
		}
	})
}

// TestMessagesRenderAsPlainText: what people write is shown as text, never
// HTML; https links become safe links and javascript: stays text (CP-6.1).
func TestMessagesRenderAsPlainText(t *testing.T) {
	s := newTestServer(t)
	c := cookieOf(signInFull(t, s, "plain@example.com"))
	body := "<script>alert(1)</script>\n<img src=x onerror=alert(2)>\nSee https://example.com/help?a=1&b=2. Or javascript:alert(3)"
	resp := postMultipart(s, "/tickets", map[string]string{"subject": "<b>bold</b> subject", "body": body}, nil, c)
	m := ticketLink.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("open: %d", resp.StatusCode)
	}
	page := do(s, "GET", "/tickets/"+m[1], nil, map[string]string{"Cookie": c}).Body.String()
	for _, bad := range []string{"<script>alert(1)", "<img src=x", "<b>bold</b>", `href="javascript:`} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	if !strings.Contains(page, `<a href="https://example.com/help?a=1&amp;b=2" rel="noopener noreferrer nofollow">`) {
		t.Error("the https address is not a safe link")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the text is not shown escaped")
	}
}

// TestDeskMasksAndReveals: an agent sees the customer masked, a reveal
// with a reason shows the clear value to that agent, and the customer's
// access history lists it (MTL-3.2.1, MTL-3.2.2). Through the browser
// routes, with the route table's step-up.
func TestDeskMasksAndReveals(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		cust := signInFull(t, s, "jane.doe@example.com")
		if r := post(s, "/account/contact", url.Values{"name": {"Jane Doe"}, "phone": {"+44 20 7946 0958"}}, cookieOf(cust)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("contact: %d", r.StatusCode)
		}
		agent := cookieOf(signInAs(t, s, "agent@example.com", access.RoleSupport))
		w := do(s, "GET", "/desk/customers?email=jane.doe@example.com", nil, map[string]string{"Cookie": agent})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("lookup: %d", w.Code)
		}
		custPath := w.Header().Get("Location")
		page := do(s, "GET", custPath, nil, map[string]string{"Cookie": agent}).Body.String()
		if !strings.Contains(page, "j***@example.com") || !strings.Contains(page, "*** ** 58") || strings.Contains(page, "jane.doe@example.com") || strings.Contains(page, "7946") {
			t.Fatal("the customer page is not masked")
		}
		r := post(s, custPath+"/reveal", url.Values{"field": {"email"}, "reason": {"too short"}}, agent)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("reveal with a short reason: %d", r.StatusCode)
		}
		r = post(s, custPath+"/reveal", url.Values{"field": {"email"}, "reason": {"Sending the invoice the customer asked for"}}, agent)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("reveal: %d", r.StatusCode)
		}
		page = do(s, "GET", custPath, nil, map[string]string{"Cookie": agent}).Body.String()
		if !strings.Contains(page, "jane.doe@example.com") || strings.Contains(page, "7946") {
			t.Error("after revealing the email: want the email only")
		}
		hist := do(s, "GET", "/account/access-history", nil, map[string]string{"Cookie": cookieOf(cust)}).Body.String()
		if !strings.Contains(hist, "Sending the invoice the customer asked for") || !strings.Contains(hist, "your email") {
			t.Error("the customer's access history does not show the reveal")
		}
		// A customer cannot use the desk at all.
		if w := do(s, "GET", custPath, nil, map[string]string{"Cookie": cookieOf(cust)}); w.Code != http.StatusNotFound {
			t.Errorf("customer on the desk: %d", w.Code)
		}
		// The agent's desk lists the queue.
		desk := signInFull(t, s, "queue-cust@example.com")
		postMultipart(s, "/tickets", map[string]string{"subject": "Queue me", "body": "please"}, nil, cookieOf(desk))
		if !strings.Contains(do(s, "GET", "/desk", nil, map[string]string{"Cookie": agent}).Body.String(), "Queue me") {
			t.Error("the desk does not list the new ticket")
		}
		ts, _ := s.support.Queue(context.Background(), access.Principal{AccountID: "x", Role: access.RoleSupport, Stage: access.StageDone}, support.QueueFilter{})
		if len(ts) != 1 {
			t.Errorf("queue %d", len(ts))
		}
	})
}
