// Package cryptotest gives tests a real keyring: a fresh master keyset in
// the test's temporary directory, opened over the test's database.
package cryptotest

import (
	"path/filepath"
	"testing"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// Keyring creates a master keyset in t.TempDir() and opens it over d.
func Keyring(t testing.TB, d *db.DB) *crypto.Keyring {
	t.Helper()
	path := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	k, err := crypto.Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
