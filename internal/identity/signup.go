package identity

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// SignUpInput is what the sign-up form sends.
type SignUpInput struct {
	Email    string
	Name     string
	Password string
	// PrivacyVersion is the version of the privacy notice the customer
	// accepted ("" if the box was not ticked); it must be the current one.
	PrivacyVersion string
	// CurrentPrivacyVersion is the version the site shows now.
	CurrentPrivacyVersion string
	IP                    string
}

// SignUp creates a customer account that waits for its email address to be
// confirmed, and mails the confirmation link. If the address already has an
// account, that account's owner is told instead, and the caller gets the
// same answer: sign-up does not reveal which addresses have accounts, and
// takes the same time either way (the password is hashed in both cases).
//
// Enforces MTL-2.1.2: the privacy notice version the customer accepted is
// recorded with the time. Enforces CP-4.3, MTL-3.1.1: the password policy.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) error {
	if err := s.throttle(ctx, in.IP, limitSignupIP); err != nil {
		return err
	}
	// Every input is checked, so that the form can say at once all that
	// is wrong (each message next to its input).
	problems := map[string]string{}
	invalid := func(field string, err error) error {
		if apperr.CodeOf(err) != apperr.Invalid {
			return err
		}
		problems[field] = apperr.MessageOf(err)
		return nil
	}
	name, err := normalizeName(in.Name)
	if err != nil {
		if err := invalid("name", err); err != nil {
			return err
		}
	} else if name == "" {
		problems["name"] = "Enter your name."
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		if err := invalid("email", err); err != nil {
			return err
		}
	}
	// The password may contain neither the address nor the name: checked
	// against them as typed when they are not valid yet.
	pwEmail, pwName := email, name
	if pwEmail == "" {
		pwEmail = strings.ToLower(strings.TrimSpace(in.Email))
	}
	if pwName == "" {
		pwName = strings.TrimSpace(in.Name)
	}
	if in.Password == "" {
		problems["password"] = "Choose a password."
	} else if err := s.CheckPassword(in.Password, pwEmail, pwName); err != nil {
		if err := invalid("password", err); err != nil {
			return err
		}
	}
	if in.PrivacyVersion == "" || in.PrivacyVersion != in.CurrentPrivacyVersion {
		problems["privacy"] = "Please read the privacy notice and tick the box to accept it."
	}
	if len(problems) == 1 {
		for field, msg := range problems {
			return apperr.InField(field, apperr.New(apperr.Invalid, msg))
		}
	}
	if len(problems) > 1 {
		return apperr.FieldErrors("Correct the "+strconv.Itoa(len(problems))+" problems below to create your account.", problems)
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return err
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var existing, status string
		err := tx.QueryRowContext(ctx, `SELECT id, status FROM accounts WHERE email_lookup = $1`, lookup).Scan(&existing, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case status == StatusUnverified:
			// A second sign-up before confirming takes the address over:
			// the new password, name and privacy acceptance replace the
			// old ones and only the new link works. Otherwise whoever
			// signed up first with someone else's address would keep
			// their password on the account its owner then confirms (a
			// pre-verification takeover).
			return s.restartSignUp(ctx, tx, existing, email, name, hash, in.PrivacyVersion)
		default:
			notify, err := s.mayTellOwner(ctx, tx, existing)
			if err != nil {
				return err
			}
			if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.signup", Target: "account:" + existing,
				Outcome: audit.Failure, Details: map[string]any{"reason": "address_in_use", "owner_notified": notify}}); err != nil {
				return err
			}
			if !notify {
				return nil
			}
			return s.noticeTo(ctx, tx, Notice{AccountID: existing, To: email, Kind: noticeSignupAttempt, Email: true,
				Title: "Someone tried to create an account with your address",
				Body: "Someone tried to sign up for Portico with your email address at " + stamp(tx.Now()) + ". You already have an account, so nothing was created.\n\n" +
					"If it was you, sign in at " + s.link("/login") + " or reset your password at " + s.link("/reset") + ". If not, you can ignore this message."})
		}
		now := tx.Now()
		acct := Account{ID: newID(), Role: access.RoleCustomer, Status: StatusUnverified, CreatedAt: now, PasswordChangedAt: now}
		if err := s.insertAccount(ctx, tx, acct, email, name, lookup, hash); err != nil {
			return err
		}
		if err := recordSignUpNotice(ctx, tx, acct.ID, in.PrivacyVersion, now); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.signup", Target: "account:" + acct.ID,
			Outcome: audit.Success, Details: map[string]any{"role": string(acct.Role), "privacy_version": in.PrivacyVersion}}); err != nil {
			return err
		}
		return s.sendVerification(ctx, tx, acct.ID, email)
	})
}

