package web

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
)

// TestEvidenceKeysPublished (MTL-7.2): the evidence bundle's public keys
// are served to anyone at the well-known URLs: every key, current and
// retired, with its fingerprint and PEM, and the current key alone as PEM;
// reading creates no key.
func TestEvidenceKeysPublished(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		type listed struct {
			Keys []struct {
				Fingerprint string `json:"fingerprint"`
				Algorithm   string `json:"algorithm"`
				Current     bool   `json:"current"`
				PEM         string `json:"public_key_pem"`
				RetiredAt   string `json:"retired_at"`
			} `json:"keys"`
		}
		list := func() listed {
			t.Helper()
			w := do(s, "GET", "/.well-known/portico-evidence-keys.json", nil, nil)
			var l listed
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("keys.json: %d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			return l
		}
		// Before the first bundle: no key, and asking makes none.
		if l := list(); len(l.Keys) != 0 {
			t.Fatalf("keys before first use: %+v", l)
		}
		if w := do(s, "GET", "/.well-known/portico-evidence-key.pem", nil, nil); w.Code != 404 {
			t.Fatalf("key.pem before first use: %d", w.Code)
		}
		if keys, err := s.compliance.SigningKeys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("a GET made a key: %v %v", keys, err)
		}

		first, err := s.compliance.SigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.compliance.RotateSigningKey(ctx, audit.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		l := list()
		if len(l.Keys) != 2 {
			t.Fatalf("keys: %+v", l)
		}
		for _, k := range l.Keys {
			pub, err := compliance.ParsePublicKey([]byte(k.PEM))
			if err != nil || compliance.Fingerprint(pub) != k.Fingerprint || k.Algorithm != "Ed25519" {
				t.Fatalf("key %+v: %v", k, err)
			}
			switch k.Fingerprint {
			case second.Fingerprint:
				if !k.Current || k.RetiredAt != "" {
					t.Fatalf("new key %+v", k)
				}
			case first.Fingerprint:
				if k.Current || k.RetiredAt == "" {
					t.Fatalf("retired key %+v", k)
				}
			default:
				t.Fatalf("unknown key %s", k.Fingerprint)
			}
		}
		w := do(s, "GET", "/.well-known/portico-evidence-key.pem", nil, nil)
		pub, err := compliance.ParsePublicKey(w.Body.Bytes())
		if w.Code != 200 || err != nil || !pub.Equal(second.Public) {
			t.Fatalf("key.pem: %d %v\n%s", w.Code, err, w.Body)
		}
	})
}
