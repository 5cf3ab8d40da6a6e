// Package passkey holds an account's passkeys (WebAuthn credentials) and
// runs the two WebAuthn ceremonies with github.com/go-webauthn/webauthn:
// registration, and sign-in either as the second factor after a password or
// passwordless, with a discoverable credential.
//
// Enforces CP-4.1 and MTL-3.1.2: a passkey is a phishing-resistant second
// factor (its signature is bound to Portico's origin and RP ID), and a
// passwordless sign-in demands user verification, so the one gesture proves
// both possession of the authenticator and a PIN or biometric.
//
// Ceremonies are stored in the database (webauthn_challenges), not in the
// memory of one node: a ceremony begun on one node finishes on any other. A
// challenge is claimed by a single UPDATE that sets used_at, so it answers
// at most once, and it expires after ChallengeTTL by the database's clock.
//
// The WebAuthn user handle of an account is 32 random bytes (table
// passkey_handles), not the account ID: the handle is stored by every
// authenticator and passkey provider the customer uses, and synced between
// their devices, so it should name nothing that Portico uses elsewhere (the
// account ID appears in audit events, URLs and exports) and nothing
// personal. The handle's only use is to find the account in a passwordless
// sign-in.
package passkey

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// ChallengeTTL is how long a begun ceremony can be finished. It is also the
// timeout the browser is given.
const ChallengeTTL = 5 * time.Minute

// MaxNameLength bounds a passkey's label, in characters.
const MaxNameLength = 64

// maxBody bounds the browser's JSON answer. A real one is a few kilobytes
// (attestation certificates included); the web layer limits bodies too.
const maxBody = 64 << 10

// defaultName labels a passkey whose owner gave it no name.
const defaultName = "Passkey"

// Config describes the relying party: Portico as the browser sees it.
type Config struct {
	// RPID is the relying party ID: the host name customers use, without
	// scheme or port ("localhost", "portal.example.com"). Passkeys are bound
	// to it: changing it makes every registered passkey unusable.
	RPID string
	// RPName is shown by the browser and the authenticator; "Portico" when
	// empty.
	RPName string
	// Origins are the origins pages run on ("https://localhost:8443"); the
	// browser's answer must name one of them.
	Origins []string
	// Keys encrypts the passkey labels under the account's data key: a
	// label is free text and may name a person (CP-5.1).
	Keys *crypto.Keyring
}

// Passkey is a registered credential as the account's owner sees it. It
// holds no key material.
type Passkey struct {
	ID        string
	AccountID string
	// Name is the owner's label for it, e.g. "Work laptop".
	Name string
	// AAGUID identifies the authenticator model (all zeros when the
	// authenticator does not say), as a UUID string.
	AAGUID string
	// Transports are how the browser can reach the authenticator
	// ("internal", "usb", "hybrid", ...), as reported at registration.
	Transports []string
	// BackupEligible and BackedUp say whether this is a synced passkey.
	BackupEligible bool
	BackedUp       bool
	// UserVerified reports whether the authenticator has verified its user
	// (PIN or biometric) for this credential.
	UserVerified bool
	SignCount    uint32
	CreatedAt    time.Time
	// LastUsedAt is zero until the first sign-in with it.
	LastUsedAt time.Time
}

// ErrRefused is wrapped by the error of a ceremony that was refused: an
// unknown, used or expired challenge, a malformed answer, a signature,
// origin or RP ID that does not verify, a credential of another account, a
// signature counter that went back. Test for it with errors.Is.
//
// A refused Finish has written to its transaction (the challenge is spent,
// the failure is in the audit trail): the caller should commit, not roll
// back, and answer the browser with the error's message.
var ErrRefused = errors.New("passkey: ceremony refused")

// Service registers passkeys and signs accounts in with them.
type Service struct {
	db    *db.DB
	audit *audit.Log
	keys  *crypto.Keyring
	wa    *webauthn.WebAuthn
	rpID  string
}

// New returns a passkey service for the relying party described by cfg.
func New(d *db.DB, log *audit.Log, cfg Config) (*Service, error) {
	if d == nil || log == nil {
		return nil, errors.New("passkey: database and audit log are required")
	}
	if cfg.Keys == nil {
		return nil, errors.New("passkey: Config.Keys is required (passkey labels are encrypted)")
	}
	if cfg.RPID == "" {
		return nil, errors.New("passkey: Config.RPID is required")
	}
	if len(cfg.Origins) == 0 {
		return nil, errors.New("passkey: Config.Origins needs at least one origin")
	}
	name := cfg.RPName
	if name == "" {
		name = "Portico"
	}
	timeouts := webauthn.TimeoutConfig{Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: name,
		RPOrigins:     append([]string(nil), cfg.Origins...),
		// Expiry is enforced by the database's clock (expires_at), which
		// tests can move and every node shares; the library's own check
		// would use this node's wall clock.
		Timeouts: webauthn.TimeoutsConfig{Login: timeouts, Registration: timeouts},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: protocol.VerificationPreferred,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{db: d, audit: log, keys: cfg.Keys, wa: wa, rpID: cfg.RPID}, nil
}

// normalizeName checks a label: trimmed, at most MaxNameLength characters,
// no control characters.
func normalizeName(s string, allowEmpty bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if allowEmpty {
			return defaultName, nil
		}
		return "", apperr.New(apperr.Invalid, "Give the passkey a name, such as \u201cWork laptop\u201d.")
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", apperr.New(apperr.Invalid, "The passkey name contains characters that are not allowed.")
	}
	if utf8.RuneCountInString(s) > MaxNameLength {
		return "", apperr.Errorf(apperr.Invalid, "The passkey name is too long: use at most %d characters.", MaxNameLength)
	}
	return s, nil
}

// newID returns an unguessable identifier (128 bits from crypto/rand).
func newID() string { return strings.ToLower(rand.Text()) }

// nameField is where a passkey's encrypted label lives.
func nameField(passkeyID string) crypto.Field {
	return crypto.Field{Table: "passkeys", Column: "name_enc", Row: passkeyID}
}
