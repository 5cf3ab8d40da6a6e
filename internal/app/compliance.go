package app

import (
	"crypto/tls"

	"github.com/portico/portico/internal/compliance"
)

// NewCompliance builds the live compliance report's service: the program's
// controls and the evidence checks, reading the storage and services.
// tlsAddr and tlsCfg are the HTTPS listener's address and configuration
// for the TLS check (empty in a process that serves nothing: that check
// then fails saying so).
func NewCompliance(st *Storage, sv *Services, tlsAddr string, tlsCfg *tls.Config) (*compliance.Service, error) {
	src := compliance.Sources{
		DB: st.DB, Audit: st.Audit, Keys: st.Keyring, Profile: st.Profile,
		TLSAddr: tlsAddr, TLSConfig: tlsCfg,
	}
	if sv != nil {
		src.Identity, src.Sessions, src.Tokens, src.Support = sv.Identity, sv.Sessions, sv.Tokens, sv.Support
		src.Privacy, src.Retention, src.Detect, src.Incidents = sv.Privacy, sv.Retention, sv.Detect, sv.Incidents
		src.Findings, src.Training, src.Vendors, src.PolicyDocs = sv.Findings, sv.Training, sv.Vendors, sv.PolicyDocs
	}
	return compliance.New(st.DB, st.Audit, st.Profile, Controls(), compliance.Checks(src))
}
