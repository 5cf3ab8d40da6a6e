package crypto_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// The benchmarks measure one 64-byte field on SQLite with the subject's
// data key already unwrapped and cached: the cost a request pays per field,
// which is one indexed read of the subject's key row plus AES-256-GCM.

func BenchmarkEncrypt(b *testing.B) {
	ctx := context.Background()
	d := dbtest.SQLite(b, dbtest.Options{})
	k, _ := newKeyring(b, d)
	pt := bytes.Repeat([]byte("x"), 64)
	encrypt(b, k, d, "alice", email, string(pt)) // creates and caches the key
	b.SetBytes(int64(len(pt)))
	err := d.Transact(ctx, func(tx *db.Tx) error {
		for b.Loop() {
			if _, err := k.Encrypt(ctx, tx, "alice", email, pt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	ctx := context.Background()
	d := dbtest.SQLite(b, dbtest.Options{})
	k, _ := newKeyring(b, d)
	pt := bytes.Repeat([]byte("x"), 64)
	ct := encrypt(b, k, d, "alice", email, string(pt))
	decrypt(b, k, d, "alice", email, ct) // warm the cache
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := k.Decrypt(ctx, d, "alice", email, ct); err != nil {
			b.Fatal(err)
		}
	}
}
