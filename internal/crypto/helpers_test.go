package crypto_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// newKeyset creates a master keyset in a fresh directory and returns its path.
func newKeyset(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// newKeyring opens a keyring over d with a fresh master keyset.
func newKeyring(t testing.TB, d *db.DB, opts ...crypto.Option) (*crypto.Keyring, string) {
	t.Helper()
	path := newKeyset(t)
	return openKeyring(t, d, path, opts...), path
}

func openKeyring(t testing.TB, d *db.DB, path string, opts ...crypto.Option) *crypto.Keyring {
	t.Helper()
	k, err := crypto.Open(d, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// encrypt encrypts in its own transaction.
func encrypt(t testing.TB, k *crypto.Keyring, d *db.DB, subject string, f crypto.Field, pt string) []byte {
	t.Helper()
	var ct []byte
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		var err error
		ct, err = k.Encrypt(context.Background(), tx, subject, f, []byte(pt))
		return err
	})
	if err != nil {
		t.Fatalf("encrypt %s %v: %v", subject, f, err)
	}
	return ct
}

func decrypt(t testing.TB, k *crypto.Keyring, d *db.DB, subject string, f crypto.Field, ct []byte) string {
	t.Helper()
	pt, err := k.Decrypt(context.Background(), d, subject, f, ct)
	if err != nil {
		t.Fatalf("decrypt %s %v: %v", subject, f, err)
	}
	return string(pt)
}

func destroy(t testing.TB, k *crypto.Keyring, d *db.DB, subject string) {
	t.Helper()
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		return k.DestroySubjectKey(context.Background(), tx, subject)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wrappedBy returns subject_id -> wrapped_by for the live subject keys.
func wrappedBy(t testing.TB, d *db.DB) map[string]uint32 {
	t.Helper()
	rows, err := d.QueryContext(context.Background(),
		`SELECT subject_id, wrapped_by FROM subject_keys WHERE destroyed_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint32{}
	for rows.Next() {
		var id string
		var by int64
		if err := rows.Scan(&id, &by); err != nil {
			t.Fatal(err)
		}
		out[id] = uint32(by)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func secretsWrappedBy(t testing.TB, d *db.DB) map[string]uint32 {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), `SELECT name, wrapped_by FROM server_secrets`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint32{}
	for rows.Next() {
		var name string
		var by int64
		if err := rows.Scan(&name, &by); err != nil {
			t.Fatal(err)
		}
		out[name] = uint32(by)
	}
	return out
}

func wrappedKey(t testing.TB, d *db.DB, subject string) []byte {
	t.Helper()
	var w []byte
	if err := d.QueryRowContext(context.Background(),
		`SELECT wrapped_key FROM subject_keys WHERE subject_id = $1`, subject).Scan(&w); err != nil {
		t.Fatal(err)
	}
	return w
}
