// Package identity holds accounts and how people prove who they are. The
// foundation has the account record and its creation (`portico user
// create`); sign-up, sign-in, MFA and sessions arrive with the identity
// issue.
package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// Account is an account as the rest of Portico sees it. Personal fields are
// decrypted only when asked for.
type Account struct {
	ID        string
	Role      access.Role
	Status    string
	CreatedAt time.Time
}

// NewAccount is the input to CreateAccount.
type NewAccount struct {
	Email    string
	Role     access.Role
	Password string
}

// Service creates and finds accounts.
type Service struct {
	db      *db.DB
	keys    *crypto.Keyring
	audit   *audit.Log
	profile policy.Profile
}

// NewService returns an identity service.
func NewService(d *db.DB, keys *crypto.Keyring, log *audit.Log, profile policy.Profile) *Service {
	return &Service{db: d, keys: keys, audit: log, profile: profile}
}

// emailField is where an account's encrypted email lives.
func emailField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "email_enc", Row: id}
}

// CreateAccount validates and stores a new account with its audit event in
// one transaction.
//
// Enforces CP-5.1, MTL-2.1.3: the email is stored encrypted under the
// account's own data key, and found through a keyed hash (HMAC-SHA256 under
// a server secret), never in clear text.
func (s *Service) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	email, err := NormalizeEmail(n.Email)
	if err != nil {
		return Account{}, err
	}
	if _, err := access.ParseRole(string(n.Role)); err != nil {
		return Account{}, apperr.New(apperr.Invalid, err.Error())
	}
	if err := s.CheckPassword(n.Password, email); err != nil {
		return Account{}, err
	}
	hash, err := HashPassword(n.Password, s.argon2())
	if err != nil {
		return Account{}, err
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return Account{}, err
	}
	acct := Account{ID: newID(), Role: n.Role, Status: "active"}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		acct.CreatedAt = tx.Now()
		enc, err := s.keys.Encrypt(ctx, tx, acct.ID, emailField(acct.ID), []byte(email))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO accounts (id, email_lookup, email_enc, role, status, password_hash, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
			acct.ID, lookup, enc, string(acct.Role), acct.Status, hash, acct.CreatedAt)
		if db.IsUniqueViolation(err) {
			return apperr.Wrap(apperr.Conflict, "An account with this email address already exists.", err)
		}
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{
			Action:  "account.create",
			Target:  "account:" + acct.ID,
			Outcome: audit.Success,
			Details: map[string]any{"role": string(acct.Role)},
		})
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

// Email decrypts an account's email address.
func (s *Service) Email(ctx context.Context, id string) (string, error) {
	var enc []byte
	if err := s.db.QueryRowContext(ctx, `SELECT email_enc FROM accounts WHERE id = $1`, id).Scan(&enc); err != nil {
		return "", err
	}
	b, err := s.keys.Decrypt(ctx, s.db, id, emailField(id), enc)
	return string(b), err
}

// FindByEmail returns the account with this email address.
func (s *Service) FindByEmail(ctx context.Context, email string) (Account, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, err
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return Account{}, err
	}
	var a Account
	var role string
	err = s.db.QueryRowContext(ctx, `SELECT id, role, status, created_at FROM accounts WHERE email_lookup = $1`, lookup).
		Scan(&a.ID, &role, &a.Status, &a.CreatedAt)
	if err != nil {
		return Account{}, apperr.Wrap(apperr.NotFound, "No such account.", err)
	}
	a.Role = access.Role(role)
	return a, nil
}

// emailLookup is the keyed hash used to find an account by email.
func (s *Service) emailLookup(ctx context.Context, email string) ([]byte, error) {
	key, err := s.keys.Secret(ctx, "email-lookup")
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(email))
	return m.Sum(nil), nil
}

// NormalizeEmail validates an email address and returns the form used for
// storage and lookup: trimmed, NFKC-normalised, lower-case.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(norm.NFKC.String(strings.TrimSpace(s)))
	if s == "" {
		return "", apperr.New(apperr.Invalid, "Enter your email address.")
	}
	if len(s) > 254 {
		return "", apperr.New(apperr.Invalid, "That email address is too long (254 characters at most).")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", apperr.New(apperr.Invalid, "Enter an email address like name@example.com.")
	}
	return s, nil
}

// CheckPassword applies the password rules of the policy profile and says
// which rule failed, in plain words.
//
// Enforces CP-4.3, MTL-3.1.1 (foundation part: length limits and no email
// in the password; strength, breached and common passwords, history and
// expiry arrive with the identity issue).
func (s *Service) CheckPassword(password, email string) error {
	pw := s.profile.Password
	p := norm.NFKC.String(password)
	n := utf8.RuneCountInString(p)
	min := pw.MinLength
	if n < min {
		return apperr.Errorf(apperr.Invalid, "The password is too short: use at least %d characters.", min)
	}
	if n > pw.MaxLength {
		return apperr.Errorf(apperr.Invalid, "The password is too long: use at most %d characters.", pw.MaxLength)
	}
	if local, _, ok := strings.Cut(email, "@"); ok && len(local) >= 3 && strings.Contains(strings.ToLower(p), local) {
		return apperr.New(apperr.Invalid, "The password must not contain your email address.")
	}
	return nil
}

func (s *Service) argon2() Argon2Params {
	a := s.profile.Password.Argon2
	return Argon2Params{MemoryKiB: a.MemoryKiB, Iterations: a.Iterations, Parallelism: a.Parallelism}
}

// newID returns an unguessable identifier (128 bits from crypto/rand).
func newID() string { return strings.ToLower(rand.Text()) }
