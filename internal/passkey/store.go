package passkey

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

var errNoPasskey = apperr.New(apperr.NotFound, "No such passkey.")

// columns of a passkey row, in the order scanRow reads them.
const columns = `id, account_id, credential_id, public_key, attestation_type, attestation_format,
	aaguid, sign_count, transports, backup_eligible, backup_state, user_verified, name_enc,
	created_at, last_used_at`

// row is a stored passkey with what the ceremonies need and the owner
// never sees.
type row struct {
	Passkey
	credentialID []byte
	publicKey    []byte
	attType      string
	attFormat    string
	aaguid       []byte
	nameEnc      []byte
}

type scanner interface{ Scan(dest ...any) error }

// querier is what reads run on: the database's read pool, or a
// transaction when the read must see its writes.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanRow(sc scanner) (row, error) {
	var r row
	var count int64
	var transports string
	var lastUsed sql.NullTime
	err := sc.Scan(&r.ID, &r.AccountID, &r.credentialID, &r.publicKey, &r.attType, &r.attFormat,
		&r.aaguid, &count, &transports, &r.BackupEligible, &r.BackedUp, &r.UserVerified, &r.nameEnc,
		&r.CreatedAt, &lastUsed)
	if err != nil {
		return row{}, err
	}
	r.SignCount = uint32(count)
	if transports != "" {
		r.Transports = strings.Split(transports, ",")
	}
	if lastUsed.Valid {
		r.LastUsedAt = lastUsed.Time
	}
	r.CreatedAt = db.Time(r.CreatedAt)
	if !r.LastUsedAt.IsZero() {
		r.LastUsedAt = db.Time(r.LastUsedAt)
	}
	r.AAGUID = formatUUID(r.aaguid)
	return r, nil
}

// formatUUID writes a 16-byte AAGUID in the usual 8-4-4-4-12 form.
func formatUUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// credential is the row as the WebAuthn library wants it.
func (r row) credential() webauthn.Credential {
	flags := protocol.FlagUserPresent
	if r.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if r.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if r.BackedUp {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, len(r.Transports))
	for i, t := range r.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                r.credentialID,
		PublicKey:         r.publicKey,
		AttestationType:   r.attType,
		AttestationFormat: r.attFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(flags),
		Authenticator:     webauthn.Authenticator{AAGUID: r.aaguid, SignCount: r.SignCount},
	}
}

// rows reads the passkeys of an account, oldest first.
func rows(ctx context.Context, q querier, accountID string) ([]row, error) {
	rs, err := q.QueryContext(ctx, `SELECT `+columns+` FROM passkeys WHERE account_id = $1 ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("passkey: list: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		r, err := scanRow(rs)
		if err != nil {
			return nil, fmt.Errorf("passkey: list: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("passkey: list: %w", err)
	}
	return out, nil
}

// List returns the account's passkeys, oldest first, with their labels
// decrypted.
func (s *Service) List(ctx context.Context, accountID string) ([]Passkey, error) {
	rs, err := rows(ctx, s.db, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]Passkey, 0, len(rs))
	for _, r := range rs {
		name, err := s.keys.Decrypt(ctx, s.db, accountID, nameField(r.ID), r.nameEnc)
		if err != nil {
			return nil, fmt.Errorf("passkey: decrypt name of %s: %w", r.ID, err)
		}
		r.Name = string(name)
		out = append(out, r.Passkey)
	}
	return out, nil
}

// Count returns how many passkeys the account has: the identity layer uses
// it to decide whether the account has a second factor (CP-4.1) and whether
// the last one may be removed.
func (s *Service) Count(ctx context.Context, accountID string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM passkeys WHERE account_id = $1`, accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("passkey: count: %w", err)
	}
	return n, nil
}

