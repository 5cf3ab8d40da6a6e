package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
)

// Token purposes.
const (
	purposeVerifyEmail   = "verify_email"
	purposeResetPassword = "reset_password"
)

// Lifetimes of the single-use links sent by mail.
const (
	// VerifyLinkTTL: a day to confirm an address; the unconfirmed
	// account is deleted after the profile's retention for unverified
	// sign-ups.
	VerifyLinkTTL = 24 * time.Hour
	// ResetLinkTTL: 30 minutes, so that a reset link found in an old
	// mailbox is useless (CP-4.3).
	ResetLinkTTL = 30 * time.Minute
)

// errBadLink is the one answer for an unknown, used or expired link: the
// link's owner learns nothing more by trying others.
var errBadLink = apperr.New(apperr.Invalid, "This link is not valid: it may have expired or already been used. Ask for a new one.")

// issueToken creates a single-use token for an account and returns the
// token to put in the link. Only its SHA-256 is stored; earlier unused
// tokens of the same purpose are voided, so only the newest link works.
func issueToken(ctx context.Context, tx *db.Tx, accountID, purpose string, ttl time.Duration) (string, error) {
	token := rand.Text() + rand.Text() // 260 bits
	sum := sha256.Sum256([]byte(token))
	now := tx.Now()
	if _, err := tx.ExecContext(ctx,
		`UPDATE account_tokens SET used_at = $1 WHERE account_id = $2 AND purpose = $3 AND used_at IS NULL`,
		now, accountID, purpose); err != nil {
		return "", err
	}
	_, err := tx.ExecContext(ctx,
		`INSERT INTO account_tokens (id, token_hash, account_id, purpose, created_at, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6)`,
		newID(), sum[:], accountID, purpose, now, now.Add(ttl))
	return token, err
}

// tokenHash is how a token is stored.
func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// consumeToken marks a token used and returns its account. It fails the
// same way for a token that never existed, was used, expired, or has
// another purpose. The lookup is by hash: the token has 260 bits, so the
// hash is as unguessable as the token and no comparison leaks anything.
func consumeToken(ctx context.Context, tx *db.Tx, token, purpose string) (string, error) {
	if len(token) != 52 {
		return "", errBadLink
	}
	sum := sha256.Sum256([]byte(token))
	var id, accountID, gotPurpose string
	var expires time.Time
	var used sql.NullTime
	err := tx.QueryRowContext(ctx,
		`SELECT id, account_id, purpose, expires_at, used_at FROM account_tokens WHERE token_hash = $1`, sum[:]).
		Scan(&id, &accountID, &gotPurpose, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errBadLink
	}
	if err != nil {
		return "", err
	}
	if gotPurpose != purpose || used.Valid || !tx.Now().Before(expires) {
		return "", errBadLink
	}
	res, err := tx.ExecContext(ctx, `UPDATE account_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, tx.Now(), id)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", errBadLink // used by a concurrent request
	}
	return accountID, nil
}

// tokenAccount returns the account of a currently valid token without
// using it: the page behind a link shows a form (no state change on GET),
// and the POST spends the token.
func tokenAccount(ctx context.Context, q rowQuerier, token, purpose string, now time.Time) (string, bool) {
	if len(token) != 52 {
		return "", false
	}
	var id string
	err := q.QueryRowContext(ctx,
		`SELECT account_id FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3`,
		tokenHash(token), purpose, now).Scan(&id)
	return id, err == nil
}

// peekToken reports whether a token is currently valid.
func peekToken(ctx context.Context, q rowQuerier, token, purpose string, now time.Time) bool {
	_, ok := tokenAccount(ctx, q, token, purpose, now)
	return ok
}
