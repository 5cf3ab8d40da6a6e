package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/thirdparty"
)

// TestGovernanceOverview (CP-10.1, CP-11.2, MTL-4.3.2, MTL-8.1, MTL-7.2):
// the overview reads the registers: empty, it says so; a vendor never
// assessed and a critical finding past its remediation date show as
// such; the auditor and the security team read it, a customer and support
// do not see it.
func TestGovernanceOverview(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		e := newPlanEnv(t, s)
		code, page := e.get("/governance", e.aud)
		text := visibleText(page)
		if code != 200 || !strings.Contains(text, "No third party recorded yet.") || !strings.Contains(text, "No open finding.") ||
			!strings.Contains(text, "No member of staff overdue.") {
			t.Fatalf("empty overview: %d\n%s", code, text)
		}
		if _, page := e.get("/admin", e.aud); !strings.Contains(page, `href="/governance"`) {
			t.Error("the admin page does not link the overview")
		}
		if _, err := s.vendors.Register(ctx, thirdparty.NewVendor{Name: "Mailer Ltd", Service: "Email delivery", Owner: e.id1}, e.id1); err != nil {
			t.Fatal(err)
		}
		f, err := s.findings.Create(ctx, findings.NewFinding{SourceKind: findings.SourceOther, Title: "Stack traces on /api", Description: "x",
			Severity: "critical", Component: "api", By: e.id1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.findings.Create(ctx, findings.NewFinding{SourceKind: findings.SourceOther, Title: "Old TLS on the mail relay", Description: "x",
			Severity: "low", Component: "mail", By: e.id1}); err != nil {
			t.Fatal(err)
		}
		if err := s.db.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE findings SET due_at = $1 WHERE id = $2`, time.Now().Add(-time.Hour), f.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_, page = e.get("/governance", e.sec1)
		text = visibleText(page)
		for _, want := range []string{"1 in the register, 0 approved.", "1 never assessed", "2 open, 1 critical, 1 low.", "1 past their remediation date."} {
			if !strings.Contains(text, want) {
				t.Errorf("overview lacks %q:\n%s", want, text)
			}
		}
		cust := cookieOf(signInFull(t, s, "cust@example.com"))
		if code, _ := e.get("/governance", cust); code != 404 {
			t.Errorf("a customer gets %d", code)
		}
	})
}
