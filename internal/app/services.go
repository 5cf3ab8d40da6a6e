package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/retention"

	"github.com/portico/portico/internal/alertout"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/training"
)

// Services are the domain services on top of storage.
type Services struct {
	Passwords *password.Checker
	Sessions  *session.Store
	Notices   *notify.Service
	Passkeys  *passkey.Service
	Identity  *identity.Service
	Support   *support.Service
	Tokens    *apitoken.Store
	Privacy   *privacy.Service
	Retention *retention.Service
	Detect    *detect.Service
	Incidents *incident.Service
	Findings  *findings.Service // the findings register and assessments (CP-6.2, MTL-4.3.x)
	Training  *training.Service // security-awareness training (MTL-8.1, CP-12)
	AlertOut  *alertout.Service
	Geo       detect.Places
	Vendors   *thirdparty.Service

	// PolicyDocs is the policy documents and their reviews (CP-11.2).
	PolicyDocs *governance.Service

	// alertKeepFailed is how long an alert that was never delivered stays
	// in the outbox: the profile's retention of security reports.
	alertKeepFailed time.Duration
}

// Close releases what the services hold open (the breached-password file).
func (s *Services) Close() error {
	if s == nil || s.Passwords == nil {
		return nil
	}
	if s.Geo.L != nil {
		s.Geo.L.Close()
	}
	return s.Passwords.Close()
}

// NewServices builds the domain services. publicURL is the origin
// customers reach Portico at (for links in mail and the passkey relying
// party).
func NewServices(st *Storage, cfg config.Config, publicURL string, logger *slog.Logger) (*Services, error) {
	pw, err := password.New(st.Profile.Password, cfg.BreachedPasswordsFile)
	if err != nil {
		return nil, fmt.Errorf("--breached-passwords-file: %w", err)
	}
	sv := &Services{Passwords: pw}
	ok := false
	defer func() {
		if !ok {
			sv.Close()
		}
	}()
	sv.Sessions = session.NewStore(st.DB, st.Keyring, st.Audit, st.Profile.Session)
	if sv.Notices, err = notify.New(st.DB, st.Keyring, st.Audit, notify.Options{SMTPURL: cfg.SMTPURL, Logger: logger, PollInterval: time.Second}); err != nil {
		return nil, err
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("public URL %q: not an https:// origin", publicURL)
	}
	// One gate for the process: every argon2 check waits for room in it
	// (MTL-1.1, --password-hash-memory).
	gate := identity.NewHashGate(identity.HashGateCapacity(cfg.PasswordHashMemory, st.Profile), 0)
	logger.Info("password hashing gate", "bytes", gate.Capacity(),
		"checks", gate.Capacity()/max(int64(st.Profile.Password.Argon2.MemoryKiB)*1024, 1))
	deps := identity.Deps{
		DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile,
		Passwords: pw, Sessions: sv.Sessions,
		Notifier: notify.ForIdentity(sv.Notices), PublicURL: publicURL, HashGate: gate,
	}
	// Passkeys are bound to a domain name: browsers refuse them on an IP
	// address. Served by address only, Portico offers the other factors.
	if net.ParseIP(u.Hostname()) == nil {
		if sv.Passkeys, err = passkey.New(st.DB, st.Audit, passkey.Config{
			RPID: u.Hostname(), RPName: "Portico", Origins: []string{publicURL}, Keys: st.Keyring,
		}); err != nil {
			return nil, err
		}
		deps.Passkeys = sv.Passkeys
	} else {
		logger.Warn("passkeys are off: the public URL is an IP address, and passkeys need a domain name; set --public-url", "public_url", publicURL)
	}
	if sv.Identity, err = identity.New(deps); err != nil {
		return nil, err
	}
	if sv.Support, err = support.New(support.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile,
		Identity: sv.Identity, Notifier: notify.ForIdentity(sv.Notices)}); err != nil {
		return nil, err
	}
	if sv.Tokens, err = apitoken.New(apitoken.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile,
		Created: func(ctx context.Context, tx *db.Tx, t apitoken.Token) error {
			return sv.Identity.TokenCreated(ctx, tx, t.AccountID, t.Name, t.ExpiresAt)
		}}); err != nil {
		return nil, err
	}
	// Detection before privacy: the export holds each security report's
	// thread, which detection keeps.
	if err := newDetection(sv, st, cfg, publicURL, logger); err != nil {
		return nil, err
	}
	sv.Incidents = incident.New(st.DB, st.Audit, st.Profile)
	sv.Incidents.SetDataCategories(privacy.CategoryNames(st.Profile))
	// Incident notices reach customers in the inbox and by email, to the
	// address identity holds, each copy's receipt tracked.
	sv.Incidents.SetDeliverer(notify.Tracked{Notices: sv.Notices, Address: sv.Identity.EmailOf})
	sv.Incidents.SetOpened(func(ctx context.Context, tx *db.Tx, inc incident.Incident, by string) error {
		return sv.Detect.EscalateTo(ctx, tx, inc.Source, inc.ID, by)
	})
	sv.Findings = findings.New(st.DB, st.Audit, st.Profile)
	// Exercises file what they find in the shared findings register
	// (MTL-5.2.2, MTL-4.3.2).
	sv.Incidents.SetFindings(sv.Findings)
	// Vendors receive only the inventory's categories (CP-10.1).
	sv.Vendors = thirdparty.New(st.DB, st.Audit, st.Profile)
	sv.Vendors.SetDataCategories(privacy.CategoryNames(st.Profile))
	sv.Training = training.New(st.DB, st.Audit, st.Profile, sv.Identity)
	sv.PolicyDocs = governance.New(st.DB, st.Audit, st.Profile)
	if sv.Privacy, err = privacy.New(privacy.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile,
		Identity: sv.Identity, Support: sv.Support, Notices: sv.Notices, Passkeys: sv.Passkeys, Tokens: sv.Tokens, Detect: sv.Detect}); err != nil {
		return nil, err
	}
	if sv.Retention, err = retention.New(retention.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile,
		Identity: sv.Identity, Notices: sv.Notices}); err != nil {
		return nil, err
	}
	ok = true
	return sv, nil
}

