// Package apitoken holds staff's personal access tokens for the JSON API
// (CP-6.3): scoped to a subset of the holder's permissions, expiring,
// shown once, stored as hashes, revocable, with their last use recorded.
//
// A token is "ptk_" + id + "_" + secret, two independent 130-bit values
// from crypto/rand; the database keeps the id and the SHA-256 of the secret,
// compared in constant time. Authenticate runs on every API request and
// writes only when the last use is more than a minute old or the request
// comes from a network new to the token (audited as token.new_network, for
// detection: see networks.go). Whether the
// holder may still act (active, same role, MFA, no training or password
// change due) is checked on every request by identity.TokenStage.
package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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
	// Epoch is the holder's credentials epoch when the token was made,
	// taken from the session that made it: a reset of the account's
	// credentials moves the account's epoch past it and the token dies.
	Epoch int64
}

// Live reports whether the token still opens at now.
func (t Token) Live(now time.Time) bool { return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) }

// ErrNoToken is the one answer to every bearer value that does not open a
// live token: malformed, unknown, wrong secret, revoked or expired.
var ErrNoToken = apperr.New(apperr.Unauthorized, "The API token is missing, invalid, expired or revoked.")

// Deps are what the token store works with.
type Deps struct {
	DB      *db.DB
	Keys    *crypto.Keyring
	Audit   *audit.Log
	Profile policy.Profile
	// Created, when set, is called in the transaction that creates a
	// token: the holder is told of every new token (a security notice in
	// the portal and by email), as of a new second factor.
	Created func(ctx context.Context, tx *db.Tx, t Token) error
}

// Store keeps personal access tokens.
type Store struct {
	db      *db.DB
	keys    *crypto.Keyring
	audit   *audit.Log
	profile policy.Profile
	created func(ctx context.Context, tx *db.Tx, t Token) error
	netKey  []byte // keys the hashes of the networks a token was used from
}

// New returns a token store.
func New(d Deps) (*Store, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil {
		return nil, errors.New("apitoken: DB, Keys and Audit are required")
	}
	netKey, err := d.Keys.Secret(context.Background(), networkSecret)
	if err != nil {
		return nil, fmt.Errorf("apitoken: secret %s: %w", networkSecret, err)
	}
	return &Store{db: d.DB, keys: d.Keys, audit: d.Audit, profile: d.Profile, created: d.Created, netKey: netKey}, nil
}

const (
	prefix  = "ptk_"
	partLen = 26
	rawLen  = len(prefix) + 2*partLen + 1
	// touchInterval bounds the writes of last use: one a minute per token.
	touchInterval = time.Minute
)

func newPart() string { return strings.ToLower(rand.Text()) }

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func split(raw string) (id, secret string, ok bool) {
	if len(raw) != rawLen || !strings.HasPrefix(raw, prefix) || raw[len(prefix)+partLen] != '_' {
		return "", "", false
	}
	id, secret = raw[len(prefix):len(prefix)+partLen], raw[len(prefix)+partLen+1:]
	for _, p := range []string{id, secret} {
		for i := 0; i < len(p); i++ {
			if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				return "", "", false
			}
		}
	}
	return id, secret, true
}

func ipField(id string) crypto.Field {
	return crypto.Field{Table: "api_tokens", Column: "last_used_ip_enc", Row: id}
}

// Create makes a token for holder and returns it once, in clear.
//
// Enforces CP-6.3: only staff hold tokens, made from a signed-in session
// that re-authenticated within the step-up window (a stolen session cannot
// quietly mint a credential that outlives it); every scope must be a
// permission of the holder's role and none may be sensitive (a token
// cannot step up); the lifetime is bounded by the profile; the secret is
// stored hashed; the token inherits the creating session's credentials
// epoch, so that it dies with that session's credentials; the holder is
// told.
func (s *Store) Create(ctx context.Context, holder access.Principal, name string, scopes []access.Permission, lifetime time.Duration) (string, Token, error) {
	if !holder.Role.IsStaff() || !access.Has(holder.Role, access.TokenCreate) || holder.ViaToken() || holder.AccountID == "" || holder.SessionID == "" {
		return "", Token{}, apperr.New(apperr.Forbidden, "Only staff may create API tokens, from a signed-in session.")
	}
	if !holder.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
		return "", Token{}, apperr.New(apperr.Forbidden, "Confirm your password first: creating an API token needs a fresh sign-in.")
	}
	name = strings.Join(strings.Fields(name), " ")
	if n := utf8.RuneCountInString(name); n < 1 || n > 60 {
		return "", Token{}, apperr.New(apperr.Invalid, "Give the token a name of 1 to 60 characters, so you recognise it later.")
	}
	if len(scopes) == 0 {
		return "", Token{}, apperr.New(apperr.Invalid, "Choose at least one permission for the token.")
	}
	seen := map[access.Permission]bool{}
	var clean []access.Permission
	for _, p := range scopes {
		switch {
		case access.Sensitive(p):
			return "", Token{}, apperr.Errorf(apperr.Invalid, "%s needs a fresh sign-in each time, so no token can hold it.", p)
		case !access.Has(holder.Role, p):
			return "", Token{}, apperr.Errorf(apperr.Invalid, "Your role does not hold %s, so your token cannot either.", p)
		case !seen[p]:
			seen[p] = true
			clean = append(clean, p)
		}
	}
	maxLife := s.profile.Access.APITokenMaxLifetime.Duration
	if lifetime < 24*time.Hour || lifetime > maxLife {
		return "", Token{}, apperr.Errorf(apperr.Invalid, "A token lasts between 1 and %d days.", int(maxLife/(24*time.Hour)))
	}
	id, secret := newPart(), newPart()
	t := Token{ID: id, AccountID: holder.AccountID, Role: holder.Role, Name: name, Scopes: clean}
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		t.CreatedAt = tx.Now()
		t.ExpiresAt = t.CreatedAt.Add(lifetime)
		// The creating session must still be live, and its epoch is the
		// token's: read in this transaction, so a reset of the account's
		// credentials that commits first leaves nothing to inherit.
		err := tx.QueryRowContext(ctx,
			`SELECT credentials_epoch FROM sessions WHERE id = $1 AND account_id = $2 AND ended_at IS NULL`,
			holder.SessionID, holder.AccountID).Scan(&t.Epoch)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.Unauthorized, "Your session has ended. Please sign in again.")
		}
		if err != nil {
			return fmt.Errorf("apitoken: read session: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO api_tokens (id, secret_hash, account_id, role, name, scopes, created_at, expires_at, credentials_epoch)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			id, hashSecret(secret), t.AccountID, string(t.Role), t.Name, joinScopes(clean), t.CreatedAt, t.ExpiresAt, t.Epoch); err != nil {
			return fmt.Errorf("apitoken: insert: %w", err)
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "token.create", Target: "token:" + id, Outcome: audit.Success,
			Details: map[string]any{"account": t.AccountID, "scopes": joinScopes(clean), "expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		if s.created != nil {
			return s.created(ctx, tx, t)
		}
		return nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return prefix + id + "_" + secret, t, nil
}

func joinScopes(ps []access.Permission) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return strings.Join(out, " ")
}

