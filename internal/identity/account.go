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
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// Account statuses.
const (
	StatusUnverified = "unverified" // signed up, email address not confirmed yet
	StatusActive     = "active"
	StatusDisabled   = "disabled" // every session ended; cannot sign in
)

// Reasons a password change is required before anything else (CP-4.3,
// CP-12).
const (
	ChangeExpired     = "expired"     // older than the profile's expiry
	ChangeCompromised = "compromised" // found in the breached-password file at sign-in
	ChangeAdmin       = "admin"       // an administrator asked for it
	ChangeIncident    = "incident"    // an incident response asked for it
)

// Account is an account as the rest of Portico sees it. Personal fields
// are decrypted only when asked for (Email, Profile).
type Account struct {
	ID                     string
	Role                   access.Role
	Status                 string
	CreatedAt              time.Time
	EmailVerifiedAt        time.Time // zero until confirmed
	PasswordChangedAt      time.Time
	PasswordChangeRequired string // "" or one of the Change* reasons
	TOTPEnabled            bool
	LockedUntil            time.Time
	LockCount              int
	LastSignInAt           time.Time
	PasskeyCount           int
	// TrainingCompletedAt is a staff member's last security-awareness
	// training (zero: none recorded). CP-12, MTL-8.1.
	TrainingCompletedAt time.Time
	// ContractorUntil is a contractor's end date (zero: not a
	// contractor). From then on the account cannot be used (MTL-1.2).
	ContractorUntil time.Time
	RoleChangedAt   time.Time
	// FailuresResetAt is an administrator's last unlock: failures before
	// it no longer count.
	FailuresResetAt time.Time
	// PrivacyVersion is the privacy notice version the account last
	// acknowledged ("" if none).
	PrivacyVersion string
	// RestrictedAt is when an administrator restricted the processing of
	// the account's data (zero: not restricted).
	RestrictedAt time.Time
	// CredentialsEpoch moves each time every credential of the account is
	// ended (see endCredentials); sessions and API tokens issued under an
	// older one are refused.
	CredentialsEpoch int64
}

// Restricted reports whether processing of the account's data is
// restricted: read-only, no notices but the legally required ones.
func (a Account) Restricted() bool { return !a.RestrictedAt.IsZero() }

// Contractor reports whether the account is held by a contractor.
func (a Account) Contractor() bool { return !a.ContractorUntil.IsZero() }

// ContractEnded reports whether a contractor's end date has passed at now.
func (a Account) ContractEnded(now time.Time) bool {
	return a.Contractor() && !now.Before(a.ContractorUntil)
}

// HasSecondFactor reports whether the account has a second factor it can
// sign in with.
func (a Account) HasSecondFactor() bool { return a.TOTPEnabled || a.PasskeyCount > 0 }

// NewAccount is the input to CreateAccount.
type NewAccount struct {
	Email    string
	Name     string
	Role     access.Role
	Password string
	// ContractorUntil makes a staff account a contractor's, usable until
	// this time (MTL-1.2). Zero for employees and customers.
	ContractorUntil time.Time
}

// Notifier delivers a security notice to an account: into its in-portal
// inbox and by email to the given address, both written in tx (the
// transactional outbox of internal/notify). It is an interface so that the
// command line, which sends nothing, can leave it out.
type Notifier interface {
	SecurityNotice(ctx context.Context, tx *db.Tx, n Notice) error
	// SentSince reports whether a notice of kind went to the account
	// after since (by mail or in the inbox).
	SentSince(ctx context.Context, tx *db.Tx, accountID, kind string, since time.Time) (bool, error)
}

// Notice is one security notice to an account.
type Notice struct {
	AccountID string
	To        string // email address; empty sends no mail
	Kind      string // "new-sign-in", "password-changed", ...
	Title     string // generic, no personal data
	Body      string // the details: time, device, IP, country, what to do
	Inbox     bool   // post to the account's in-portal inbox
	Email     bool   // send by email to To
}

