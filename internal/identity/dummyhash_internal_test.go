package identity

import (
	"strings"
	"testing"
)

// TestDummyHashCostsWhatARealHashCosts guards the timing equalisation of
// CP-8.2: the hash verified for an unknown address carries the profile's
// argon2 parameters and key length, so verifying against it runs the same
// argon2 as a real account's hash, and it matches no password.
func TestDummyHashCostsWhatARealHashCosts(t *testing.T) {
	p := Argon2Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1}
	dummy, err := dummyHash(p)
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := HashPassword("amber quokka lintel harp", p)
	if err != nil {
		t.Fatal(err)
	}
	d, r := strings.Split(dummy, "$"), strings.Split(genuine, "$")
	if len(d) != len(r) || d[1] != r[1] || d[2] != r[2] || d[3] != r[3] {
		t.Fatalf("dummy hash %q has other parameters than a real one %q", dummy, genuine)
	}
	if len(d[4]) != len(r[4]) || len(d[5]) != len(r[5]) {
		t.Fatalf("dummy salt or key length differs: %q vs %q", dummy, genuine)
	}
	for _, pw := range []string{"", "amber quokka lintel harp", "password"} {
		ok, rehash, err := VerifyPassword(pw, dummy, p)
		if ok || rehash || err != nil {
			t.Fatalf("VerifyPassword(%q, dummy) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
	if again, _ := dummyHash(p); again == dummy {
		t.Fatal("two dummy hashes are equal: salt and key must be random")
	}
	if _, err := dummyHash(Argon2Params{}); err == nil {
		t.Fatal("zero parameters accepted")
	}
}