// Rename changes the label of one of the account's passkeys. A passkey of
// another account is NotFound, exactly like one that does not exist.
func (s *Service) Rename(ctx context.Context, tx *db.Tx, accountID, passkeyID, name string) error {
	name, err := normalizeName(name, false)
	if err != nil {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM passkeys WHERE id = $1 AND account_id = $2`, passkeyID, accountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoPasskey
	}
	if err != nil {
		return fmt.Errorf("passkey: rename: %w", err)
	}
	enc, err := s.keys.Encrypt(ctx, tx, accountID, nameField(passkeyID), []byte(name))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE passkeys SET name_enc = $1 WHERE id = $2 AND account_id = $3`, enc, passkeyID, accountID); err != nil {
		return fmt.Errorf("passkey: rename: %w", err)
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{
		Action:  "passkey.rename",
		Target:  "account:" + accountID,
		Outcome: audit.Success,
		Details: map[string]any{"passkey_id": passkeyID},
	})
	return err
}

// Remove deletes one of the account's passkeys. A passkey of another
// account is NotFound, exactly like one that does not exist. Whether the
// account may lose this factor (the last one, with MFA required) is the
// caller's decision; Count tells it how many there are.
func (s *Service) Remove(ctx context.Context, tx *db.Tx, accountID, passkeyID string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM passkeys WHERE id = $1 AND account_id = $2`, passkeyID, accountID)
	if err != nil {
		return fmt.Errorf("passkey: remove: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("passkey: remove: %w", err)
	} else if n == 0 {
		return errNoPasskey
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{
		Action:  "passkey.remove",
		Target:  "account:" + accountID,
		Outcome: audit.Success,
		Details: map[string]any{"passkey_id": passkeyID},
	})
	return err
}

// PurgeChallenges deletes ceremonies that expired before now, used or not,
// and reports how many. Run it from a periodic job: every sign-in page
// begins a ceremony, and most are never finished.
func (s *Service) PurgeChallenges(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webauthn_challenges WHERE expires_at < $1`, tx.Now())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("passkey: purge challenges: %w", err)
	}
	return n, nil
}

// userHandle returns the account's user handle, or nil if it has none yet.
func userHandle(ctx context.Context, q querier, accountID string) ([]byte, error) {
	var h []byte
	err := q.QueryRowContext(ctx, `SELECT user_handle FROM passkey_handles WHERE account_id = $1`, accountID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("passkey: read user handle: %w", err)
	}
	return h, nil
}

// ensureUserHandle returns the account's user handle, making one (32 bytes
// from crypto/rand) the first time. It is NotFound for an unknown account.
func ensureUserHandle(ctx context.Context, tx *db.Tx, accountID string) ([]byte, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = $1`, accountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "No such account.")
	}
	if err != nil {
		return nil, fmt.Errorf("passkey: read account: %w", err)
	}
	h := make([]byte, 32)
	rand.Read(h)
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO passkey_handles (account_id, user_handle, created_at) VALUES ($1, $2, $3)
		 ON CONFLICT (account_id) DO NOTHING`, accountID, h, tx.Now()); err != nil {
		return nil, fmt.Errorf("passkey: store user handle: %w", err)
	}
	return userHandle(ctx, tx, accountID)
}

// accountByHandle finds the account that a passwordless sign-in names.
func accountByHandle(ctx context.Context, q querier, handle []byte) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT account_id FROM passkey_handles WHERE user_handle = $1`, handle).Scan(&id)
	if err != nil {
		return "", err
	}
	return id, nil
}

// user is an account as the WebAuthn library sees it.
type user struct {
	handle  []byte
	name    string
	display string
	rows    []row
}

func (u *user) WebAuthnID() []byte          { return u.handle }
func (u *user) WebAuthnName() string        { return u.name }
func (u *user) WebAuthnDisplayName() string { return u.display }
func (u *user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(u.rows))
	for i, r := range u.rows {
		out[i] = r.credential()
	}
	return out
}

// byCredentialID returns the row of a credential of this user.
func (u *user) byCredentialID(id []byte) (row, bool) {
	for _, r := range u.rows {
		if string(r.credentialID) == string(id) {
			return r, true
		}
	}
	return row{}, false
}

// challenge is a stored ceremony, claimed.
type challenge struct {
	id        string
	accountID string // "" for a passwordless sign-in
	session   webauthn.SessionData
	expiresAt time.Time
}
