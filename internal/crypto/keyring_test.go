package crypto_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

var email = crypto.Field{Table: "accounts", Column: "email_enc", Row: "alice"}

// TestEncryptDecrypt: CP-5.1 / MTL-2.1.3, personal fields are encrypted at
// rest and come back intact.
func TestEncryptDecrypt(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, _ := newKeyring(t, d)

		t.Run("CP-5.1: round trip through the read pool and a transaction", func(t *testing.T) {
			ct := encrypt(t, k, d, "alice", email, "alice@example.com")
			if bytes.Contains(ct, []byte("alice@example.com")) {
				t.Fatal("ciphertext contains the plaintext")
			}
			if got := decrypt(t, k, d, "alice", email, ct); got != "alice@example.com" {
				t.Fatalf("got %q", got)
			}
			err := d.Transact(ctx, func(tx *db.Tx) error {
				pt, err := k.Decrypt(ctx, tx, "alice", email, ct)
				if err == nil && string(pt) != "alice@example.com" {
					err = fmt.Errorf("got %q", pt)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})

		t.Run("same plaintext encrypts differently each time", func(t *testing.T) {
			a := encrypt(t, k, d, "alice", email, "same")
			b := encrypt(t, k, d, "alice", email, "same")
			if bytes.Equal(a, b) {
				t.Fatal("two encryptions are identical (nonce reuse?)")
			}
		})

		t.Run("empty plaintext", func(t *testing.T) {
			ct := encrypt(t, k, d, "alice", email, "")
			if got := decrypt(t, k, d, "alice", email, ct); got != "" {
				t.Fatalf("got %q", got)
			}
		})

		t.Run("a key created in a transaction is usable in it, and gone if it rolls back", func(t *testing.T) {
			boom := errors.New("boom")
			err := d.Transact(ctx, func(tx *db.Tx) error {
				ct, err := k.Encrypt(ctx, tx, "rolled-back", email, []byte("x"))
				if err != nil {
					return err
				}
				if pt, err := k.Decrypt(ctx, tx, "rolled-back", email, ct); err != nil || string(pt) != "x" {
					return fmt.Errorf("in-transaction decrypt = %q, %v", pt, err)
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			_, err = k.Decrypt(ctx, d, "rolled-back", email, []byte("anything"))
			if !errors.Is(err, crypto.ErrNoSubjectKey) {
				t.Fatalf("err = %v, want ErrNoSubjectKey", err)
			}
		})

		t.Run("unknown subject has no key", func(t *testing.T) {
			_, err := k.Decrypt(ctx, d, "nobody", email, []byte("x"))
			if !errors.Is(err, crypto.ErrNoSubjectKey) {
				t.Fatalf("err = %v, want ErrNoSubjectKey", err)
			}
		})

		t.Run("rejects incomplete fields", func(t *testing.T) {
			err := d.Transact(ctx, func(tx *db.Tx) error {
				_, err := k.Encrypt(ctx, tx, "alice", crypto.Field{Table: "accounts", Column: "email_enc"}, []byte("x"))
				return err
			})
			if err == nil {
				t.Fatal("encrypted without a row")
			}
		})

		t.Run("each subject has its own data key, wrapped by the primary master key", func(t *testing.T) {
			encrypt(t, k, d, "bob", email, "b")
			by := wrappedBy(t, d)
			if by["alice"] != k.PrimaryKeyID() || by["bob"] != k.PrimaryKeyID() {
				t.Fatalf("wrapped_by = %v, want %d", by, k.PrimaryKeyID())
			}
			if bytes.Equal(wrappedKey(t, d, "alice"), wrappedKey(t, d, "bob")) {
				t.Fatal("two subjects share a wrapped key")
			}
		})
	})
}

// TestCiphertextBoundToItsPlace: CP-5.1 / MTL-2.1.3, the associated data
// binds a ciphertext to its subject, table, column and row, so one moved
// elsewhere fails authentication instead of decrypting.
func TestCiphertextBoundToItsPlace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, _ := newKeyring(t, d)
		ct := encrypt(t, k, d, "alice", email, "alice@example.com")
		encrypt(t, k, d, "bob", email, "bob@example.com")

		tampered := bytes.Clone(ct)
		tampered[len(tampered)-1] ^= 1
		cases := []struct {
			name    string
			subject string
			field   crypto.Field
			ct      []byte
		}{
			{"MTL-2.1.3: moved to another row", "alice", crypto.Field{Table: "accounts", Column: "email_enc", Row: "bob"}, ct},
			{"MTL-2.1.3: moved to another column", "alice", crypto.Field{Table: "accounts", Column: "name_enc", Row: "alice"}, ct},
			{"MTL-2.1.3: moved to another table", "alice", crypto.Field{Table: "tickets", Column: "email_enc", Row: "alice"}, ct},
			{"MTL-2.1.3: moved to another subject", "bob", email, ct},
			{"length-prefixed: table/column boundary cannot shift", "alice", crypto.Field{Table: "accountsemail", Column: "_enc", Row: "alice"}, ct},
			{"tampered", "alice", email, tampered},
			{"truncated", "alice", email, ct[:len(ct)-3]},
			{"empty", "alice", email, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				pt, err := k.Decrypt(ctx, d, c.subject, c.field, c.ct)
				if !errors.Is(err, crypto.ErrAuthentication) {
					t.Fatalf("err = %v, want ErrAuthentication", err)
				}
				if pt != nil {
					t.Fatalf("returned %q with the error", pt)
				}
			})
		}
		if got := decrypt(t, k, d, "alice", email, ct); got != "alice@example.com" {
			t.Fatalf("original no longer decrypts: %q", got)
		}
	})
}

