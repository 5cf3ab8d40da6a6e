package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/alertout"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
)

// newDetection builds behavioural analytics (internal/detect) and the
// delivery of its alerts, and connects sign-in to it.
func newDetection(sv *Services, st *Storage, cfg config.Config, publicURL string, logger *slog.Logger) error {
	var err error
	if sv.Geo, err = NewGeo(cfg); err != nil {
		return err
	}
	out := alertout.Config{WebhookURL: cfg.AlertWebhookURL, SyslogAddr: cfg.AlertSyslogAddr, Logger: logger}
	if cfg.AlertWebhookURL != "" {
		if out.WebhookSecret, err = os.ReadFile(cfg.AlertWebhookSecretFile); err != nil {
			return fmt.Errorf("--alert-webhook-secret-file: %w", err)
		}
		out.WebhookSecret = []byte(strings.TrimSpace(string(out.WebhookSecret)))
	}
	if cfg.AlertSyslogAddr != "" {
		out.SyslogTLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.AlertSyslogCAFile != "" {
			pem, err := os.ReadFile(cfg.AlertSyslogCAFile)
			if err != nil {
				return fmt.Errorf("--alert-syslog-ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--alert-syslog-ca-file: no PEM certificate in %s", cfg.AlertSyslogCAFile)
			}
			out.SyslogTLS.RootCAs = pool
		}
	}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("security alert delivery: %w", err)
	}
	sv.AlertOut = alertout.New(st.DB, out)
	sv.alertKeepFailed = st.Profile.Retention.SecurityReports.Duration
	id := sv.Identity
	sv.Detect = detect.New(detect.Deps{DB: st.DB, Audit: st.Audit, Profile: st.Profile, Geo: sv.Geo, Respond: id.Responder(),
		Logger: logger, Keys: st.Keyring, PublicURL: publicURL,
		TellCustomer: func(ctx context.Context, tx *db.Tx, accountID, title, body string) error {
			return id.NotifyAccount(ctx, tx, accountID, "security-report", title, body)
		},
		Raised: func(ctx context.Context, tx *db.Tx, a detect.Record) error {
			if err := sv.AlertOut.Queue(ctx, tx, alertPayload(a, publicURL)); err != nil {
				return err
			}
			return id.NotifyStaff(ctx, tx, string(access.RoleSecurity), "security-alert",
				"Security alert: "+a.Rule+" ("+a.Severity+")",
				a.Summary+"\n\nTriage it at "+publicURL+"/security/alerts/"+a.ID+" .")
		}})
	id.SetDetector(sv.Detect)
	return nil
}

// alertPayload is what a SIEM receives: opaque IDs, the rule, severity and
// counts, never an address or a name (the alert's page has the detail).
func alertPayload(a detect.Record, publicURL string) map[string]any {
	return map[string]any{
		"id": a.ID, "rule": a.Rule, "severity": a.Severity, "summary": a.Summary, "subject_kind": a.SubjectKind,
		"accounts": a.Accounts, "networks": len(a.Networks), "evidence": a.Evidence, "first_at": a.FirstAt,
		"url": publicURL + "/security/alerts/" + a.ID,
	}
}
