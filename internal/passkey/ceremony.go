package passkey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Kinds of ceremony, as stored in webauthn_challenges.kind.
const (
	kindRegister = "register"
	kindLogin    = "login"
)

// Sign-in modes, as recorded in audit events.
const (
	modeSecondFactor = "second_factor"
	modePasswordless = "passwordless"
)

// Reasons for a refusal, as recorded in audit events (never shown).
const (
	reasonUnknownChallenge  = "unknown_challenge"   // no such ceremony, or one of another kind
	reasonWrongAccount      = "wrong_account"       // the ceremony belongs to another account
	reasonReplayed          = "replayed"            // the ceremony was already finished
	reasonExpired           = "expired"             // begun more than ChallengeTTL ago
	reasonMalformed         = "malformed"           // the answer does not parse
	reasonVerification      = "verification_failed" // signature, origin, RP ID, challenge, flags
	reasonUnknownCredential = "unknown_credential"  // not a credential of the account
	reasonUnknownUser       = "unknown_user"        // a user handle that no account has
	reasonDuplicate         = "duplicate_credential"
	reasonCounterRegressed  = "sign_count_regressed" // a cloned authenticator
	reasonWrongKind         = "wrong_mode"           // a second-factor ceremony at the passwordless endpoint, or the reverse
)

// Messages shown for refusals. They do not say which check failed.
const (
	msgLoginFailed  = "Your passkey could not be verified. Try again, or sign in another way."
	msgLoginExpired = "The passkey request has expired or was already used. Try again."
	msgCloned       = "This passkey was refused because it may have been copied. Sign in another way, then remove it from your account's security page."
	msgAddFailed    = "The passkey could not be added. Try again."
	msgAddExpired   = "The request to add a passkey has expired or was already used. Try again."
	msgAddDuplicate = "This passkey is already registered."
)

// maxDisplayLength bounds the account name sent to the authenticator, in
// bytes: the least that authenticators must be able to store.
const maxDisplayLength = 64

// BeginRegistration starts adding a passkey to an account. displayName is
// what the authenticator shows for the account (the email address, say); it
// goes to the browser only and is not stored. The options ask for a
// discoverable credential (so that it also serves passwordless sign-in),
// prefer user verification, and exclude the account's existing passkeys (an
// authenticator that has one already refuses to make a second).
func (s *Service) BeginRegistration(ctx context.Context, accountID, displayName string) (challengeID string, options []byte, err error) {
	displayName = cleanDisplayName(displayName)
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		handle, err := ensureUserHandle(ctx, tx, accountID)
		if err != nil {
			return err
		}
		existing, err := rows(ctx, tx, accountID)
		if err != nil {
			return err
		}
		u := &user{handle: handle, name: displayName, display: displayName, rows: existing}
		creation, session, err := s.wa.BeginRegistration(u,
			webauthn.WithExclusions(webauthn.Credentials(u.WebAuthnCredentials()).CredentialDescriptors()),
			webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		)
		if err != nil {
			return fmt.Errorf("passkey: begin registration: %w", err)
		}
		if options, err = json.Marshal(creation); err != nil {
			return fmt.Errorf("passkey: begin registration: %w", err)
		}
		challengeID, err = storeChallenge(ctx, tx, accountID, kindRegister, session)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return challengeID, options, nil
}

