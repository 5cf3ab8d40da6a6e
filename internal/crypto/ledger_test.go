package crypto_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestErasureLedgerFollowsCommits: the erasure ledger that a restore
// re-applies names a subject once its key's destruction has committed,
// never for a destruction that rolled back; an erasure that committed
// without its ledger entry (a crash between the two) is added by
// ReconcileLedger, which the server runs at every start (CP-5.2, CP-11.1).
func TestErasureLedgerFollowsCommits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, _ := newKeyring(t, d)
		encrypt(t, k, d, "alice", email, "alice@example.com")
		encrypt(t, k, d, "bob", email, "bob@example.com")
		ledger := func() []string {
			t.Helper()
			ids, err := k.ErasedSubjects()
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}

		rollback := errors.New("a later step of the erasure failed")
		err := d.Transact(ctx, func(tx *db.Tx) error {
			if err := k.DestroySubjectKey(ctx, tx, "bob"); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Transact = %v", err)
		}
		if slices.Contains(ledger(), "bob") {
			t.Fatal("CP-5.2: a destruction that rolled back is in the ledger")
		}

		destroy(t, k, d, "alice")
		if got := ledger(); !slices.Equal(got, []string{"alice"}) {
			t.Fatalf("ledger after a committed destruction = %v", got)
		}

		// A crash between the commit and the ledger write: the ledger
		// lacks the erasure that the database holds.
		if err := os.Remove(k.LedgerPath()); err != nil {
			t.Fatal(err)
		}
		n, err := k.ReconcileLedger(ctx, d)
		if err != nil || n != 1 {
			t.Fatalf("ReconcileLedger = %d, %v; want 1", n, err)
		}
		if got := ledger(); !slices.Equal(got, []string{"alice"}) {
			t.Fatalf("ledger after reconciling = %v, want [alice] (not bob, whose destruction rolled back)", got)
		}
		if n, err := k.ReconcileLedger(ctx, d); err != nil || n != 0 {
			t.Fatalf("second ReconcileLedger = %d, %v; want 0", n, err)
		}
	})
}
