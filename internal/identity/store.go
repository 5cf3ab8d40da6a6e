package identity

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
)

// errNoAccount is the answer for an unknown account ID.
var errNoAccount = apperr.New(apperr.NotFound, "No such account.")

const accountColumns = `id, role, status, created_at, email_verified_at, password_changed_at,
	password_change_required, totp_enabled_at, locked_until, lock_count, last_sign_in_at,
	training_completed_at, contractor_until, role_changed_at, failures_reset_at, privacy_version, restricted_at,
	credentials_epoch`

// scanAccount reads the columns of accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var role string
	var verified, changed, totp, locked, last, trained, until, roleAt, reset, restricted sql.NullTime
	err := row.Scan(&a.ID, &role, &a.Status, &a.CreatedAt, &verified, &changed,
		&a.PasswordChangeRequired, &totp, &locked, &a.LockCount, &last, &trained, &until, &roleAt, &reset, &a.PrivacyVersion, &restricted,
		&a.CredentialsEpoch)
	if err != nil {
		return Account{}, err
	}
	a.Role = access.Role(role)
	a.EmailVerifiedAt, a.PasswordChangedAt, a.LockedUntil, a.LastSignInAt = verified.Time, changed.Time, locked.Time, last.Time
	a.TrainingCompletedAt, a.ContractorUntil, a.RoleChangedAt = trained.Time, until.Time, roleAt.Time
	a.FailuresResetAt, a.RestrictedAt = reset.Time, restricted.Time
	a.TOTPEnabled = totp.Valid
	return a, nil
}

// Account returns an account by ID, with how many passkeys it has.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	return s.loadAccount(ctx, s.db, id)
}

func (s *Service) loadAccount(ctx context.Context, q rowQuerier, id string) (Account, error) {
	a, err := s.loadAccountRow(ctx, q, id)
	if err != nil {
		return Account{}, err
	}
	return s.countPasskeys(ctx, a)
}

// loadAccountRow reads the account row alone, without counting passkeys.
func (s *Service) loadAccountRow(ctx context.Context, q rowQuerier, id string) (Account, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, errNoAccount
	}
	return a, err
}

// countPasskeys fills in how many passkeys the account has.
func (s *Service) countPasskeys(ctx context.Context, a Account) (Account, error) {
	var err error
	if s.passkeys != nil {
		if a.PasskeyCount, err = s.passkeys.Count(ctx, a.ID); err != nil {
			return Account{}, err
		}
	}
	return a, nil
}

// Name decrypts an account's name ("" if none was given).
func (s *Service) Name(ctx context.Context, id string) (string, error) {
	var enc []byte
	if err := s.db.QueryRowContext(ctx, `SELECT name_enc FROM accounts WHERE id = $1`, id).Scan(&enc); err != nil {
		return "", err
	}
	if enc == nil {
		return "", nil
	}
	b, err := s.keys.Decrypt(ctx, s.db, id, nameField(id), enc)
	return string(b), err
}

// normalizeName trims a person's name and checks it is printable text of a
// sensible length. An empty name is allowed where the caller allows it.
func normalizeName(s string) (string, error) {
	s = strings.Join(strings.Fields(norm.NFKC.String(s)), " ")
	if utf8.RuneCountInString(s) > 100 {
		return "", apperr.New(apperr.Invalid, "That name is too long (100 characters at most).")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", apperr.New(apperr.Invalid, "The name may only hold letters, spaces and punctuation.")
		}
	}
	return s, nil
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// rememberPassword adds a hash to the account's password history and keeps
// only the profile's depth (MTL-3.1.1: no reuse of recent passwords).
func (s *Service) rememberPassword(ctx context.Context, tx *db.Tx, accountID, hash string) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO password_history (account_id, hash, created_at) VALUES ($1, $2, $3)`,
		accountID, hash, tx.Now()); err != nil {
		return err
	}
	// Keep the newest History entries. Ties in created_at (two changes in
	// one microsecond) keep both, which errs on the side of refusing.
	_, err := tx.ExecContext(ctx,
		`DELETE FROM password_history WHERE account_id = $1 AND created_at < (
		     SELECT MIN(created_at) FROM (
		         SELECT created_at FROM password_history WHERE account_id = $1
		         ORDER BY created_at DESC LIMIT $2) AS newest)`,
		accountID, s.profile.Password.History)
	return err
}

// reusedPassword reports whether pw matches one of the account's recent
// passwords.
//
// Enforces MTL-3.1.1: passwords are unique, not the last N again.
func (s *Service) reusedPassword(ctx context.Context, tx *db.Tx, accountID, pw string) (bool, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT hash FROM password_history WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2`,
		accountID, s.profile.Password.History)
	if err != nil {
		return false, err
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return false, err
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, h := range hashes {
		ok, _, err := s.verifyPassword(ctx, pw, h)
		if apperr.CodeOf(err) == apperr.Unavailable {
			return false, err
		}
		if err == nil && ok {
			return true, nil
		}
	}
	return false, nil
}

// accountIDs runs a query that selects account IDs and returns them, for
// the jobs that act on a batch of accounts one by one.
func (s *Service) accountIDs(ctx context.Context, query string, args ...any) ([]string, error) {
	return db.Strings(ctx, s.db, query, args...)
}
