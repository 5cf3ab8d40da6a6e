package app

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
)

// NewCompliance builds the live compliance report's service: the program's
// controls and the evidence checks, reading the storage and services;
// publicURL is the portal's public URL, for the address of the published
// signing keys.
// tlsAddr and tlsCfg are the HTTPS listener's address and configuration
// for the TLS check (empty in a process that serves nothing: that check
// then fails saying so).
func NewCompliance(st *Storage, sv *Services, publicURL, tlsAddr string, tlsCfg *tls.Config) (*compliance.Service, error) {
	src := compliance.Sources{
		DB: st.DB, Audit: st.Audit, Keys: st.Keyring, Profile: st.Profile,
		TLSAddr: tlsAddr, TLSConfig: tlsCfg,
		Build: buildinfo.Read,
	}
	if sv != nil {
		src.Identity, src.Sessions, src.Tokens, src.Support = sv.Identity, sv.Sessions, sv.Tokens, sv.Support
		src.Privacy, src.Retention, src.Detect, src.Incidents = sv.Privacy, sv.Retention, sv.Detect, sv.Incidents
		src.Findings, src.Training, src.Vendors, src.PolicyDocs = sv.Findings, sv.Training, sv.Vendors, sv.PolicyDocs
	}
	svc, err := compliance.New(st.DB, st.Audit, st.Profile, Controls(), compliance.Checks(src))
	if err != nil {
		return nil, err
	}
	svc.SetKeyring(st.Keyring) // the evidence bundle's signing key (MTL-7.2)
	svc.SetPublicURL(publicURL)
	return svc, nil
}

// Compliance is the compliance service of a process that does not serve:
// `portico compliance ...` opens the installation, builds the services and
// reads the TLS certificate the server uses, without creating anything.
type Compliance struct {
	Storage  *Storage
	Services *Services
	Service  *compliance.Service
}

// Close releases the services and the storage.
func (c *Compliance) Close() error {
	return errors.Join(c.Services.Close(), c.Storage.Close())
}

// OpenCompliance opens an existing installation for the compliance
// commands. The TLS check connects to cfg.Addr as a client, trusting the
// certificate the server was given (--tls-cert) or made itself; without
// one it fails saying so.
func OpenCompliance(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Compliance, error) {
	st, err := OpenStorage(ctx, cfg, Existing, logger)
	if err != nil {
		return nil, err
	}
	public := cfg.PublicURL
	if public == "" {
		public = "https://" + cfg.Addr
	}
	sv, err := NewServices(st, cfg, public, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	var tlsCfg *tls.Config
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if certFile == "" {
		certFile, keyFile = filepath.Join(cfg.DataDir, "tls", "cert.pem"), filepath.Join(cfg.DataDir, "tls", "key.pem")
	}
	if cert, err := loadCertificate(certFile, keyFile); err == nil {
		tlsCfg = tlsConfig(cert)
	}
	svc, err := NewCompliance(st, sv, public, cfg.Addr, tlsCfg)
	if err != nil {
		sv.Close()
		st.Close()
		return nil, err
	}
	return &Compliance{Storage: st, Services: sv, Service: svc}, nil
}
