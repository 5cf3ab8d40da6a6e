package crypto_test

import (
	"context"
	"errors"
	"testing"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestDecryptAll: a batch of one subject's fields decrypts with one key
// read, each item bound to its own field; a moved ciphertext or a
// destroyed key fails the batch exactly as Decrypt would (CP-5.1, CP-5.2).
func TestDecryptAll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, _ := newKeyring(t, d)
		name := crypto.Field{Table: "accounts", Column: "name_enc", Row: "alice"}
		a := encrypt(t, k, d, "alice", email, "alice@example.com")
		b := encrypt(t, k, d, "alice", name, "Alice")
		got, err := k.DecryptAll(ctx, d, "alice", []crypto.Sealed{{Field: email, Ciphertext: a}, {Field: name, Ciphertext: b}})
		if err != nil || string(got[0]) != "alice@example.com" || string(got[1]) != "Alice" {
			t.Fatalf("DecryptAll = %q, %v", got, err)
		}
		if _, err := k.DecryptAll(ctx, d, "alice", []crypto.Sealed{{Field: email, Ciphertext: b}}); !errors.Is(err, crypto.ErrAuthentication) {
			t.Errorf("swapped ciphertext: %v", err)
		}
		destroy(t, k, d, "alice")
		if _, err := k.DecryptAll(ctx, d, "alice", []crypto.Sealed{{Field: email, Ciphertext: a}}); !errors.Is(err, crypto.ErrSubjectKeyDestroyed) {
			t.Errorf("destroyed key: %v", err)
		}
	})
}
