package backup_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/backup"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/support"
)

const pw = "correct horse battery staple 42"

type node struct {
	d    *db.DB
	keys *crypto.Keyring
	id   *identity.Service
	desk *support.Service
	priv *privacy.Service
	log  *audit.Log
}

func newNode(t *testing.T, d *db.DB, keyset string) *node {
	t.Helper()
	keys, err := crypto.Open(d, keyset)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := policy.Builtin(policy.Default)
	p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	p.Privacy.ErasureGrace = policy.Duration{}
	pwc, _ := password.New(p.Password, "")
	t.Cleanup(func() { pwc.Close() })
	log := audit.New(d)
	id, err := identity.New(identity.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Passwords: pwc})
	if err != nil {
		t.Fatal(err)
	}
	desk, _ := support.New(support.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id})
	priv, _ := privacy.New(privacy.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id, Support: desk})
	return &node{d: d, keys: keys, id: id, desk: desk, priv: priv, log: log}
}

// fresh returns an empty database of the same dialect as d.
func fresh(t *testing.T, d *db.DB) *db.DB {
	t.Helper()
	if d.Dialect() == db.Postgres {
		return dbtest.Postgres(t, dbtest.Options{NoMigrate: true})
	}
	return dbtest.SQLite(t, dbtest.Options{NoMigrate: true})
}

// TestBackupRoundTrip: a backup restores into an empty database with every
// row, the audit chain verifies and the data reads back; a damaged file,
// another keyset and a non-empty target are refused with clear errors
// (MTL-1.1, CP-5.1).
func TestBackupRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keyset := filepath.Join(t.TempDir(), crypto.KeysetFileName)
		if err := crypto.CreateMasterKeyset(keyset); err != nil {
			t.Fatal(err)
		}
		n := newNode(t, d, keyset)
		a, err := n.id.CreateAccount(ctx, identity.NewAccount{Email: "kept@example.com", Name: "Kept Person", Role: access.RoleCustomer, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		p := access.Principal{AccountID: a.ID, Role: access.RoleCustomer, Stage: access.StageDone}
		if _, err := n.desk.Open(ctx, p, "Backed up ticket", "Body text SECRET-BODY", nil); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		m, err := backup.Create(ctx, d, n.keys, "test", &buf)
		if err != nil {
			t.Fatal(err)
		}
		if m.Tables["accounts"] != 1 || m.Tables["tickets"] != 1 || m.SealedSHA256 == "" {
			t.Fatalf("manifest %+v", m)
		}
		if bytes.Contains(buf.Bytes(), []byte("SECRET-BODY")) || bytes.Contains(buf.Bytes(), []byte("Backed up ticket")) {
			t.Fatal("the backup holds data in clear")
		}

		t.Run("damaged file", func(t *testing.T) {
			b := bytes.Clone(buf.Bytes())
			b[len(b)-1] ^= 1
			if _, err := backup.Restore(ctx, fresh(t, d), keyset, bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "checksum") {
				t.Errorf("damaged: %v", err)
			}
		})
		t.Run("another keyset", func(t *testing.T) {
			other := filepath.Join(t.TempDir(), crypto.KeysetFileName)
			crypto.CreateMasterKeyset(other)
			if _, err := backup.Restore(ctx, fresh(t, d), other, bytes.NewReader(buf.Bytes())); !errors.Is(err, crypto.ErrBackupKey) {
				t.Errorf("another keyset: %v", err)
			}
		})
		t.Run("non-empty target", func(t *testing.T) {
			if _, err := backup.Restore(ctx, d, keyset, bytes.NewReader(buf.Bytes())); !errors.Is(err, backup.ErrNotEmpty) {
				t.Errorf("non-empty: %v", err)
			}
		})

		target := fresh(t, d)
		res, err := backup.Restore(ctx, target, keyset, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows == 0 {
			t.Fatal("no rows restored")
		}
		r := newNode(t, target, keyset)
		if v, err := r.log.Verify(ctx, audit.VerifyOptions{}); err != nil || !v.OK {
			t.Fatalf("restored chain: %+v %v", v, err)
		}
		if name, err := r.id.Name(ctx, a.ID); err != nil || name != "Kept Person" {
			t.Errorf("restored name %q %v", name, err)
		}
		if got, err := r.id.FindByEmail(ctx, "kept@example.com"); err != nil || got.ID != a.ID {
			t.Errorf("restored lookup: %v", err)
		}
		own, _ := r.desk.ListOwn(ctx, p)
		if len(own) != 1 || own[0].Subject != "Backed up ticket" {
			t.Errorf("restored tickets %+v", own)
		}
		mm, err := backup.ReadManifest(bufio.NewReader(bytes.NewReader(buf.Bytes())))
		if err != nil || mm.SealedSHA256 != m.SealedSHA256 {
			t.Errorf("manifest read back: %v", err)
		}
	})
}

// TestErasureSurvivesRestore is the crypto-shredding proof: a backup taken
// before a customer's erasure, restored afterwards, gives nothing of them
// back: no account to sign in with, no decryptable field, no export
// (CP-11.1, CP-5.2).
func TestErasureSurvivesRestore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keyset := filepath.Join(t.TempDir(), crypto.KeysetFileName)
		crypto.CreateMasterKeyset(keyset)
		n := newNode(t, d, keyset)
		gone, _ := n.id.CreateAccount(ctx, identity.NewAccount{Email: "gone@example.com", Name: "Gone Person", Role: access.RoleCustomer, Password: pw})
		kept, _ := n.id.CreateAccount(ctx, identity.NewAccount{Email: "kept@example.com", Name: "Kept Person", Role: access.RoleCustomer, Password: pw})
		var before bytes.Buffer
		if _, err := backup.Create(ctx, d, n.keys, "test", &before); err != nil {
			t.Fatal(err)
		}
		// The erasure, after the backup.
		if _, err := n.priv.RequestErasure(ctx, access.Principal{AccountID: gone.ID, Role: access.RoleCustomer, Stage: access.StageDone}); err != nil {
			t.Fatal(err)
		}
		if c, err := n.priv.RunDueErasures(ctx); err != nil || c != 1 {
			t.Fatalf("erasure: %d %v", c, err)
		}
		target := fresh(t, d)
		res, err := backup.Restore(ctx, target, keyset, bytes.NewReader(before.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if res.Erased != 1 {
			t.Errorf("erasures re-applied: %d", res.Erased)
		}
		r := newNode(t, target, keyset)
		if _, err := r.id.FindByEmail(ctx, "gone@example.com"); err == nil {
			t.Error("the erased account is back")
		}
		if _, err := r.id.Login(ctx, identity.Credentials{Email: "gone@example.com", Password: pw, IP: "192.0.2.1", UserAgent: "t"}); err == nil {
			t.Error("the erased person signs in after the restore")
		}
		if _, err := r.priv.Archive(ctx, gone.ID); err == nil {
			t.Error("an export of the erased person works")
		}
		var wrapped []byte
		target.QueryRowContext(ctx, `SELECT wrapped_key FROM subject_keys WHERE subject_id = $1`, gone.ID).Scan(&wrapped)
		if wrapped != nil {
			t.Error("the erased person's data key is in the restored database")
		}
		if name, err := r.id.Name(ctx, kept.ID); err != nil || name != "Kept Person" {
			t.Errorf("the other customer: %q %v", name, err)
		}
		if v, err := r.log.Verify(ctx, audit.VerifyOptions{}); err != nil || !v.OK {
			t.Errorf("restored chain: %+v %v", v, err)
		}
		_ = os.Remove
	})
}
