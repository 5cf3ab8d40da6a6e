package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/portico/portico/internal/db"
)

// Kinds of security notice (CP-9.1 channel, MTL-8.2 education): each is
// sent to the inbox and by email.
const (
	noticeNewSignIn       = "new-sign-in"
	noticePasswordChanged = "password-changed"
	noticeFactorAdded     = "factor-added"
	noticeFactorRemoved   = "factor-removed"
	noticeLockout         = "lockout"
	noticeRecoveryUsed    = "recovery-code-used"
	noticePasswordExpiry  = "password-expiry"
	noticeSignupAttempt   = "signup-attempt"
	noticeVerifyEmail     = "verify-email"
	noticeResetPassword   = "reset-password"
	noticeSessionsEnded   = "sessions-ended"
	noticeEmailChange     = "email-change"
	noticeTokenCreated    = "token-created"
)

// ifNotYou ends every notice about a change the customer might not have
// made.
const ifNotYou = "If this was not you, sign in and change your password now, then report it from your account's security page (\"This wasn't me\"), or contact support."

// stamp formats a time for a notice: UTC, unambiguous in every country.
func stamp(t time.Time) string { return t.UTC().Format("2 January 2006 at 15:04 UTC") }

// where describes the origin of a sign-in for a notice.
func where(device, ip, country string) string {
	s := device
	if ip != "" {
		s += ", from IP address " + ip
	}
	if country != "" {
		s += " (" + countryName(country) + ")"
	}
	return s
}

// notice sends a security notice in tx (inbox and email), when a notifier
// is configured.
func (s *Service) notice(ctx context.Context, tx *db.Tx, accountID, email, kind, title, body string) error {
	return s.noticeTo(ctx, tx, Notice{AccountID: accountID, To: email, Kind: kind, Title: title, Body: body, Inbox: true, Email: true})
}

func (s *Service) noticeTo(ctx context.Context, tx *db.Tx, n Notice) error {
	if s.notifier == nil {
		return nil
	}
	return s.notifier.SecurityNotice(ctx, tx, n)
}

// link returns an absolute link to path on the public URL.
func (s *Service) link(path string) string { return s.publicURL + path }

// Link returns an absolute link to path on the public URL, for other
// services' notices.
func (s *Service) Link(path string) string { return s.link(path) }

// countryName is the English name of an ISO 3166 code for the few codes
// worth spelling out; others are shown as their code.
func countryName(code string) string {
	if n, ok := countryNames[code]; ok {
		return fmt.Sprintf("%s, %s", n, code)
	}
	return code
}

var countryNames = map[string]string{
	"US": "United States", "GB": "United Kingdom", "CA": "Canada", "DE": "Germany", "FR": "France",
	"NL": "Netherlands", "IE": "Ireland", "ES": "Spain", "IT": "Italy", "PT": "Portugal", "BE": "Belgium",
	"CH": "Switzerland", "AT": "Austria", "SE": "Sweden", "NO": "Norway", "DK": "Denmark", "FI": "Finland",
	"PL": "Poland", "AU": "Australia", "NZ": "New Zealand", "JP": "Japan", "CN": "China", "IN": "India",
	"BR": "Brazil", "MX": "Mexico", "RU": "Russia", "ZA": "South Africa", "SG": "Singapore",
}
