package web

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/session"
)

// The passkey endpoints speak JSON with static/passkey.js (the contract is
// at the top of that file and in internal/passkey/wire.go). Errors are
// answered as {"error": message} with a message safe to show.

// passkeyError answers a ceremony step that failed.
func (s *Server) passkeyError(w http.ResponseWriter, r *http.Request, err error) error {
	msg := apperr.MessageOf(err)
	if msg == "" {
		s.logger.Error("passkey ceremony failed", "request_id", RequestID(r.Context()), "error", err.Error())
		msg = "Something went wrong on our side. Please try again."
	}
	status := statusOf(apperr.CodeOf(err))
	if errors.Is(err, passkey.ErrRefused) {
		status = http.StatusBadRequest
	}
	return writeJSON(w, status, passkey.ErrorResponse{Error: msg})
}

func (s *Server) passkeyBegin(w http.ResponseWriter, r *http.Request, begin func() (string, []byte, error)) error {
	id, opts, err := begin()
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	return writeJSON(w, http.StatusOK, passkey.BeginResponse{ChallengeID: id, Options: opts})
}

// finishCeremony reads the browser's answer and runs fn in a transaction
// that is committed even when the ceremony is refused: the spent challenge
// and the failure's audit event must stand.
func (s *Server) finishCeremony(r *http.Request, fn func(ctx context.Context, tx *db.Tx, f passkey.FinishRequest) error) (passkey.FinishRequest, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return passkey.FinishRequest{}, apperr.Wrap(apperr.TooLarge, "The request is too large.", err)
	}
	f, err := passkey.ParseFinish(body)
	if err != nil {
		return f, err
	}
	var refused error
	err = s.db.Transact(r.Context(), func(tx *db.Tx) error {
		err := fn(r.Context(), tx, f)
		if errors.Is(err, passkey.ErrRefused) {
			refused = err
			return nil
		}
		return err
	})
	if err == nil {
		err = refused
	}
	return f, err
}

// passkeyLoginBegin starts a passwordless sign-in (discoverable credential).
func (s *Server) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) error {
	// Anyone may ask for a challenge: count it against the sign-in limit
	// of their address, so nobody can fill the table (CP-8.2).
	if err := s.identity.ThrottleSignIn(r.Context(), clientIP(r)); err != nil {
		return s.passkeyError(w, r, err)
	}
	return s.passkeyBegin(w, r, func() (string, []byte, error) { return s.passkeys.BeginDiscoverableLogin(r.Context()) })
}

func (s *Server) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) error {
	var accountID string
	_, err := s.finishCeremony(r, func(ctx context.Context, tx *db.Tx, f passkey.FinishRequest) error {
		var err error
		accountID, _, err = s.passkeys.FinishLoginAs(ctx, tx, f.ChallengeID, passkey.ModePasswordless, f.Credential)
		return err
	})
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	res, err := s.identity.PasskeySignIn(r.Context(), accountID, clientIP(r), r.UserAgent())
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	session.SetCookie(w, res.Token)
	return writeJSON(w, http.StatusOK, passkey.FinishResponse{Redirect: s.afterStep(res.Next, "")})
}

// passkeyMFABegin starts a passkey as the second factor of a sign-in.
func (s *Server) passkeyMFABegin(w http.ResponseWriter, r *http.Request) error {
	sess, _ := session.FromContext(r.Context())
	return s.passkeyBegin(w, r, func() (string, []byte, error) { return s.passkeys.BeginLogin(r.Context(), sess.AccountID) })
}

func (s *Server) passkeyMFAFinish(w http.ResponseWriter, r *http.Request) error {
	sess, _ := session.FromContext(r.Context())
	var accountID string
	_, err := s.finishCeremony(r, func(ctx context.Context, tx *db.Tx, f passkey.FinishRequest) error {
		var err error
		accountID, _, err = s.passkeys.FinishLoginAs(ctx, tx, f.ChallengeID, passkey.ModeSecondFactor, f.Credential)
		return err
	})
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	res, err := s.identity.PasskeySecondFactor(r.Context(), sess, accountID, clientIP(r), r.UserAgent())
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	session.SetCookie(w, res.Token)
	return writeJSON(w, http.StatusOK, passkey.FinishResponse{Redirect: s.afterStep(res.Next, "")})
}

// errStepUp answers a passkey change from a session that has not
// re-authenticated recently.
var errStepUp = apperr.New(apperr.Forbidden, "For your safety, confirm your password first: reload the page and follow the link.")

