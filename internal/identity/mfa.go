package identity

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// TOTP parameters: RFC 6238 with SHA-1, 6 digits and a 30-second step, what
// every authenticator app supports; a code is accepted one step either side
// of now to allow for clock drift.
const (
	totpPeriod = 30
	totpSkew   = 1
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func totpField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "totp_secret_enc", Row: id}
}

func totpPendingField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "totp_pending_enc", Row: id}
}

// TOTPEnrolment is what the enrolment page shows: the secret (for typing
// in), the otpauth URI and the QR code of it as a PNG, generated here (no
// external service sees the secret).
type TOTPEnrolment struct {
	Secret string // base32, in groups of four for reading
	URI    string
	QRPNG  []byte
}

// StartTOTP creates a new pending TOTP secret for an account (replacing an
// earlier pending one) and returns it for the enrolment page. The secret
// becomes the account's factor only when ConfirmTOTP sees a code from it.
func (s *Service) StartTOTP(ctx context.Context, accountID string) error {
	email, err := s.Email(ctx, accountID)
	if err != nil {
		return err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: "Portico", AccountName: email, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, SecretSize: 20,
	})
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		enc, err := s.keys.Encrypt(ctx, tx, accountID, totpPendingField(accountID), []byte(key.String()))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET totp_pending_enc = $1, updated_at = $2 WHERE id = $3`, enc, tx.Now(), accountID)
		return err
	})
}

// PendingTOTP returns the pending enrolment of an account, or ok false if
// none was started.
func (s *Service) PendingTOTP(ctx context.Context, accountID string) (e TOTPEnrolment, ok bool, err error) {
	var enc []byte
	if err := s.db.QueryRowContext(ctx, `SELECT totp_pending_enc FROM accounts WHERE id = $1`, accountID).Scan(&enc); err != nil {
		return TOTPEnrolment{}, false, err
	}
	if enc == nil {
		return TOTPEnrolment{}, false, nil
	}
	uri, err := s.keys.Decrypt(ctx, s.db, accountID, totpPendingField(accountID), enc)
	if err != nil {
		return TOTPEnrolment{}, false, err
	}
	key, err := otp.NewKeyFromURL(string(uri))
	if err != nil {
		return TOTPEnrolment{}, false, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return TOTPEnrolment{}, false, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPEnrolment{}, false, err
	}
	return TOTPEnrolment{Secret: group(key.Secret(), 4), URI: key.String(), QRPNG: buf.Bytes()}, true, nil
}

func group(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%n == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ConfirmTOTP turns the pending secret into the account's TOTP factor once
// the user proves it with a code. When this is the account's first second
// factor it also issues recovery codes, returned to be shown once.
//
// Enforces CP-4.1, MTL-3.1.2: a second factor is only enrolled when the
// user shows it works.
func (s *Service) ConfirmTOTP(ctx context.Context, accountID, code string) (recovery []string, err error) {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	email, err := s.Email(ctx, accountID)
	if err != nil {
		return nil, err
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		var enc []byte
		if err := tx.QueryRowContext(ctx, `SELECT totp_pending_enc FROM accounts WHERE id = $1`, accountID).Scan(&enc); err != nil {
			return err
		}
		if enc == nil {
			return apperr.New(apperr.Conflict, "Start the set-up again: there is no authenticator waiting to be confirmed.")
		}
		uri, err := s.keys.Decrypt(ctx, tx, accountID, totpPendingField(accountID), enc)
		if err != nil {
			return err
		}
		key, err := otp.NewKeyFromURL(string(uri))
		if err != nil {
			return err
		}
		step, ok := matchTOTP(key.Secret(), code, tx.Now())
		if !ok {
			return apperr.New(apperr.Invalid, "That code is not right. Check that the time on your phone is correct, and enter the 6 digits the app shows now.")
		}
		secretEnc, err := s.keys.Encrypt(ctx, tx, accountID, totpField(accountID), []byte(key.Secret()))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE accounts SET totp_secret_enc = $1, totp_pending_enc = NULL, totp_enabled_at = $2, totp_last_step = $3, updated_at = $2 WHERE id = $4`,
			secretEnc, tx.Now(), step, accountID); err != nil {
			return err
		}
		if !acct.HasSecondFactor() {
			if recovery, err = s.issueRecoveryCodes(ctx, tx, accountID); err != nil {
				return err
			}
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{
			Action: "mfa.totp.enable", Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"recovery_codes_issued": len(recovery)},
		}); err != nil {
			return err
		}
		return s.notice(ctx, tx, accountID, email, noticeFactorAdded, "An authenticator app was added to your account",
			"An authenticator app was set up as a second factor on your Portico account at "+stamp(tx.Now())+".\n\n"+ifNotYou)
	})
	return recovery, err
}

