package apitoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/dbtest"
)

// BenchmarkAuthenticateKnownNetwork is the API's hot path on SQLite: a
// live token used again within the minute from a network it knows, which
// should cost one read and no write whatever the network bookkeeping.
func BenchmarkAuthenticateKnownNetwork(b *testing.B) {
	clk := dbtest.NewClock(time.Time{})
	d := dbtest.SQLite(b, dbtest.Options{Now: clk.Now})
	st := setup(b, d, clk)
	ctx := context.Background()
	raw, _, err := st.Create(ctx, agent, "bench", []access.Permission{access.TicketQueue}, 30*24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, raw, "203.0.113.5"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Authenticate(ctx, raw, "203.0.113.9"); err != nil {
			b.Fatal(err)
		}
	}
}
