package web

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// mfaSetupPage sets up a second factor. For an account in restricted mode
// (MFA required, none yet) it is the only page there is (CP-12).
type mfaSetupPage struct {
	Page
	Restricted      bool
	Fresh           bool // re-authenticated within the step-up window
	Account         identity.Account
	Pending         bool
	Secret          string
	QR              template.URL // data: URL of the PNG QR code
	OTPAuth         template.URL // otpauth:// link for an app on the same device
	PasskeysEnabled bool
}

func (s *Server) mfaSetupData(w http.ResponseWriter, r *http.Request) (mfaSetupPage, error) {
	ctx := r.Context()
	acct := accountFrom(ctx)
	p := mfaSetupPage{
		Page:            s.page(w, r, "Set up a second factor"),
		Restricted:      access.PrincipalFrom(ctx).Stage == access.StageEnrol,
		Fresh:           s.freshSession(r),
		Account:         acct,
		PasskeysEnabled: s.passkeys != nil,
	}
	e, ok, err := s.identity.PendingTOTP(ctx, acct.ID)
	if err != nil {
		return p, err
	}
	if ok {
		p.Pending, p.Secret = true, e.Secret
		// The QR code is an image made here; a data: URL keeps the
		// secret off any other URL (img-src allows data:).
		p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG))
		// On the phone itself a QR code cannot be scanned: the otpauth:
		// link opens the authenticator app with the key (made here, not
		// from any input, so it is safe as a URL).
		if strings.HasPrefix(e.URI, "otpauth://totp/") {
			p.OTPAuth = template.URL(e.URI)
		}
	}
	return p, nil
}

func (s *Server) mfaSetup(w http.ResponseWriter, r *http.Request) error {
	p, err := s.mfaSetupData(w, r)
	if err != nil {
		return err
	}
	return s.render(w, "mfa_setup", p)
}

// totpStart makes a new pending secret and shows it.
func (s *Server) totpStart(w http.ResponseWriter, r *http.Request) error {
	if !s.fresh(w, r, "/account/mfa/setup") {
		return nil
	}
	if err := s.identity.StartTOTP(r.Context(), accountFrom(r.Context()).ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/mfa/setup#totp", http.StatusSeeOther)
	return nil
}

// recoveryPage shows freshly issued recovery codes, once.
type recoveryPage struct {
	Page
	Codes []string
	Next  string
}

// totpConfirm checks the first code from the app. In restricted mode the
// session then becomes a full sign-in (the enrolment proved the factor).
func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if !s.fresh(w, r, "/account/mfa/setup") {
		return nil
	}
	ctx := r.Context()
	acct := accountFrom(ctx)
	codes, err := s.identity.ConfirmTOTP(ctx, acct.ID, r.PostForm.Get("code"))
	if err != nil {
		if msg := formError(err); msg != "" {
			p, perr := s.mfaSetupData(w, r)
			if perr != nil {
				return perr
			}
			p.Error = msg
			return s.renderStatus(w, formStatus(err), "mfa_setup", p)
		}
		return err
	}
	next, err := s.upgradeSession(w, r, identity.MethodTOTP)
	if err != nil {
		return err
	}
	return s.afterFactorAdded(w, r, codes, next+"?done=totp-added")
}

// upgradeSession turns a session without a second factor into a full one
// after the account enrolled its first factor, and returns where to go.
func (s *Server) upgradeSession(w http.ResponseWriter, r *http.Request, method string) (string, error) {
	sess, _ := session.FromContext(r.Context())
	if sess.AAL >= 2 {
		return "/account/security", nil
	}
	res, err := s.identity.FinishEnrolment(r.Context(), sess, method, clientIP(r), r.UserAgent())
	if err != nil {
		return "", err
	}
	session.SetCookie(w, res.Token)
	if res.Next == identity.StepChangePassword {
		return "/account/password", nil
	}
	return "/account/security", nil
}

// afterFactorAdded shows new recovery codes, if any were issued, or goes
// on to next.
func (s *Server) afterFactorAdded(w http.ResponseWriter, r *http.Request, codes []string, next string) error {
	if len(codes) == 0 {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return s.render(w, "recovery_codes", recoveryPage{Page: s.page(w, r, "Your recovery codes"), Codes: codes, Next: next})
}

func (s *Server) totpRemove(w http.ResponseWriter, r *http.Request) error {
	if !s.fresh(w, r, "/account/security") {
		return nil
	}
	if err := s.identity.RemoveTOTP(r.Context(), accountFrom(r.Context()).ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/security?done=totp-removed", http.StatusSeeOther)
	return nil
}

// regenerateRecovery voids the recovery codes and shows a new set once.
func (s *Server) regenerateRecovery(w http.ResponseWriter, r *http.Request) error {
	if !s.fresh(w, r, "/account/security") {
		return nil
	}
	ctx := r.Context()
	acct := accountFrom(ctx)
	// A refreshed page sends the form again: it names a set that the
	// codes just shown replaced, and must not replace those in turn.
	current, err := s.identity.RecoverySet(ctx, acct.ID)
	if err != nil {
		return err
	}
	if r.PostFormValue("set") != current {
		http.Redirect(w, r, "/account/security?done=recovery-already-made", http.StatusSeeOther)
		return nil
	}
	codes, err := s.identity.RegenerateRecoveryCodes(ctx, acct.ID)
	if err != nil {
		return err
	}
	return s.render(w, "recovery_codes", recoveryPage{Page: s.page(w, r, "Your recovery codes"), Codes: codes, Next: "/account/security?done=recovery-replaced"})
}

// recoveryOfferPage offers to make recovery codes after the first passkey.
type recoveryOfferPage struct {
	Page
	RecoverySet string
}

func (s *Server) recoveryOffer(w http.ResponseWriter, r *http.Request) error {
	set, err := s.identity.RecoverySet(r.Context(), accountFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return s.render(w, "recovery_offer", recoveryOfferPage{Page: s.page(w, r, "Make your recovery codes"), RecoverySet: set})
}