func splitScopes(s string) []access.Permission {
	var out []access.Permission
	for _, f := range strings.Fields(s) {
		out = append(out, access.Permission(f))
	}
	return out
}

// Authenticate returns the live token that raw (the bearer value) opens,
// and records its use from ip; ErrNoToken otherwise. Errors other than
// ErrNoToken are internal.
//
// Enforces CP-6.3: a token issued before its holder's credentials epoch
// (a password reset or change, "sign out everywhere", an administrator's
// "end sessions", a risk sign-out, a suspicious-activity report) is
// refused, on every node, from the moment the epoch moved.
//
// The request that finds nothing to record (a use within the minute, from
// a network the token knows) costs one read and no write.
func (s *Store) Authenticate(ctx context.Context, raw, ip string) (Token, error) {
	id, secret, ok := split(raw)
	if !ok {
		return Token{}, ErrNoToken
	}
	var (
		t      = Token{ID: id}
		stored []byte
		role   string
		scopes string
		last   sql.NullTime
		revok  sql.NullTime
		epoch  int64
		nets   string
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT t.secret_hash, t.account_id, t.role, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
		        t.credentials_epoch, a.credentials_epoch, t.networks
		 FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1`, id).
		Scan(&stored, &t.AccountID, &role, &t.Name, &scopes, &t.CreatedAt, &t.ExpiresAt, &last, &revok, &t.Epoch, &epoch, &nets)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNoToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("apitoken: read: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hashSecret(secret)) != 1 {
		return Token{}, ErrNoToken
	}
	t.Role, t.Scopes, t.LastUsedAt, t.RevokedAt = access.Role(role), splitScopes(scopes), last.Time, revok.Time
	now := s.db.Now()
	if !t.Live(now) || t.Epoch < epoch {
		return Token{}, ErrNoToken
	}
	net := s.networkMAC(ip)
	newNet := net != "" && !knownNetwork(nets, net)
	if newNet || now.Sub(t.LastUsedAt) >= touchInterval {
		switch err := s.recordUse(ctx, t, ip, net); {
		case err == nil:
			t.LastUsedAt = now
		case newNet || db.FaultOf(err) == "":
			// A use from a new network is a security event
			// (token.new_network): the request waits until it is
			// recorded.
			return Token{}, fmt.Errorf("apitoken: record use: %w", err)
		default:
			// Enforces MTL-1.1 (availability): while the disk is full
			// or read-only, a known network's last-use mark is best
			// effort, so that API reads go on.
		}
	}
	return t, nil
}

// List returns the holder's tokens, newest first, with the last address
// used decrypted.
func (s *Store) List(ctx context.Context, accountID string) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, role, name, scopes, created_at, expires_at, last_used_at, last_used_ip_enc, revoked_at FROM api_tokens
		 WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	var encs [][]byte
	for rows.Next() {
		t := Token{AccountID: accountID}
		var role, scopes string
		var last, revok sql.NullTime
		var enc []byte
		if err := rows.Scan(&t.ID, &role, &t.Name, &scopes, &t.CreatedAt, &t.ExpiresAt, &last, &enc, &revok); err != nil {
			return nil, err
		}
		t.Role, t.Scopes, t.LastUsedAt, t.RevokedAt = access.Role(role), splitScopes(scopes), last.Time, revok.Time
		out = append(out, t)
		encs = append(encs, enc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		if encs[i] == nil {
			continue
		}
		b, err := s.keys.Decrypt(ctx, s.db, accountID, ipField(out[i].ID), encs[i])
		if err != nil {
			return nil, err
		}
		out[i].LastUsedIP = string(b)
	}
	return out, nil
}

// Revoke ends one of the holder's tokens. Another account's token answers
// NotFound, like an unknown one.
func (s *Store) Revoke(ctx context.Context, holder access.Principal, id string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL`,
			tx.Now(), id, holder.AccountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.NotFound, "No such token.")
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "token.revoke", Target: "token:" + id, Outcome: audit.Success,
			Details: map[string]any{"account": holder.AccountID}})
		return err
	})
}
