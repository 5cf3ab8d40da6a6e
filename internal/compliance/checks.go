package compliance

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/training"
)

// Sources are what the evidence checks read: the database and the domain
// services of the running program. A nil service leaves its checks to
// fail with "not available", never to pass.
type Sources struct {
	DB      *db.DB
	Audit   *audit.Log
	Keys    *crypto.Keyring
	Profile policy.Profile

	Identity   *identity.Service
	Sessions   *session.Store
	Tokens     *apitoken.Store
	Support    *support.Service
	Privacy    *privacy.Service
	Retention  *retention.Service
	Detect     *detect.Service
	Incidents  *incident.Service
	Findings   *findings.Service
	Training   *training.Service
	Vendors    *thirdparty.Service
	PolicyDocs *governance.Service

	// Build returns the running binary's build information
	// (buildinfo.Read); tests give their own.
	Build func() buildinfo.Info

	// TLSAddr is the address the HTTPS server listens on (host:port) and
	// TLSConfig its configuration, whose certificate the TLS check trusts
	// when it connects to the server as a client would.
	TLSAddr   string
	TLSConfig *tls.Config
}

// Checks returns every evidence check of the program, reading from src.
func Checks(src Sources) []Check {
	var out []Check
	out = append(out, auditChecks(src)...)
	out = append(out, secopsChecks(src)...)
	out = append(out, identityChecks(src)...)
	out = append(out, transportChecks(src)...)
	out = append(out, dataChecks(src)...)
	out = append(out, governanceChecks(src)...)
	return out
}

// errUnavailable is the error of a check whose source is missing.
func errUnavailable(what string) error {
	return fmt.Errorf("%s is not available to this process", what)
}

// auditChecks are the evidence of the audit trail.
func auditChecks(src Sources) []Check {
	return []Check{{
		Name:    "audit.chain-verified",
		Clauses: []string{"CP-5.3", "MTL-1.1"},
		Description: "Walks the whole audit trail's hash chain now and compares it with its head; " +
			"fails on any broken link (an edited, deleted or inserted event).",
		Run: func(ctx context.Context, now time.Time) (Result, error) {
			if src.Audit == nil {
				return Result{}, errUnavailable("the audit trail")
			}
			res, err := src.Audit.Verify(ctx, audit.VerifyOptions{Workers: 1})
			if err != nil {
				return Result{}, err
			}
			figs := []Figure{
				{"events verified", fmt.Sprint(res.Events)},
				{"chain head", fmt.Sprintf("%d:%s", res.Head.Seq, hex.EncodeToString(res.Head.Hash))},
			}
			if !res.OK {
				figs = append(figs, Figure{"broken at", fmt.Sprint(res.BrokenAt)})
				return Result{Status: Fail, Summary: fmt.Sprintf("the audit chain is broken at event %d: %s", res.BrokenAt, res.Reason), Figures: figs}, nil
			}
			return Result{Status: Pass, Summary: fmt.Sprintf("the audit chain verifies: %d events, head %d", res.Events, res.Head.Seq), Figures: figs}, nil
		},
	}}
}
