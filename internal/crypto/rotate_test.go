package crypto_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

type sample struct {
	subject string
	field   crypto.Field
	pt      string
	ct      []byte
}

// populate encrypts one field for each of n subjects and makes two secrets.
func populate(t *testing.T, k *crypto.Keyring, d *db.DB, n int) []sample {
	t.Helper()
	var out []sample
	for i := range n {
		s := sample{subject: fmt.Sprintf("s%02d", i), pt: fmt.Sprintf("person %d", i)}
		s.field = crypto.Field{Table: "accounts", Column: "email_enc", Row: s.subject}
		s.ct = encrypt(t, k, d, s.subject, s.field, s.pt)
		out = append(out, s)
	}
	for _, name := range []string{"csrf", "email-lookup"} {
		if _, err := k.Secret(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func checkAllDecrypt(t *testing.T, k *crypto.Keyring, d *db.DB, samples []sample) {
	t.Helper()
	for _, s := range samples {
		if got := decrypt(t, k, d, s.subject, s.field, s.ct); got != s.pt {
			t.Fatalf("%s decrypts to %q", s.subject, got)
		}
	}
}

func checkAllUnder(t *testing.T, d *db.DB, primary uint32) {
	t.Helper()
	for id, by := range wrappedBy(t, d) {
		if by != primary {
			t.Fatalf("subject key %s wrapped by %d, want %d", id, by, primary)
		}
	}
	for name, by := range secretsWrappedBy(t, d) {
		if by != primary {
			t.Fatalf("secret %s wrapped by %d, want %d", name, by, primary)
		}
	}
}

// TestRotate: CP-5.1 / MTL-2.1.3, keys are rotatable. A rotation adds a new
// primary master key, re-wraps every subject key and secret under it, and
// leaves every old ciphertext readable.
func TestRotate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, path := newKeyring(t, d, crypto.WithRotateBatchSize(3))
		samples := populate(t, k, d, 7)
		destroy(t, k, d, "s03")
		samples = append(samples[:3], samples[4:]...)
		old := k.PrimaryKeyID()
		oldFile, _ := os.ReadFile(path)

		var out bytes.Buffer
		res, err := k.Rotate(ctx, &out)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("progress:\n%s", out.String())

		if res.Resumed || res.PreviousKeyID != old || res.PrimaryKeyID == old || res.MasterKeys != 2 {
			t.Fatalf("result = %+v (old primary %d)", res, old)
		}
		if res.SubjectKeys != 6 || res.Secrets != 2 {
			t.Fatalf("re-wrapped %d subject keys and %d secrets, want 6 and 2", res.SubjectKeys, res.Secrets)
		}
		if k.PrimaryKeyID() != res.PrimaryKeyID {
			t.Fatalf("keyring primary = %d, want %d", k.PrimaryKeyID(), res.PrimaryKeyID)
		}

		t.Run("CP-5.1: everything is re-wrapped by the new primary", func(t *testing.T) {
			checkAllUnder(t, d, res.PrimaryKeyID)
		})

		t.Run("CP-5.2: a destroyed key stays destroyed", func(t *testing.T) {
			if w := wrappedKey(t, d, "s03"); w != nil {
				t.Fatal("rotation brought back a destroyed key")
			}
		})

		t.Run("CP-5.1: old ciphertexts decrypt, also in a fresh process", func(t *testing.T) {
			checkAllDecrypt(t, k, d, samples)
			checkAllDecrypt(t, openKeyring(t, d, path), d, samples)
		})

		t.Run("new subject keys use the new primary", func(t *testing.T) {
			encrypt(t, k, d, "new", email, "n")
			if by := wrappedBy(t, d)["new"]; by != res.PrimaryKeyID {
				t.Fatalf("wrapped by %d, want %d", by, res.PrimaryKeyID)
			}
		})

		t.Run("progress is reported", func(t *testing.T) {
			for _, want := range []string{"added master key", "subject keys: 3/6", "subject keys: 6/6", "server secrets: 2/2", "done"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("progress lacks %q", want)
				}
			}
		})

		t.Run("the keyset file keeps the old key and stays owner-only", func(t *testing.T) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode = %v", fi.Mode().Perm())
			}
			if newFile, _ := os.ReadFile(path); bytes.Equal(newFile, oldFile) {
				t.Fatal("keyset file unchanged")
			}
			st, err := k.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := crypto.Status{Path: path, PrimaryKeyID: res.PrimaryKeyID, MasterKeys: 2,
				LiveSubjectKeys: 7, DestroyedSubjectKeys: 1, Secrets: 2, LastRotation: st.LastRotation}
			if st != want || st.LastRotation.IsZero() {
				t.Fatalf("status = %+v\nwant     %+v", st, want)
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != filepath.Base(path) && e.Name() != crypto.LedgerFileName {
					t.Fatalf("keyset directory holds %s: want only the keyset and the erasure ledger (no temporary or lock file)", e.Name())
				}
			}
		})

		t.Run("a second rotation adds a third key", func(t *testing.T) {
			res2, err := k.Rotate(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res2.Resumed || res2.MasterKeys != 3 || res2.PreviousKeyID != res.PrimaryKeyID {
				t.Fatalf("result = %+v", res2)
			}
			checkAllUnder(t, d, res2.PrimaryKeyID)
			checkAllDecrypt(t, openKeyring(t, d, path), d, samples)
		})
	})
}

// cancelAfter cancels its context when the n-th progress line about
// subject keys is written, simulating an interruption between batches.
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
	out    bytes.Buffer
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(p)
	if bytes.HasPrefix(p, []byte("subject keys:")) {
		c.n--
		if c.n == 0 {
			c.cancel()
		}
	}
	return len(p), nil
}