// NewIdentity builds the identity service alone, for commands that create
// or change accounts without serving (`portico user ...`): same password
// policy, no sessions, no mail.
func NewIdentity(st *Storage, cfg config.Config) (*identity.Service, func() error, error) {
	pw, err := password.New(st.Profile.Password, cfg.BreachedPasswordsFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--breached-passwords-file: %w", err)
	}
	id, err := identity.New(identity.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile, Passwords: pw,
		Sessions: session.NewStore(st.DB, st.Keyring, st.Audit, st.Profile.Session)})
	if err != nil {
		pw.Close()
		return nil, nil, err
	}
	return id, pw.Close, nil
}

// runMaintenance does the periodic housekeeping of sign-in until ctx ends:
// expired sessions swept, password-expiry warnings sent, ended rate-limit
// windows, passkey challenges and expired emailed sign-in codes deleted,
// old rows of the alert outbox pruned. Errors are logged and retried at
// the next tick.
func runMaintenance(ctx context.Context, sv *Services, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for name, fn := range map[string]func() error{
			"sessions.sweep": func() error { _, err := sv.Sessions.Sweep(ctx); return err },
			"identity.expiry_warnings": func() error {
				n, err := sv.Identity.SendExpiryWarnings(ctx)
				if n > 0 {
					logger.Info("password expiry warnings sent", "count", n)
				}
				return err
			},
			"identity.prune":  func() error { return sv.Identity.Prune(ctx) },
			"retention.purge": func() error { return runRetentionIfDue(ctx, sv.Retention, logger) },
			"privacy.due_erasures": func() error {
				n, err := sv.Privacy.RunDueErasures(ctx)
				if n > 0 {
					logger.Info("accounts erased at the end of their grace period", "count", n)
				}
				return err
			},
			"identity.expired_invitations": func() error {
				n, err := sv.Identity.ExpireInvitations(ctx)
				if n > 0 {
					logger.Info("expired staff invitations withdrawn", "count", n)
				}
				return err
			},
			"identity.ended_contracts": func() error {
				n, err := sv.Identity.DisableEndedContracts(ctx)
				if n > 0 {
					logger.Info("contractor accounts disabled at their end date", "count", n)
				}
				return err
			},
			"alertout.prune": func() error {
				n, err := sv.AlertOut.Prune(ctx, alertout.DefaultKeepSent, sv.alertKeepFailed)
				if n > 0 {
					logger.Info("old rows of the alert outbox deleted", "count", n)
				}
				return err
			},
			// A challenged sign-in whose emailed code expired ends with
			// it (CP-8.2).
			"identity.expired_email_codes": func() error {
				_, err := sv.Identity.SweepEmailCodes(ctx)
				return err
			},
			"passkey.purge_challenges": func() error {
				if sv.Passkeys == nil {
					return nil
				}
				_, err := sv.Passkeys.PurgeChallenges(ctx)
				return err
			},
		} {
			if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("maintenance failed", "task", name, "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runRetentionIfDue runs the purge when its last run is an hour old. Every
// node asks; the lease lets one of them run it.
func runRetentionIfDue(ctx context.Context, r *retention.Service, logger *slog.Logger) error {
	last, ok, err := r.LastRun(ctx)
	if err != nil || ok && time.Since(last.StartedAt) < retention.Interval {
		return err
	}
	run, err := r.Run(ctx, false)
	if errors.Is(err, retention.ErrBusy) {
		return nil
	}
	if err == nil {
		total := 0
		for _, n := range run.Counts {
			total += n
		}
		if total > 0 {
			logger.Info("retention purge", "deleted", total, "run", run.ID)
		}
	}
	return err
}