// freshSession reports whether the session re-authenticated within the
// step-up window (for JSON endpoints, which cannot redirect).
func (s *Server) freshSession(r *http.Request) bool {
	sess, ok := session.FromContext(r.Context())
	return ok && s.sessions.StepUpFresh(sess)
}

// passkeyRegisterBegin starts adding a passkey (step-up required).
func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) error {
	if !s.freshSession(r) {
		return s.passkeyError(w, r, errStepUp)
	}
	acct := accountFrom(r.Context())
	email, err := s.identity.Email(r.Context(), acct.ID)
	if err != nil {
		return err
	}
	return s.passkeyBegin(w, r, func() (string, []byte, error) { return s.passkeys.BeginRegistration(r.Context(), acct.ID, email) })
}

// passkeyRegisterFinish stores the new passkey. A first second factor
// issues recovery codes (shown on the page the browser goes to next) and,
// in restricted mode, upgrades the session to a full sign-in.
func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) error {
	if !s.freshSession(r) {
		return s.passkeyError(w, r, errStepUp)
	}
	acct := accountFrom(r.Context())
	needCodes := false
	_, err := s.finishCeremony(r, func(ctx context.Context, tx *db.Tx, f passkey.FinishRequest) error {
		if _, err := s.passkeys.FinishRegistration(ctx, tx, acct.ID, f.ChallengeID, f.Name, f.Credential); err != nil {
			return err
		}
		// The owner is told in the transaction that stores the passkey.
		var err error
		needCodes, err = s.identity.FactorAdded(ctx, tx, acct.ID, "passkey")
		return err
	})
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	next, err := s.upgradeSession(w, r, identity.MethodPasskey)
	if err != nil {
		return s.passkeyError(w, r, err)
	}
	if needCodes && next == "/account/security" {
		// The first second factor: recovery codes are made and shown
		// once, by a POST from the page this sends the browser to.
		next = "/account/recovery-codes/new"
	} else {
		next += "?done=passkey-added"
	}
	return writeJSON(w, http.StatusOK, passkey.FinishResponse{Redirect: next})
}

func (s *Server) passkeyRename(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	acct := accountFrom(r.Context())
	err := s.db.Transact(r.Context(), func(tx *db.Tx) error {
		return s.passkeys.Rename(r.Context(), tx, acct.ID, r.PathValue("id"), r.PostForm.Get("name"))
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/account/security?done=passkey-renamed", http.StatusSeeOther)
	return nil
}

// passkeyRemove removes a passkey (step-up required), refusing to remove
// the last second factor of an account that must have one.
func (s *Server) passkeyRemove(w http.ResponseWriter, r *http.Request) error {
	if !s.fresh(w, r, "/account/security") {
		return nil
	}
	acct := accountFrom(r.Context())
	err := s.db.Transact(r.Context(), func(tx *db.Tx) error {
		if err := s.identity.CheckRemovePasskey(r.Context(), tx, acct.ID); err != nil {
			return err
		}
		if err := s.passkeys.Remove(r.Context(), tx, acct.ID, r.PathValue("id")); err != nil {
			return err
		}
		return s.identity.FactorRemoved(r.Context(), tx, acct.ID, "passkey")
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/account/security?done=passkey-removed", http.StatusSeeOther)
	return nil
}

// passkeyRows lists the account's passkeys for the security page.
func (s *Server) passkeyRows(r *http.Request) ([]passkeyRow, error) {
	list, err := s.passkeys.List(r.Context(), accountFrom(r.Context()).ID)
	if err != nil {
		return nil, err
	}
	out := make([]passkeyRow, len(list))
	for i, p := range list {
		out[i] = passkeyRow{ID: p.ID, Name: p.Name, Created: p.CreatedAt, LastUsedAt: p.LastUsedAt}
	}
	return out, nil
}

// inbox lists the account's notices for the inbox page.
func (s *Server) inbox(r *http.Request, accountID string) ([]noticeRow, error) {
	items, err := s.notices.Inbox(r.Context(), accountID, 100)
	if err != nil {
		return nil, err
	}
	out := make([]noticeRow, len(items))
	for i, it := range items {
		out[i] = noticeRow{ID: it.ID, Title: it.Title, Body: it.Body, At: it.CreatedAt, Read: it.Read()}
	}
	return out, nil
}