// TestRotateResumes: CP-5.1, an interrupted rotation is finished by the
// next run, which adds no further key; the run after that adds one.
func TestRotateResumes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		k, path := newKeyring(t, d, crypto.WithRotateBatchSize(2))
		samples := populate(t, k, d, 7)
		old := k.PrimaryKeyID()

		ctx, cancel := context.WithCancel(context.Background())
		w := &cancelAfter{n: 1, cancel: cancel}
		res, err := k.Rotate(ctx, w)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if !strings.Contains(err.Error(), "run it again") {
			t.Errorf("error does not say how to finish: %v", err)
		}
		if res.SubjectKeys != 2 {
			t.Fatalf("re-wrapped %d before the interruption, want 2", res.SubjectKeys)
		}
		primary := res.PrimaryKeyID

		bg := context.Background()
		st, err := k.Status(bg)
		if err != nil {
			t.Fatal(err)
		}
		if !st.RotationPending || st.NotUnderPrimary != 5+2 || st.MasterKeys != 2 || st.PrimaryKeyID != primary {
			t.Fatalf("status after interruption = %+v", st)
		}
		// Half-rotated data is readable, by this process and a new one.
		checkAllDecrypt(t, k, d, samples)
		checkAllDecrypt(t, openKeyring(t, d, path), d, samples)

		// A new process (as a second `portico keys rotate` would be)
		// finishes the job without adding a key.
		var out bytes.Buffer
		k2 := openKeyring(t, d, path, crypto.WithRotateBatchSize(2))
		res2, err := k2.Rotate(bg, &out)
		if err != nil {
			t.Fatal(err)
		}
		if !res2.Resumed || res2.PrimaryKeyID != primary || res2.PreviousKeyID != old || res2.MasterKeys != 2 {
			t.Fatalf("resumed result = %+v", res2)
		}
		if res2.SubjectKeys != 5 || res2.Secrets != 2 {
			t.Fatalf("resume re-wrapped %d subject keys and %d secrets, want 5 and 2", res2.SubjectKeys, res2.Secrets)
		}
		if !strings.Contains(out.String(), "resuming") {
			t.Errorf("progress does not say it resumed:\n%s", out.String())
		}
		checkAllUnder(t, d, primary)
		checkAllDecrypt(t, k2, d, samples)
		st, _ = k2.Status(bg)
		if st.RotationPending || st.NotUnderPrimary != 0 {
			t.Fatalf("status after resume = %+v", st)
		}

		res3, err := k2.Rotate(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res3.Resumed || res3.MasterKeys != 3 {
			t.Fatalf("next rotation = %+v, want a new key", res3)
		}
	})
}

// TestRotateAbandonsKeyNotInFile: a rotation recorded for a key that never
// reached the keyset file (a crash between the two writes) is abandoned and
// a new key is added.
func TestRotateAbandonsKeyNotInFile(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, _ := newKeyring(t, d)
		populate(t, k, d, 2)
		err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO key_rotations (key_id, previous_key_id, started_at) VALUES (12345, $1, $2)`,
				int64(k.PrimaryKeyID()), tx.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := k.Rotate(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Resumed || res.MasterKeys != 2 {
			t.Fatalf("result = %+v", res)
		}
		var outcome string
		if err := d.QueryRowContext(ctx, `SELECT outcome FROM key_rotations WHERE key_id = 12345`).Scan(&outcome); err != nil {
			t.Fatal(err)
		}
		if outcome != "abandoned" {
			t.Fatalf("outcome = %q", outcome)
		}
		checkAllUnder(t, d, res.PrimaryKeyID)
	})
}

// TestServerSurvivesRotationElsewhere: a server holding the keyset in memory
// keeps working after `portico keys rotate` ran in another process on the
// same database and keyset file.
func TestServerSurvivesRotationElsewhere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		server, path := newKeyring(t, d)
		samples := populate(t, server, d, 4)
		checkAllDecrypt(t, server, d, samples) // warm the cache
		old := server.PrimaryKeyID()

		cli := openKeyring(t, d, path)
		res, err := cli.Rotate(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}

		t.Run("CP-5.1: re-wrapped keys still open", func(t *testing.T) {
			checkAllDecrypt(t, server, d, samples)
			if server.PrimaryKeyID() != res.PrimaryKeyID {
				t.Fatalf("server primary = %d, want %d (file not reloaded)", server.PrimaryKeyID(), res.PrimaryKeyID)
			}
		})

		t.Run("CP-5.1: new keys are wrapped by the new primary", func(t *testing.T) {
			// A fresh server that has not yet unwrapped anything must
			// notice the change on its first wrap.
			stale := openKeyring(t, d, path)
			res2, err := cli.Rotate(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			encrypt(t, stale, d, "after", email, "x")
			if by := wrappedBy(t, d)["after"]; by != res2.PrimaryKeyID || by == old {
				t.Fatalf("new key wrapped by %d, want %d", by, res2.PrimaryKeyID)
			}
		})

		t.Run("refuses a replaced keyset that lacks a key in use", func(t *testing.T) {
			if _, err := server.Status(ctx); err != nil {
				t.Fatal(err)
			}
			checkAllDecrypt(t, server, d, samples)
			other := newKeyset(t)
			b, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = server.Status(ctx)
			if !errors.Is(err, crypto.ErrInvalidKeyset) || !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), "no longer holds master key") {
				t.Fatalf("err = %v", err)
			}
			// The keys in memory keep serving what they can.
			checkAllDecrypt(t, server, d, samples)
		})
	})
}
