package web

import (
	"net/http"
	"time"

	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/thirdparty"

	"github.com/portico/portico/internal/policy"
)

type landingPage struct{ Page }

func (s *Server) landing(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "landing", landingPage{Page: s.page(w, r, "Welcome")})
}

// guidelinesPage is the customer security guidance. Enforces MTL-8.2 and
// CP-3.1: customers are told how to keep their account safe and how to
// report suspicious activity, with the numbers of the live policy profile.
type guidelinesPage struct {
	Page
	MinLength         int
	MFARequired       bool
	ExpiryDays        int
	ExpiryWarningDays int
	Notify            time.Duration
}

func (s *Server) guidelines(w http.ResponseWriter, r *http.Request) error {
	p := s.profile
	return s.render(w, "guidelines", guidelinesPage{
		Page:              s.page(w, r, "Security tips"),
		MinLength:         p.Password.MinLength,
		MFARequired:       p.MFA.Mode == policy.MFARequired,
		ExpiryDays:        p.Password.ExpiryDays,
		ExpiryWarningDays: p.Password.ExpiryWarningDays,
		Notify:            p.Incident.CustomerNotification.Duration,
	})
}

// privacyPage is the privacy notice. Enforces MTL-2.1.2: users are told
// what is collected, for which purpose, on which basis and for how long;
// retention periods come from the live policy profile.
type privacyPage struct {
	Page
	NoticeVersion   string
	Categories      []privacy.Category
	ErasureGrace    time.Duration
	RequestDeadline time.Duration
	Notify          time.Duration
	Regulator       time.Duration
	// Recipients are the approved vendors that receive personal data
	// (GDPR Art. 13(1)(e)), from the vendor register.
	Recipients []thirdparty.Recipient
}

// privacyNoticeVersion is the version of the notice text below. Versioned
// notices that customers acknowledge arrive with the data-protection issue.
const privacyNoticeVersion = privacy.BuiltinNoticeVersion

func (s *Server) privacyNotice(w http.ResponseWriter, r *http.Request) error {
	p := s.profile
	var recipients []thirdparty.Recipient
	if s.vendors != nil {
		var err error
		if recipients, err = s.vendors.Recipients(r.Context()); err != nil {
			return err
		}
	}
	return s.render(w, "privacy", privacyPage{
		Recipients:      recipients,
		Page:            s.page(w, r, "Privacy notice"),
		NoticeVersion:   s.noticeVersion(r),
		Categories:      privacy.Inventory(p),
		ErasureGrace:    p.Privacy.ErasureGrace.Duration,
		RequestDeadline: p.Privacy.RequestDeadline.Duration,
		Notify:          p.Incident.CustomerNotification.Duration,
		Regulator:       p.Incident.RegulatorNotification.Duration,
	})
}
