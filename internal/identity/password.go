package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are the argon2id cost parameters. They come from the policy
// profile; tests set cheap ones through the same profile override file.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword hashes a password with argon2id and a random salt, encoded
// in the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so
// that the parameters travel with the hash and can change later.
//
// Enforces CP-4.3, MTL-3.1.1: passwords are stored only as salted,
// memory-hard hashes. The password is normalised to NFKC first, so the same
// password typed on different keyboards matches; it is never truncated or
// case-folded.
func HashPassword(password string, p Argon2Params) (string, error) {
	if p.MemoryKiB == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return "", errors.New("argon2 parameters must not be zero")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(norm.NFKC.String(password)), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks a password against an encoded hash in constant
// time. needsRehash is true when the hash was made with other parameters
// than p, so the caller can upgrade it after a successful sign-in.
func VerifyPassword(password, encoded string, p Argon2Params) (ok, needsRehash bool, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, false, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false, errors.New("unsupported argon2 version")
	}
	got, err := parseParams(parts[3])
	if err != nil {
		return false, false, err
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, false, errors.New("malformed salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, false, errors.New("malformed hash")
	}
	key := argon2.IDKey([]byte(norm.NFKC.String(password)), salt, got.Iterations, got.MemoryKiB, got.Parallelism, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(key, want) == 1
	return ok, ok && got != p, nil
}

// parseParams reads the "m=...,t=...,p=..." part of an encoded hash and
// checks that it is in range.
func parseParams(s string) (Argon2Params, error) {
	var got Argon2Params
	if _, err := fmt.Sscanf(s, "m=%d,t=%d,p=%d", &got.MemoryKiB, &got.Iterations, &got.Parallelism); err != nil {
		return got, errors.New("malformed argon2 parameters")
	}
	if got.MemoryKiB == 0 || got.Iterations == 0 || got.Parallelism == 0 || got.MemoryKiB > 4<<20 || got.Iterations > 64 {
		return got, errors.New("argon2 parameters out of range")
	}
	return got, nil
}

// hashMemory is the argon2 memory, in bytes, that verifying against
// encoded takes (0 when it is malformed: then nothing is computed).
func hashMemory(encoded string) int64 {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return 0
	}
	p, err := parseParams(parts[3])
	if err != nil {
		return 0
	}
	return p.bytes()
}

// bytes is the memory one argon2 computation with p takes.
func (p Argon2Params) bytes() int64 { return int64(p.MemoryKiB) * 1024 }