// TestDestroySubjectKey: CP-5.2, crypto-shredding. After the key is
// destroyed nothing of the subject decrypts, the wrapped key bytes are gone
// from the table, a tombstone remains, and other subjects are untouched.
func TestDestroySubjectKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, path := newKeyring(t, d)
		other := openKeyring(t, d, path) // a second node on the same database

		alice := encrypt(t, k, d, "alice", email, "alice@example.com")
		name := crypto.Field{Table: "accounts", Column: "name_enc", Row: "alice"}
		aliceName := encrypt(t, k, d, "alice", name, "Alice")
		bob := encrypt(t, k, d, "bob", email, "bob@example.com")
		// Warm both nodes' caches.
		decrypt(t, k, d, "alice", email, alice)
		decrypt(t, other, d, "alice", email, alice)
		before := wrappedKey(t, d, "alice")

		destroy(t, k, d, "alice")

		t.Run("CP-5.2: every field of the subject fails with ErrSubjectKeyDestroyed, on every node", func(t *testing.T) {
			for _, kr := range []*crypto.Keyring{k, other} {
				for _, c := range []struct {
					f  crypto.Field
					ct []byte
				}{{email, alice}, {name, aliceName}} {
					pt, err := kr.Decrypt(ctx, d, "alice", c.f, c.ct)
					if !errors.Is(err, crypto.ErrSubjectKeyDestroyed) || pt != nil {
						t.Fatalf("Decrypt = %q, %v; want ErrSubjectKeyDestroyed", pt, err)
					}
				}
			}
		})

		t.Run("CP-5.2: the wrapped key bytes are gone and a tombstone remains", func(t *testing.T) {
			var (
				w         []byte
				destroyed time.Time
			)
			err := d.QueryRowContext(ctx,
				`SELECT wrapped_key, destroyed_at FROM subject_keys WHERE subject_id = 'alice'`).Scan(&w, &destroyed)
			if err != nil {
				t.Fatal(err)
			}
			if w != nil || destroyed.IsZero() {
				t.Fatalf("wrapped_key = %x, destroyed_at = %v", w, destroyed)
			}
			rows, err := d.QueryContext(ctx, `SELECT wrapped_key FROM subject_keys`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var b []byte
				if err := rows.Scan(&b); err != nil {
					t.Fatal(err)
				}
				if len(b) > 0 && bytes.Contains(b, before) {
					t.Fatal("the destroyed wrapped key is still in the table")
				}
			}
		})

		t.Run("CP-5.2: other subjects are unaffected", func(t *testing.T) {
			if got := decrypt(t, other, d, "bob", email, bob); got != "bob@example.com" {
				t.Fatalf("got %q", got)
			}
		})

		t.Run("CP-5.2: no new key is made for an erased subject", func(t *testing.T) {
			err := d.Transact(ctx, func(tx *db.Tx) error {
				_, err := k.Encrypt(ctx, tx, "alice", email, []byte("again"))
				return err
			})
			if !errors.Is(err, crypto.ErrSubjectKeyDestroyed) {
				t.Fatalf("err = %v, want ErrSubjectKeyDestroyed", err)
			}
		})

		t.Run("destroying twice changes nothing", func(t *testing.T) {
			var first, second time.Time
			q := `SELECT destroyed_at FROM subject_keys WHERE subject_id = 'alice'`
			if err := d.QueryRowContext(ctx, q).Scan(&first); err != nil {
				t.Fatal(err)
			}
			destroy(t, other, d, "alice")
			if err := d.QueryRowContext(ctx, q).Scan(&second); err != nil {
				t.Fatal(err)
			}
			if !first.Equal(second) {
				t.Fatalf("destroyed_at moved from %v to %v", first, second)
			}
		})

		t.Run("CP-5.2: a subject with no key yet gets a tombstone", func(t *testing.T) {
			destroy(t, k, d, "carol")
			_, err := k.Decrypt(ctx, d, "carol", email, []byte("x"))
			if !errors.Is(err, crypto.ErrSubjectKeyDestroyed) {
				t.Fatalf("Decrypt err = %v", err)
			}
			err = d.Transact(ctx, func(tx *db.Tx) error {
				_, err := k.Encrypt(ctx, tx, "carol", email, []byte("x"))
				return err
			})
			if !errors.Is(err, crypto.ErrSubjectKeyDestroyed) {
				t.Fatalf("Encrypt err = %v", err)
			}
		})

		t.Run("destruction in a transaction applies within it", func(t *testing.T) {
			err := d.Transact(ctx, func(tx *db.Tx) error {
				if err := k.DestroySubjectKey(ctx, tx, "bob"); err != nil {
					return err
				}
				_, err := k.Decrypt(ctx, tx, "bob", email, bob)
				if !errors.Is(err, crypto.ErrSubjectKeyDestroyed) {
					return fmt.Errorf("err = %v, want ErrSubjectKeyDestroyed", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}

// TestDestroyedKeyLeavesNoTraceInSQLiteFile: CP-5.2, with secure_delete on
// and the WAL checkpointed at close, the wrapped key's bytes are nowhere in
// the database files.
func TestDestroyedKeyLeavesNoTraceInSQLiteFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "portico.db")
	d, err := db.Open(ctx, db.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := newKeyring(t, d)
	encrypt(t, k, d, "alice", email, "alice@example.com")
	encrypt(t, k, d, "bob", email, "bob@example.com")
	w := wrappedKey(t, d, "alice")
	destroy(t, k, d, "alice")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, w) {
			t.Fatalf("%s still holds the destroyed wrapped key", filepath.Base(f))
		}
	}
}

// TestConcurrentKeyCreation: two nodes encrypting for a new subject at the
// same moment end up with one key that both use.
func TestConcurrentKeyCreation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k1, path := newKeyring(t, d)
		k2 := openKeyring(t, d, path)
		const n = 8
		cts := make([][]byte, 2*n)
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range 2 * n {
			k := k1
			if i%2 == 1 {
				k = k2
			}
			wg.Go(func() {
				err := d.Transact(ctx, func(tx *db.Tx) error {
					var err error
					cts[i], err = k.Encrypt(ctx, tx, "racer", email, []byte(fmt.Sprint(i)))
					return err
				})
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i, ct := range cts {
			for _, k := range []*crypto.Keyring{k1, k2} {
				if got := decrypt(t, k, d, "racer", email, ct); got != fmt.Sprint(i) {
					t.Fatalf("ciphertext %d decrypts to %q", i, got)
				}
			}
		}
	})
}

// TestSecret: server secrets are 32 random bytes, the same on every node,
// stored only wrapped, and unchanged by a master key rotation.
func TestSecret(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k1, path := newKeyring(t, d)
		k2 := openKeyring(t, d, path)

		csrf, err := k1.Secret(ctx, "csrf")
		if err != nil {
			t.Fatal(err)
		}
		if len(csrf) != crypto.SecretSize || bytes.Equal(csrf, make([]byte, crypto.SecretSize)) {
			t.Fatalf("secret = %x", csrf)
		}
		again, err := k2.Secret(ctx, "csrf")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(csrf, again) {
			t.Fatal("two nodes see different secrets")
		}
		lookup, err := k2.Secret(ctx, "email-lookup")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(lookup, csrf) {
			t.Fatal("two names share a secret")
		}

		t.Run("CP-5.1: stored only wrapped", func(t *testing.T) {
			var w []byte
			if err := d.QueryRowContext(ctx, `SELECT wrapped FROM server_secrets WHERE name = 'csrf'`).Scan(&w); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(w, csrf) {
				t.Fatal("secret stored in clear")
			}
		})

		t.Run("callers cannot change the cached value", func(t *testing.T) {
			s, _ := k1.Secret(ctx, "csrf")
			s[0] ^= 0xff
			s2, _ := k1.Secret(ctx, "csrf")
			if !bytes.Equal(s2, csrf) {
				t.Fatal("cached secret was modified through a returned slice")
			}
		})

		t.Run("stable after rotation", func(t *testing.T) {
			if _, err := k2.Rotate(ctx, nil); err != nil {
				t.Fatal(err)
			}
			by := secretsWrappedBy(t, d)
			if by["csrf"] != k2.PrimaryKeyID() || by["email-lookup"] != k2.PrimaryKeyID() {
				t.Fatalf("secrets wrapped by %v, want %d", by, k2.PrimaryKeyID())
			}
			fresh := openKeyring(t, d, path)
			s, err := fresh.Secret(ctx, "csrf")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s, csrf) {
				t.Fatal("secret changed across rotation")
			}
			// A new secret made by the node that did not rotate uses
			// the new primary key.
			if _, err := k1.Secret(ctx, "later"); err != nil {
				t.Fatal(err)
			}
			if by := secretsWrappedBy(t, d); by["later"] != k2.PrimaryKeyID() {
				t.Fatalf("new secret wrapped by %d, want %d", by["later"], k2.PrimaryKeyID())
			}
		})
	})
}

func TestCacheIsBounded(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	k, _ := newKeyring(t, d, crypto.WithCacheSize(2))
	cts := map[string][]byte{}
	for _, s := range []string{"a", "b", "c", "d"} {
		cts[s] = encrypt(t, k, d, s, crypto.Field{Table: "t", Column: "c", Row: s}, s)
	}
	// Evicted keys are unwrapped again.
	for _, s := range []string{"a", "b", "c", "d", "a"} {
		if got := decrypt(t, k, d, s, crypto.Field{Table: "t", Column: "c", Row: s}, cts[s]); got != s {
			t.Fatalf("got %q", got)
		}
	}
	// And no cache at all works too.
	k0 := openKeyring(t, d, k.Path(), crypto.WithCacheSize(0))
	if got := decrypt(t, k0, d, "a", crypto.Field{Table: "t", Column: "c", Row: "a"}, cts["a"]); got != "a" {
		t.Fatalf("got %q", got)
	}
}
