package compliance_test

import (
	"context"
	"testing"

	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestAuditChainEvidence (CP-5.3, MTL-1.1): the evidence of the audit
// trail passes on an intact chain and fails, naming the event, once an
// event is edited outside the application.
func TestAuditChainEvidence(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, nil)
		ctx := context.Background()
		if _, err := w.svc.TakeEvidence(ctx, compliance.OnDemand, "account:test"); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "intact chain", w.check(t, "audit.chain-verified"), compliance.Pass)
		dropAuditTriggers(t, d)
		exec(t, d, `UPDATE audit_events SET action = 'edited' WHERE seq = 1`)
		wantStatus(t, "edited event", w.check(t, "audit.chain-verified"), compliance.Fail)
	})
}