// restartSignUp replaces an unconfirmed account's password, name and
// privacy acceptance with those of a new sign-up for the same address, and
// sends a new link (which voids the old ones).
func (s *Service) restartSignUp(ctx context.Context, tx *db.Tx, id, email, name, hash, privacy string) error {
	nameEnc, err := s.keys.Encrypt(ctx, tx, id, nameField(id), []byte(name))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE accounts SET password_hash = $1, name_enc = $2, password_changed_at = $3, updated_at = $3 WHERE id = $4 AND status = $5`,
		hash, nameEnc, tx.Now(), id, StatusUnverified); err != nil {
		return err
	}
	if err := recordSignUpNotice(ctx, tx, id, privacy, tx.Now()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM password_history WHERE account_id = $1`, id); err != nil {
		return err
	}
	if err := s.rememberPassword(ctx, tx, id, hash); err != nil {
		return err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.signup", Target: "account:" + id,
		Outcome: audit.Success, Details: map[string]any{"restarted": true, "privacy_version": privacy}}); err != nil {
		return err
	}
	return s.sendVerification(ctx, tx, id, email)
}

// recordSignUpNotice records the privacy notice version accepted on the
// sign-up form, with the time: on the account (the version in force for
// it) and as its sign-up acknowledgement, which a restarted sign-up
// replaces and a later acknowledgement of a newer version leaves alone.
//
// Enforces MTL-2.1.2, CP-11.1: the acceptance at sign-up is kept, and
// exported, for as long as the account exists.
func recordSignUpNotice(ctx context.Context, tx *db.Tx, accountID, version string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET privacy_version = $1, privacy_accepted_at = $2 WHERE id = $3`,
		version, at, accountID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM notice_acks WHERE account_id = $1 AND at_sign_up`, accountID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx,
		`INSERT INTO notice_acks (account_id, version, at, at_sign_up) VALUES ($1, $2, $3, TRUE)
		 ON CONFLICT (account_id, version) DO UPDATE SET at = excluded.at, at_sign_up = TRUE`, accountID, version, at)
	return err
}

// sendVerification issues a new confirmation link and mails it.
func (s *Service) sendVerification(ctx context.Context, tx *db.Tx, accountID, email string) error {
	token, err := issueToken(ctx, tx, accountID, purposeVerifyEmail, VerifyLinkTTL)
	if err != nil {
		return err
	}
	return s.noticeTo(ctx, tx, Notice{AccountID: accountID, To: email, Kind: noticeVerifyEmail, Email: true,
		Title: "Confirm your email address for Portico",
		Body: "Welcome to Portico. To finish creating your account, confirm your email address by opening this link within 24 hours:\n\n" +
			s.link("/verify/"+token) + "\n\nIf you did not sign up, ignore this message: the account is deleted unless it is confirmed."})
}

// VerifyLinkValid reports whether a confirmation link can still be used,
// for the page the link opens (which asks for a click: no state change on
// GET).
func (s *Service) VerifyLinkValid(ctx context.Context, token string) bool {
	return peekToken(ctx, s.db, token, purposeVerifyEmail, s.db.Now())
}

// VerifyLinkAccount returns the account a valid confirmation link belongs
// to, so that the page can sign its holder in once the link is confirmed.
func (s *Service) VerifyLinkAccount(ctx context.Context, token string) (string, bool) {
	return tokenAccount(ctx, s.db, token, purposeVerifyEmail, s.db.Now())
}

// VerifyEmail confirms an account's email address with the link's token
// and the password chosen at sign-up, and activates the account. Asking
// for the password means that a link opened by someone who did not sign up
// (the owner of an address that another person signed up with) confirms
// nothing. A wrong password leaves the link usable and counts towards the
// account's lock.
//
// Enforces CP-4.3, CP-6.3: an account is only ever activated by the
// person who holds both the mailbox and the password.
func (s *Service) VerifyEmail(ctx context.Context, token, pw, ip, ua string) error {
	id, valid := tokenAccount(ctx, s.db, token, purposeVerifyEmail, s.db.Now())
	if !valid {
		return errBadLink
	}
	acct, err := s.Account(ctx, id)
	if err != nil {
		return err
	}
	var hash string
	if err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, id).Scan(&hash); err != nil {
		return err
	}
	try := attempt{method: MethodPassword, ip: ip, ua: ua}
	attemptID, refused, err := s.reserve(ctx, acct.ID, try)
	if err != nil {
		return err
	}
	if refused != "" {
		// The same time as a check; the account is known to whoever
		// holds the link, so a full anonymous lane may skip it.
		if err := s.dummyVerify(ctx, pw); err != nil && !errors.Is(err, errLaneFull) {
			return err
		}
		return errVerifyPassword
	}
	ok, _, _, err := s.checkReserved(ctx, acct.ID, attemptID, try, pw, hash)
	if err != nil {
		return err
	}
	if !ok {
		return errVerifyPassword
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		got, err := consumeToken(ctx, tx, token, purposeVerifyEmail)
		if err != nil {
			return err
		}
		if got != id {
			return errBadLink
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE accounts SET status = $1, email_verified_at = $2, updated_at = $2 WHERE id = $3 AND status = $4`,
			StatusActive, tx.Now(), id, StatusUnverified); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "account.verify_email", Target: "account:" + id, Outcome: audit.Success})
		return err
	})
}

// errVerifyPassword answers a confirmation with the wrong password.
var errVerifyPassword = apperr.New(apperr.Invalid, "That is not the password chosen when this account was created. If you did not sign up yourself, ignore the link: nothing happens unless it is confirmed.")
