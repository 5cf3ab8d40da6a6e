package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/compliance"
)

// evidenceKeyRoutes publish the public keys that sign evidence bundles, so
// that an auditor checks a bundle against the installation itself rather
// than the key inside the bundle. Reading creates nothing: before the
// first bundle there is no key to publish.
func (s *Server) evidenceKeyRoutes() []route {
	if s.compliance == nil {
		return nil
	}
	return []route{
		{"GET " + compliance.PublicKeysPath, access.Public, s.evidenceKeys},
		{"GET /.well-known/portico-evidence-key.pem", access.Public, s.evidenceKeyPEM},
	}
}

// evidenceKey is one key as the well-known JSON lists it.
type evidenceKey struct {
	Fingerprint string    `json:"fingerprint"`
	Algorithm   string    `json:"algorithm"`
	Current     bool      `json:"current"`
	PEM         string    `json:"public_key_pem"`
	CreatedAt   time.Time `json:"created_at"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
}

// evidenceKeys answers every signing key, current and retired (bundles
// signed before a rotation verify with the retired ones), newest first.
//
// Enforces MTL-7.2: the evidence bundle's public keys are published by
// the installation, for auditors to compare with a bundle's fingerprint.
func (s *Server) evidenceKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.compliance.SigningKeys(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Keys []evidenceKey `json:"keys"`
	}{Keys: []evidenceKey{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, evidenceKey{Fingerprint: k.Fingerprint, Algorithm: "Ed25519", Current: k.Current(),
			PEM: string(k.PEM()), CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, err = w.Write(append(b, '\n'))
	return err
}

// evidenceKeyPEM answers the current signing key as PEM, the file
// `portico compliance verify --public-key` and openssl take; 404 before
// the first bundle.
func (s *Server) evidenceKeyPEM(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.compliance.SigningKeys(r.Context())
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Current() {
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Cache-Control", "max-age=300")
			_, err := w.Write(k.PEM())
			return err
		}
	}
	return errNotFound
}