// RemoveTOTP removes the account's authenticator app. While the policy
// requires MFA (or the account is staff), removing the last second factor
// is refused.
//
// Enforces CP-4.1: an account that must have a second factor cannot drop
// its last one.
func (s *Service) RemoveTOTP(ctx context.Context, accountID string) error {
	email, err := s.Email(ctx, accountID)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		// Decided inside the transaction, holding the account's row: a
		// passkey removed at the same moment cannot leave no factor.
		if err := lockAccountRow(ctx, tx, accountID); err != nil {
			return err
		}
		acct, err := s.loadAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if !acct.TOTPEnabled {
			return apperr.New(apperr.NotFound, "There is no authenticator app on this account.")
		}
		passkeys, err := countPasskeys(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if s.mfaRequired(acct) && passkeys == 0 {
			return apperr.New(apperr.Conflict, "This is your only second factor and your account must have one. Add a passkey first, then remove the app.")
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE accounts SET totp_secret_enc = NULL, totp_pending_enc = NULL, totp_enabled_at = NULL, updated_at = $1 WHERE id = $2`,
			tx.Now(), accountID); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "mfa.totp.remove", Target: "account:" + accountID, Outcome: audit.Success}); err != nil {
			return err
		}
		return s.notice(ctx, tx, accountID, email, noticeFactorRemoved, "An authenticator app was removed from your account",
			"The authenticator app was removed from your Portico account at "+stamp(tx.Now())+".\n\n"+ifNotYou)
	})
}

// mfaRequired reports whether the account must have a second factor: the
// profile requires it, or the account is staff (always, CP-4.1).
func (s *Service) mfaRequired(a Account) bool {
	return s.profile.MFA.Mode == policy.MFARequired || a.Role.IsStaff()
}

// MFARequired is mfaRequired for the web layer.
func (s *Service) MFARequired(a Account) bool { return s.mfaRequired(a) }

// matchTOTP checks code against the secret at now and one step either
// side, in constant time per candidate, and returns the matching step.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	var found int64
	ok := false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = step+d, true
		}
	}
	return found, ok
}

// checkTOTP verifies a sign-in code and records its step, so the same code
// (or an older one) is never accepted again, on any node: the update only
// succeeds while the stored step is older.
//
// Enforces CP-4.1: a TOTP code is single use (replay rejected).
func (s *Service) checkTOTP(ctx context.Context, tx *db.Tx, accountID, code string) (bool, error) {
	var enc []byte
	if err := tx.QueryRowContext(ctx, `SELECT totp_secret_enc FROM accounts WHERE id = $1 AND totp_enabled_at IS NOT NULL`, accountID).Scan(&enc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, err
	}
	secret, err := s.keys.Decrypt(ctx, tx, accountID, totpField(accountID), enc)
	if err != nil {
		return false, err
	}
	step, ok := matchTOTP(string(secret), code, tx.Now())
	if !ok {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, accountID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Recovery codes: 16 base32 characters (80 bits) each, shown in groups of
// four. Stored as HMAC-SHA256 under a server secret: a code has enough
// entropy that a keyed hash is as good as a slow one.
const recoveryCodeLen = 16

// issueRecoveryCodes replaces the account's recovery codes with a new set
// and returns the codes to show once.
func (s *Service) issueRecoveryCodes(ctx context.Context, tx *db.Tx, accountID string) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return nil, err
	}
	codes := make([]string, s.profile.MFA.RecoveryCodes)
	for i := range codes {
		c := rand.Text()[:recoveryCodeLen]
		h, err := s.recoveryHash(ctx, c)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (code_hash, account_id, created_at) VALUES ($1, $2, $3)`,
			h, accountID, tx.Now()); err != nil {
			return nil, err
		}
		codes[i] = group(c, 4)
	}
	return codes, nil
}

func (s *Service) recoveryHash(ctx context.Context, code string) ([]byte, error) {
	m := hmac.New(sha256.New, s.recoveryKey)
	m.Write([]byte(code))
	return m.Sum(nil), nil
}

// normalizeRecoveryCode accepts a code as typed: any case, with or without
// spaces and dashes.
func normalizeRecoveryCode(c string) (string, bool) {
	c = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(c))
	if len(c) != recoveryCodeLen {
		return "", false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
			return "", false
		}
	}
	return c, true
}

// useRecoveryCode spends one recovery code of the account; the update makes
// it single use even under concurrent attempts.
func (s *Service) useRecoveryCode(ctx context.Context, tx *db.Tx, accountID, code string) (bool, error) {
	c, ok := normalizeRecoveryCode(code)
	if !ok {
		return false, nil
	}
	h, err := s.recoveryHash(ctx, c)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND account_id = $3 AND used_at IS NULL`,
		tx.Now(), h, accountID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecoveryCodesLeft is how many unused recovery codes the account has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, accountID).Scan(&n)
	return n, err
}

// RecoverySet names the account's current set of recovery codes ("" when
// it has none), for a form that replaces it: a form sent again (a page
// refreshed after the new codes were shown) names a set that is no longer
// current, and must not replace the codes just saved.
func (s *Service) RecoverySet(ctx context.Context, accountID string) (string, error) {
	var at time.Time
	err := s.db.QueryRowContext(ctx,
		`SELECT created_at FROM recovery_codes WHERE account_id = $1 ORDER BY created_at DESC LIMIT 1`, accountID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(at.UnixNano(), 36), nil
}

// RegenerateRecoveryCodes voids the account's recovery codes and issues a
// new set, returned to be shown once. The caller requires a fresh
// re-authentication (step-up).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, accountID string) ([]string, error) {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if !acct.HasSecondFactor() {
		return nil, apperr.New(apperr.Conflict, "Set up a second factor first: recovery codes stand in for it when it is lost.")
	}
	email, err := s.Email(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var codes []string
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		if codes, err = s.issueRecoveryCodes(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "mfa.recovery.regenerate", Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"count": len(codes)}}); err != nil {
			return err
		}
		return s.notice(ctx, tx, accountID, email, noticeFactorAdded, "New recovery codes were made for your account",
			"A new set of recovery codes was made for your Portico account at "+stamp(tx.Now())+"; the old codes no longer work.\n\n"+ifNotYou)
	})
	return codes, err
}
