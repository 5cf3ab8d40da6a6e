package compliance_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestSigningKeyCreatedOnceRotatedAndKept (MTL-7.2): the evidence signing
// key is created on first use, once even when two callers ask at the same
// moment, with its private half only in the keyset; a rotation makes a new
// current key and keeps the old one, and both are audited.
func TestSigningKeyCreatedOnceRotatedAndKept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, nil)
		keys, err := w.svc.SigningKeys(ctx)
		if err != nil || len(keys) != 0 {
			t.Fatalf("before first use: %v %v", keys, err)
		}

		// Two callers on a fresh installation agree on one key.
		var wg sync.WaitGroup
		got := make([]compliance.SigningKey, 4)
		errs := make([]error, 4)
		for i := range got {
			wg.Go(func() { got[i], errs[i] = w.svc.SigningKey(ctx) })
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if got[i].Fingerprint != got[0].Fingerprint {
				t.Fatalf("two current keys: %s and %s", got[0].Fingerprint, got[i].Fingerprint)
			}
		}
		first := got[0]
		if len(first.Fingerprint) != 64 || !first.Current() || compliance.Fingerprint(first.Public) != first.Fingerprint {
			t.Fatalf("key: %+v", first)
		}
		if pub, err := compliance.ParsePublicKey(first.PEM()); err != nil || !pub.Equal(first.Public) {
			t.Fatalf("PEM round trip: %v", err)
		}
		// The table holds the public half only; the seed is a wrapped
		// server secret.
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM server_secrets WHERE name = $1`, "compliance-signing:"+first.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("seed secret: %d %v", n, err)
		}
		evs, err := w.st.Audit.Search(ctx, audit.Filter{Action: "compliance.signing_key.create"})
		if err != nil || len(evs) != 1 || evs[0].Target != "signing-key:"+first.Fingerprint {
			t.Fatalf("create events: %v %+v", err, evs)
		}

		second, err := w.svc.RotateSigningKey(ctx, audit.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		if second.Fingerprint == first.Fingerprint {
			t.Fatal("rotation kept the key")
		}
		if cur, err := w.svc.SigningKey(ctx); err != nil || cur.Fingerprint != second.Fingerprint {
			t.Fatalf("current after rotation: %s %v", cur.Fingerprint, err)
		}
		keys, err = w.svc.SigningKeys(ctx)
		if err != nil || len(keys) != 2 {
			t.Fatalf("keys after rotation: %v %v", keys, err)
		}
		for _, k := range keys {
			if (k.Fingerprint == first.Fingerprint) == k.Current() {
				t.Fatalf("key %s current=%v", k.Fingerprint, k.Current())
			}
		}
		evs, err = w.st.Audit.Search(ctx, audit.Filter{Action: "compliance.signing_key.rotate"})
		if err != nil || len(evs) != 1 || evs[0].Target != "signing-key:"+second.Fingerprint ||
			!strings.Contains(string(evs[0].Details), first.Fingerprint) {
			t.Fatalf("rotate events: %v %+v", err, evs)
		}
	})
}

// TestSigningKeyNeedsTheKeyset: a service without the keyring refuses to
// sign instead of making a key it could not keep.
func TestSigningKeyNeedsTheKeyset(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	s, err := compliance.New(d, audit.New(d), profile(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SigningKey(context.Background()); err == nil || !strings.Contains(err.Error(), "master keyset") {
		t.Fatalf("SigningKey without keyring: %v", err)
	}
	if _, _, err := s.Bundle(context.Background(), audit.ActorCLI); err == nil {
		t.Fatal("Bundle without keyring succeeded")
	}
}
