package compliance_test

import (
	"bytes"
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
		// A node that found no key a moment ago and makes one now loses
		// to the stored key and uses it (whatever the goroutines' timing).
		if late, err := w.svc.CreateKeyAsAnotherNode(ctx); err != nil || late.Fingerprint != first.Fingerprint {
			t.Fatalf("late creation: %v, got %s want %s", err, late.Fingerprint, first.Fingerprint)
		}
		if keys, err := w.svc.SigningKeys(ctx); err != nil || len(keys) != 1 {
			t.Fatalf("keys after the race: %v %v", keys, err)
		}
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

// TestSigningKeyMatchesItsSeed (MTL-7.2): a stored public key changed by
// hand (to make bundles "verify" with another key) is refused at signing,
// not discovered by an auditor.
func TestSigningKeyMatchesItsSeed(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	w := newWorld(t, d, nil)
	ctx := context.Background()
	k, err := w.svc.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(k.Public)
	other[0] ^= 1
	exec(t, d, `UPDATE compliance_signing_keys SET public_key = $1, fingerprint = $2`, other, compliance.Fingerprint(other))
	if _, err := w.svc.SigningKey(ctx); err == nil || !strings.Contains(err.Error(), "does not match its private key") {
		t.Fatalf("SigningKey after the public key was changed: %v", err)
	}
	if _, _, err := w.svc.Bundle(ctx, audit.ActorCLI); err == nil {
		t.Fatal("Bundle signed with a key whose public half was changed")
	}
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
