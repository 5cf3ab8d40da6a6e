package crypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico/portico/internal/dbtest"
)

// TestAssociatedDataIsUnambiguous: MTL-2.1.3, the encoding that binds a
// ciphertext to its place cannot be made to collide by moving bytes between
// parts.
func TestAssociatedDataIsUnambiguous(t *testing.T) {
	pairs := [][2][]byte{
		{fieldAD("s", Field{"ab", "c", "r"}), fieldAD("s", Field{"a", "bc", "r"})},
		{fieldAD("s1", Field{"t", "c", "r"}), fieldAD("s", Field{"1t", "c", "r"})},
		{fieldAD("s", Field{"t", "c", "r"}), subjectKeyAD("s")},
		{secretAD("s"), subjectKeyAD("s")},
	}
	for i, p := range pairs {
		if bytes.Equal(p[0], p[1]) {
			t.Errorf("pair %d encodes identically: %x", i, p[0])
		}
	}
}

func TestKeyCacheBound(t *testing.T) {
	c := newKeyCache(2)
	var h [sha256.Size]byte
	for _, s := range []string{"a", "b", "c"} {
		c.put(s, h, nil)
	}
	if n := c.len(); n != 2 {
		t.Fatalf("len = %d, want 2", n)
	}
	if _, ok := c.items["a"]; ok {
		t.Fatal("least recently used entry kept")
	}
	c.drop("b")
	if n := c.len(); n != 1 {
		t.Fatalf("len after drop = %d", n)
	}
}

// TestRotateRefusesWhileLocked: a second rotation cannot rewrite the keyset
// file while another holds its lock, so no added key is ever lost; and the
// lock is gone once its holder lets go, leaving no file behind (CP-5.1).
func TestRotateRefusesWhileLocked(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	path := filepath.Join(t.TempDir(), "keys", KeysetFileName)
	if err := CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	k, err := Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockKeysetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, err = k.Rotate(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "another `portico keys rotate` is running") {
		t.Fatalf("err = %v, want it refused as locked", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("keyset file changed")
	}
	unlock()
	if _, err := k.Rotate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("keyset directory holds %d entries, want only the keyset", len(entries))
	}
}
