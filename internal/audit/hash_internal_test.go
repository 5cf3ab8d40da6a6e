package audit

import (
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

// TestCanonicalHashIsStable pins the canonical encoding (hash.go). The
// expected hash was computed by an independent implementation of the
// documented encoding. If this test fails, every stored chain would stop
// verifying: change the encoding only with a new version tag and a way to
// verify the old one (CP-5.3, MTL-1.1).
func TestCanonicalHashIsStable(t *testing.T) {
	prev := make([]byte, 32)
	for i := range prev {
		prev[i] = byte(i)
	}
	r := Record{
		Seq:       42,
		At:        time.Date(2026, 3, 1, 13, 30, 0, 123456000, time.FixedZone("CET", 3600)),
		Actor:     "account:01J",
		Action:    "account.create",
		Target:    "account:01K",
		Outcome:   Success,
		IP:        "203.0.113.9",
		UserAgent: `Firefox/140 "é"`,
		RequestID: "req-1",
		Details:   json.RawMessage(`{"role":"customer"}`),
		PrevHash:  prev,
	}
	const want = "f0678cc47082d00b82faa24f8163fc5a68b671762e638924490cb837c3869ac9"
	if got := hex.EncodeToString(r.computeHash()); got != want {
		t.Fatalf("hash = %s, want %s", got, want)
	}
}

// TestCanonicalEncodingIsUnambiguous: moving bytes from one field to the
// next changes the hash (the length prefixes keep fields apart).
func TestCanonicalEncodingIsUnambiguous(t *testing.T) {
	a := Record{Seq: 1, PrevHash: make([]byte, 32), Actor: "ab", Action: "c", Details: json.RawMessage("{}")}
	b := a
	b.Actor, b.Action = "a", "bc"
	if hex.EncodeToString(a.computeHash()) == hex.EncodeToString(b.computeHash()) {
		t.Fatal("two different events hash alike")
	}
}