// BeginLogin starts a sign-in with a passkey as the second factor, for an
// account whose password has just been verified: the browser may only use
// one of that account's passkeys (allowCredentials). An account with no
// passkey is NotFound.
func (s *Service) BeginLogin(ctx context.Context, accountID string) (challengeID string, options []byte, err error) {
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		handle, err := userHandle(ctx, tx, accountID)
		if err != nil {
			return err
		}
		existing, err := rows(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if handle == nil || len(existing) == 0 {
			return apperr.New(apperr.NotFound, "No passkey is registered for this account.")
		}
		assertion, session, err := s.wa.BeginLogin(&user{handle: handle, rows: existing})
		if err != nil {
			return fmt.Errorf("passkey: begin login: %w", err)
		}
		if options, err = json.Marshal(assertion); err != nil {
			return fmt.Errorf("passkey: begin login: %w", err)
		}
		challengeID, err = storeChallenge(ctx, tx, accountID, kindLogin, session)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return challengeID, options, nil
}

// BeginDiscoverableLogin starts a passwordless sign-in: no account is known
// yet; the authenticator offers the passkeys it holds for Portico and the
// answer names the account by its user handle.
//
// Enforces CP-4.1: user verification is required, so that the passkey
// alone stands for two factors (the device, and its PIN or biometric).
func (s *Service) BeginDiscoverableLogin(ctx context.Context) (challengeID string, options []byte, err error) {
	assertion, session, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return "", nil, fmt.Errorf("passkey: begin discoverable login: %w", err)
	}
	if options, err = json.Marshal(assertion); err != nil {
		return "", nil, fmt.Errorf("passkey: begin discoverable login: %w", err)
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		challengeID, err = storeChallenge(ctx, tx, "", kindLogin, session)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return challengeID, options, nil
}

// FinishRegistration completes BeginRegistration: body is the browser's
// credential (PublicKeyCredential as JSON, with base64url binary fields, as
// passkey.js sends it in FinishRequest.Credential) and name the owner's
// label for it ("" gives "Passkey"). The ceremony must be one begun for this
// same account, unused and unexpired; it is spent whatever the outcome. On
// success the passkey is stored and passkey.add audited, in tx.
//
// A refused ceremony returns an error wrapping ErrRefused after recording
// passkey.add with outcome failure in tx: commit tx all the same.
func (s *Service) FinishRegistration(ctx context.Context, tx *db.Tx, accountID, challengeID, name string, body []byte) (Passkey, error) {
	name, err := normalizeName(name, true)
	if err != nil {
		return Passkey{}, err
	}
	refuse := func(reason string) (Passkey, error) {
		msg := msgAddFailed
		switch reason {
		case reasonUnknownChallenge, reasonWrongAccount, reasonReplayed, reasonExpired:
			msg = msgAddExpired
		case reasonDuplicate:
			msg = msgAddDuplicate
		}
		return Passkey{}, s.refuse(ctx, tx, "passkey.add", accountID, reason, audit.Failure, apperr.Invalid, msg, nil)
	}
	c, reason, err := claim(ctx, tx, challengeID, kindRegister, accountID)
	if err != nil {
		return Passkey{}, err
	}
	if reason != "" {
		return refuse(reason)
	}
	if len(body) > maxBody {
		return refuse(reasonMalformed)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return refuse(reasonMalformed)
	}
	handle, err := userHandle(ctx, tx, accountID)
	if err != nil {
		return Passkey{}, err
	}
	existing, err := rows(ctx, tx, accountID)
	if err != nil {
		return Passkey{}, err
	}
	cred, err := s.wa.CreateCredential(&user{handle: handle, rows: existing}, c.session, parsed)
	if err != nil {
		return refuse(reasonVerification)
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM passkeys WHERE credential_id = $1`, cred.ID).Scan(&one)
	if err == nil {
		return refuse(reasonDuplicate)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Passkey{}, fmt.Errorf("passkey: look up credential: %w", err)
	}

	p := Passkey{
		ID:             newID(),
		AccountID:      accountID,
		Name:           name,
		AAGUID:         formatUUID(cred.Authenticator.AAGUID),
		BackupEligible: cred.Flags.BackupEligible,
		BackedUp:       cred.Flags.BackupState,
		UserVerified:   cred.Flags.UserVerified,
		SignCount:      cred.Authenticator.SignCount,
		CreatedAt:      tx.Now(),
	}
	for _, t := range cred.Transport {
		if t := string(t); t != "" && !strings.Contains(t, ",") {
			p.Transports = append(p.Transports, t)
		}
	}
	aaguid := cred.Authenticator.AAGUID
	if len(aaguid) != 16 {
		aaguid = make([]byte, 16)
	}
	enc, err := s.keys.Encrypt(ctx, tx, accountID, nameField(p.ID), []byte(name))
	if err != nil {
		return Passkey{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO passkeys (rp_id, `+columns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL)`,
		s.rpID, p.ID, accountID, cred.ID, cred.PublicKey, cred.AttestationType, cred.AttestationFormat,
		aaguid, int64(p.SignCount), strings.Join(p.Transports, ","), p.BackupEligible, p.BackedUp, p.UserVerified, enc,
		p.CreatedAt)
	if err != nil {
		return Passkey{}, fmt.Errorf("passkey: store: %w", err)
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{
		Action:  "passkey.add",
		Target:  "account:" + accountID,
		Outcome: audit.Success,
		Details: map[string]any{
			"passkey_id":      p.ID,
			"aaguid":          p.AAGUID,
			"backup_eligible": p.BackupEligible,
			"user_verified":   p.UserVerified,
		},
	})
	if err != nil {
		return Passkey{}, err
	}
	return p, nil
}

// FinishLogin completes BeginLogin or BeginDiscoverableLogin: body is the
// browser's credential (FinishRequest.Credential). It checks the ceremony
// (known, unused, unexpired; it is spent whatever the outcome), the
// signature, origin, RP ID and flags; for a second factor, that the
// credential is one of the ceremony's account; for a passwordless sign-in,
// finds the account by the user handle and requires user verification. It
// then records the new signature counter and the time of use, audits
// passkey.login, and returns the account that signed in.
//
// Enforces CP-4.1: a signature counter that does not move forward means
// two authenticators hold one credential (a clone); the sign-in is refused
// and audited with outcome denied.
//
// A refused ceremony returns an error wrapping ErrRefused after recording
// passkey.login with outcome failure or denied in tx: commit tx all the
// same, so that the challenge stays spent and the event stays recorded.
// Whether the account may sign in at all (disabled, locked) is the
// caller's to check.
func (s *Service) FinishLogin(ctx context.Context, tx *db.Tx, challengeID string, body []byte) (accountID string, p Passkey, err error) {
	return s.FinishLoginAs(ctx, tx, challengeID, "", body)
}

// Login modes for FinishLoginAs.
const (
	// ModePasswordless: a ceremony begun by BeginDiscoverableLogin.
	ModePasswordless = modePasswordless
	// ModeSecondFactor: a ceremony begun by BeginLogin for an account.
	ModeSecondFactor = modeSecondFactor
)

// FinishLoginAs is FinishLogin for an endpoint that serves one kind of
// ceremony (want is ModePasswordless or ModeSecondFactor; "" accepts
// either). A challenge begun for the other kind is refused and spent: a
// second-factor challenge, which only prefers user verification, must not
// finish as a passwordless sign-in, which requires it.
func (s *Service) FinishLoginAs(ctx context.Context, tx *db.Tx, challengeID, want string, body []byte) (accountID string, p Passkey, err error) {
	mode := ""
	refuse := func(accountID, reason string) (string, Passkey, error) {
		msg, outcome := msgLoginFailed, audit.Failure
		switch reason {
		case reasonUnknownChallenge, reasonReplayed, reasonExpired, reasonWrongKind:
			msg = msgLoginExpired
		case reasonCounterRegressed:
			msg, outcome = msgCloned, audit.Denied
		}
		var details map[string]any
		if mode != "" {
			details = map[string]any{"mode": mode}
		}
		return "", Passkey{}, s.refuse(ctx, tx, "passkey.login", accountID, reason, outcome, apperr.Unauthorized, msg, details)
	}
	c, reason, err := claim(ctx, tx, challengeID, kindLogin, "")
	if err != nil {
		return "", Passkey{}, err
	}
	if c.id != "" {
		mode = modePasswordless
		if c.accountID != "" {
			mode = modeSecondFactor
		}
	}
	if reason == "" && want != "" && mode != want {
		reason = reasonWrongKind
	}
	if reason != "" {
		return refuse(c.accountID, reason)
	}
	if len(body) > maxBody {
		return refuse(c.accountID, reasonMalformed)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return refuse(c.accountID, reasonMalformed)
	}

	var u *user
	var cred *webauthn.Credential
	if c.accountID != "" {
		if u, err = loadUser(ctx, tx, c.accountID); err != nil {
			return "", Passkey{}, err
		}
		accountID = c.accountID
		cred, err = s.wa.ValidateLogin(u, c.session, parsed)
		if err != nil {
			var unknown *protocol.ErrorUnknownCredential
			if errors.As(err, &unknown) {
				return refuse(accountID, reasonUnknownCredential)
			}
			return refuse(accountID, reasonVerification)
		}
	} else {
		// The handler runs inside the library's check; what it finds is
		// kept here so that the refusal names its reason, and a database
		// error stays an internal error.
		var lookupErr error
		reason := ""
		handler := func(rawID, handle []byte) (webauthn.User, error) {
			id, err := accountByHandle(ctx, tx, handle)
			if errors.Is(err, sql.ErrNoRows) {
				reason = reasonUnknownUser
				return nil, errors.New("unknown user handle")
			}
			if err == nil {
				u, err = loadUser(ctx, tx, id)
			}
			if err != nil {
				lookupErr = err
				return nil, err
			}
			accountID = id
			if _, ok := u.byCredentialID(rawID); !ok {
				reason = reasonUnknownCredential
				return nil, errors.New("credential of another account")
			}
			return u, nil
		}
		_, cred, err = s.wa.ValidatePasskeyLogin(handler, c.session, parsed)
		switch {
		case lookupErr != nil:
			return "", Passkey{}, lookupErr
		case reason != "":
			return refuse(accountID, reason)
		case err != nil:
			return refuse(accountID, reasonVerification)
		}
	}

	r, ok := u.byCredentialID(cred.ID)
	if !ok {
		return refuse(accountID, reasonUnknownCredential)
	}
	received := parsed.Response.AuthenticatorData.Counter
	regressed := func() (string, Passkey, error) {
		return "", Passkey{}, s.refuse(ctx, tx, "passkey.login", accountID, reasonCounterRegressed, audit.Denied,
			apperr.Unauthorized, msgCloned, map[string]any{
				"mode": mode, "passkey_id": r.ID, "stored_count": r.SignCount, "received_count": received,
			})
	}
	if cred.Authenticator.CloneWarning {
		return regressed()
	}
	now := tx.Now()
	// The condition repeats the counter check in the database, so that two
	// nodes finishing sign-ins with one credential at once cannot both move
	// it: the second finds the counter already at (or past) its value.
	res, err := tx.ExecContext(ctx, `UPDATE passkeys
		SET sign_count = $1, backup_state = $2, user_verified = $3, last_used_at = $4
		WHERE id = $5 AND (sign_count < $6 OR (sign_count = 0 AND $7 = 0))`,
		int64(cred.Authenticator.SignCount), cred.Flags.BackupState, cred.Flags.UserVerified, now,
		r.ID, int64(received), int64(received))
	if err != nil {
		return "", Passkey{}, fmt.Errorf("passkey: record use: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", Passkey{}, fmt.Errorf("passkey: record use: %w", err)
	} else if n == 0 {
		return regressed()
	}
	name, err := s.keys.Decrypt(ctx, tx, accountID, nameField(r.ID), r.nameEnc)
	if err != nil {
		return "", Passkey{}, fmt.Errorf("passkey: decrypt name: %w", err)
	}
	p = r.Passkey
	p.Name = string(name)
	p.SignCount = cred.Authenticator.SignCount
	p.BackedUp = cred.Flags.BackupState
	p.UserVerified = cred.Flags.UserVerified
	p.LastUsedAt = now
	_, err = s.audit.Append(ctx, tx, audit.Event{
		Action:  "passkey.login",
		Target:  "account:" + accountID,
		Outcome: audit.Success,
		Details: map[string]any{
			"mode":          mode,
			"passkey_id":    p.ID,
			"user_verified": parsed.Response.AuthenticatorData.Flags.HasUserVerified(),
		},
	})
	if err != nil {
		return "", Passkey{}, err
	}
	return accountID, p, nil
}

// refuse records a refused ceremony and returns the error for it.
func (s *Service) refuse(ctx context.Context, tx *db.Tx, action, accountID, reason, outcome string,
	code apperr.Code, msg string, details map[string]any) error {
	d := map[string]any{"reason": reason}
	for k, v := range details {
		d[k] = v
	}
	target := ""
	if accountID != "" {
		target = "account:" + accountID
	}
	if _, err := s.audit.Append(ctx, tx, audit.Event{Action: action, Target: target, Outcome: outcome, Details: d}); err != nil {
		return err
	}
	return apperr.Wrap(code, msg, fmt.Errorf("%w: %s", ErrRefused, reason))
}

// loadUser reads an account's user handle and passkeys.
func loadUser(ctx context.Context, q querier, accountID string) (*user, error) {
	handle, err := userHandle(ctx, q, accountID)
	if err != nil {
		return nil, err
	}
	rs, err := rows(ctx, q, accountID)
	if err != nil {
		return nil, err
	}
	return &user{handle: handle, rows: rs}, nil
}

// storeChallenge keeps a begun ceremony for ChallengeTTL and returns its ID.
func storeChallenge(ctx context.Context, tx *db.Tx, accountID, kind string, session *webauthn.SessionData) (string, error) {
	data, err := json.Marshal(session)
	if err != nil {
		return "", fmt.Errorf("passkey: encode session: %w", err)
	}
	var account any
	if accountID != "" {
		account = accountID
	}
	id := newID()
	now := tx.Now()
	_, err = tx.ExecContext(ctx, `INSERT INTO webauthn_challenges (id, account_id, kind, session_data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, account, kind, string(data), now, now.Add(ChallengeTTL))
	if err != nil {
		return "", fmt.Errorf("passkey: store challenge: %w", err)
	}
	return id, nil
}

// claim spends the ceremony id of the given kind, and of accountID when
// that is not empty. It returns a reason when the ceremony cannot be
// finished: unknown (or of another kind), of another account, already
// spent, or expired. An expired ceremony is spent too. The returned
// challenge has its id and account even when a reason is given, if the
// ceremony exists.
func claim(ctx context.Context, tx *db.Tx, id, kind, accountID string) (challenge, string, error) {
	var c challenge
	var gotKind, data string
	var account sql.NullString
	var used sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT account_id, kind, session_data, expires_at, used_at
		FROM webauthn_challenges WHERE id = $1`, id).Scan(&account, &gotKind, &data, &c.expiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) || err == nil && gotKind != kind {
		return challenge{}, reasonUnknownChallenge, nil
	}
	if err != nil {
		return challenge{}, "", fmt.Errorf("passkey: read challenge: %w", err)
	}
	if accountID != "" && account.String != accountID {
		// Not claimed: the ceremony stays usable by its own account.
		return challenge{}, reasonWrongAccount, nil
	}
	c.id, c.accountID = id, account.String
	if used.Valid {
		return c, reasonReplayed, nil
	}
	now := tx.Now()
	// The condition makes the claim atomic across nodes: on PostgreSQL a
	// second finisher waits for the first's row lock, then sees used_at set
	// and changes nothing.
	res, err := tx.ExecContext(ctx, `UPDATE webauthn_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, now, id)
	if err != nil {
		return challenge{}, "", fmt.Errorf("passkey: claim challenge: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return challenge{}, "", fmt.Errorf("passkey: claim challenge: %w", err)
	} else if n == 0 {
		return c, reasonReplayed, nil
	}
	if !now.Before(c.expiresAt) {
		return c, reasonExpired, nil
	}
	if err := json.Unmarshal([]byte(data), &c.session); err != nil {
		return challenge{}, "", fmt.Errorf("passkey: decode session of challenge %s: %w", id, err)
	}
	return c, "", nil
}

// cleanDisplayName makes the account's display name fit what
// authenticators keep (64 bytes is the floor they must store).
func cleanDisplayName(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	if s == "" {
		return "Portico account"
	}
	for len(s) > maxDisplayLength {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
