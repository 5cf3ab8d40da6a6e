package crypto

import (
	"bytes"
	"crypto/sha256"
	"testing"
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