// Deps are what the identity service works with. Sessions and Notifier may
// be nil for the command line, which signs nobody in and sends nothing.
type Deps struct {
	DB        *db.DB
	Keys      *crypto.Keyring
	Audit     *audit.Log
	Profile   policy.Profile
	Passwords *password.Checker
	Sessions  *session.Store
	Passkeys  PasskeyCounter
	Notifier  Notifier
	// PublicURL is the origin customers reach Portico at, for links in
	// mail ("https://portal.example.com").
	PublicURL string
	// ResetFloor is the least time a reset request takes, whether or not
	// the address has an account, so that timing does not tell them
	// apart (default 250 ms; tests may shorten it).
	ResetFloor time.Duration
	// HashGate bounds the argon2 memory in use (MTL-1.1); one per
	// process, shared by everything that hashes. nil makes one of the
	// default size for this service.
	HashGate *HashGate
}

// PasskeyCounter tells how many passkeys an account has (internal/passkey).
type PasskeyCounter interface {
	Count(ctx context.Context, accountID string) (int, error)
}

// Service holds accounts and how people prove who they are.
type Service struct {
	db         *db.DB
	keys       *crypto.Keyring
	audit      *audit.Log
	profile    policy.Profile
	passwords  *password.Checker
	sessions   *session.Store
	passkeys   PasskeyCounter
	notifier   Notifier
	publicURL  string
	resetFloor time.Duration
	dummyHash  string
	hashes     *HashGate       // argon2 memory in use (MTL-1.1)
	failed     *failedChecks   // recent failed checks, for unknown addresses (CP-6.3)
	signingIn  atomic.Int64    // sign-ins in progress on this node (tarpit)
	approvals  *approval.Store // four-eyes requests (role changes, disabling an admin)
	detector   Detector        // behavioural analytics; nil: no risk scoring

	// Server secrets, fetched once at start: Keyring.Secret may run its
	// own transaction, which must not happen inside one of ours.
	lookupKey, rateKey, recoveryKey, emailCodeKey []byte
}

// SetDetector connects sign-in to behavioural analytics (internal/detect),
// which is built after identity because its responses act on accounts.
// Call it before serving.
func (s *Service) SetDetector(d Detector) { s.detector = d }

// New returns an identity service.
func New(d Deps) (*Service, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil || d.Passwords == nil {
		return nil, errors.New("identity: DB, Keys, Audit and Passwords are required")
	}
	s := &Service{
		db: d.DB, keys: d.Keys, audit: d.Audit, profile: d.Profile, passwords: d.Passwords,
		sessions: d.Sessions, passkeys: d.Passkeys, notifier: d.Notifier, publicURL: d.PublicURL,
		resetFloor: d.ResetFloor, approvals: approval.New(d.DB, d.Audit),
		hashes: d.HashGate, failed: newFailedChecks(),
	}
	if s.hashes == nil {
		s.hashes = NewHashGate(HashGateCapacity(0, d.Profile), 0)
	}
	if s.resetFloor <= 0 {
		s.resetFloor = 250 * time.Millisecond
	}
	// A hash to verify against when the account does not exist, so that
	// an unknown address costs the same time as a known one.
	h, err := dummyHash(s.argon2())
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	ctx := context.Background()
	for name, dst := range map[string]*[]byte{"email-lookup": &s.lookupKey, "rate-limit": &s.rateKey, "recovery-codes": &s.recoveryKey, "email-codes": &s.emailCodeKey} {
		if *dst, err = s.keys.Secret(ctx, name); err != nil {
			return nil, fmt.Errorf("identity: secret %s: %w", name, err)
		}
	}
	return s, nil
}

// dummyHash returns an encoded argon2id hash with the parameters p, a
// random salt and a random key: verifying any password against it costs
// exactly what verifying against a real hash with p costs (the cost is set
// by the parameters in the string, not by what was hashed), and never
// succeeds, since no password is known to derive that key. Hashing a random
// password would give the same thing for one argon2 run at every start
// (about 30 ms and 19 MiB at the default parameters).
func dummyHash(p Argon2Params) (string, error) {
	if p.MemoryKiB == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return "", errors.New("argon2 parameters must not be zero")
	}
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	rand.Read(salt)
	rand.Read(key)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// emailField is where an account's encrypted email lives.
func emailField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "email_enc", Row: id}
}

// nameField is where an account's encrypted name lives.
func nameField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "name_enc", Row: id}
}

