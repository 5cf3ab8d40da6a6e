// Package apitoken holds staff's personal access tokens for the JSON API
// (CP-6.3): scoped to a subset of the holder's permissions, expiring,
// shown once, stored as hashes, revocable, with last use recorded.
//
// SKELETON: the exported signatures below are the contract that the web
// layer is written against; the API-token work fills them.
package apitoken

import (
	"context"
	"errors"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// Token is a personal access token as its holder sees it (never the secret).
type Token struct {
	ID         string
	AccountID  string
	Role       access.Role // the holder's role when it was made; a role change voids it
	Name       string
	Scopes     []access.Permission
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero: never used
	LastUsedIP string    // decrypted for the holder's list only
	RevokedAt  time.Time
}

// ErrNoToken is the one answer to every bearer value that does not open a
// live token: malformed, unknown, wrong secret, revoked or expired.
var ErrNoToken = apperr.New(apperr.Unauthorized, "The API token is missing, invalid, expired or revoked.")

// Deps are what the token store works with.
type Deps struct {
	DB      *db.DB
	Keys    *crypto.Keyring
	Audit   *audit.Log
	Profile policy.Profile
}

// Store keeps personal access tokens.
type Store struct {
	d Deps
}

// New returns a token store.
func New(d Deps) (*Store, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil {
		return nil, errors.New("apitoken: DB, Keys and Audit are required")
	}
	return &Store{d: d}, nil
}

// Authenticate returns the live token that raw (the bearer value) opens,
// and records its use from ip; ErrNoToken otherwise.
func (s *Store) Authenticate(ctx context.Context, raw, ip string) (Token, error) {
	return Token{}, ErrNoToken
}