// CreateAccount validates and stores a new, active account with its
// audit event in one transaction. It is how `portico user create` makes
// accounts (the first administrator among them): the address counts as
// confirmed, and the password passes the same checks as at sign-up.
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
	name, err := normalizeName(n.Name)
	if err != nil {
		return Account{}, err
	}
	if !n.ContractorUntil.IsZero() {
		// Enforces MTL-1.2: contractors hold staff roles under the same
		// controls, with an end date; administration stays with employees.
		if !n.Role.MayContract() {
			return Account{}, apperr.Errorf(apperr.Invalid, "A %s account cannot be a contractor's: contractors may hold support, security or auditor roles.", n.Role)
		}
		if !n.ContractorUntil.After(s.db.Now()) {
			return Account{}, apperr.New(apperr.Invalid, "The contract end date must be in the future.")
		}
	}
	if err := s.CheckPassword(n.Password, email, name); err != nil {
		return Account{}, err
	}
	hash, err := s.hashPassword(ctx, n.Password)
	if err != nil {
		return Account{}, err
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return Account{}, err
	}
	acct := Account{ID: newID(), Role: n.Role, Status: StatusActive, ContractorUntil: n.ContractorUntil}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		acct.CreatedAt, acct.EmailVerifiedAt, acct.PasswordChangedAt = now, now, now
		if err := s.insertAccount(ctx, tx, acct, email, name, lookup, hash); err != nil {
			return err
		}
		details := map[string]any{"role": string(acct.Role)}
		if acct.Contractor() {
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET contractor_until = $1 WHERE id = $2`, acct.ContractorUntil, acct.ID); err != nil {
				return err
			}
			details["contractor_until"] = acct.ContractorUntil.UTC().Format(time.RFC3339)
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{
			Action:  "account.create",
			Target:  "account:" + acct.ID,
			Outcome: audit.Success,
			Details: details,
		})
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

// insertAccount writes a new account row with its encrypted fields and
// its first password-history entry.
func (s *Service) insertAccount(ctx context.Context, tx *db.Tx, a Account, email, name string, lookup []byte, hash string) error {
	enc, err := s.keys.Encrypt(ctx, tx, a.ID, emailField(a.ID), []byte(email))
	if err != nil {
		return err
	}
	var nameEnc []byte
	if name != "" {
		if nameEnc, err = s.keys.Encrypt(ctx, tx, a.ID, nameField(a.ID), []byte(name)); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO accounts (id, email_lookup, email_enc, name_enc, role, status, password_hash, created_at, updated_at,
		                       email_verified_at, password_changed_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)`,
		a.ID, lookup, enc, nameEnc, string(a.Role), a.Status, hash, a.CreatedAt, nullTime(a.EmailVerifiedAt), nullTime(a.PasswordChangedAt))
	if db.IsUniqueViolation(err) {
		return apperr.Wrap(apperr.Conflict, "An account with this email address already exists.", err)
	}
	if err != nil {
		return err
	}
	return s.rememberPassword(ctx, tx, a.ID, hash)
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
	var id string
	err = s.db.QueryRowContext(ctx, `SELECT id FROM accounts WHERE email_lookup = $1`, lookup).Scan(&id)
	if err != nil {
		return Account{}, apperr.Wrap(apperr.NotFound, "No such account.", err)
	}
	return s.Account(ctx, id)
}

// emailLookup is the keyed hash used to find an account by email.
func (s *Service) emailLookup(_ context.Context, email string) ([]byte, error) {
	m := hmac.New(sha256.New, s.lookupKey)
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

// CheckPassword applies the password rules of the policy profile
// (internal/password) and says which rule failed, in plain words.
func (s *Service) CheckPassword(pw, email, name string) error {
	return s.passwords.Check(password.Input{Password: pw, Email: email, Name: name})
}

// PasswordRules are the rules in plain words, to show before the user
// types (CP-4.3).
func (s *Service) PasswordRules() []string { return s.passwords.Rules() }

// HashGate is the gate the service's password checks go through.
func (s *Service) HashGate() *HashGate { return s.hashes }

// Profile is the policy profile the service enforces.
func (s *Service) Profile() policy.Profile { return s.profile }

func (s *Service) argon2() Argon2Params {
	a := s.profile.Password.Argon2
	return Argon2Params{MemoryKiB: a.MemoryKiB, Iterations: a.Iterations, Parallelism: a.Parallelism}
}

// newID returns an unguessable identifier (128 bits from crypto/rand).
func newID() string { return strings.ToLower(rand.Text()) }
