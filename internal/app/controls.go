package app

import (
	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/alertout"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/backup"
	"github.com/portico/portico/internal/codecheck"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/training"
	"github.com/portico/portico/internal/vendorcheck"
	"github.com/portico/portico/internal/vulncheck"
	"github.com/portico/portico/internal/web"
)

// Controls collects every control of the program, for the compliance map
// (docs/compliance.md, kept true by TestComplianceMap) and, later, the live
// compliance report.
func Controls() []policy.Control {
	out := []policy.Control{
		{Clause: "CP-5.1", Name: "app.tls-policy",
			Description: "HTTPS only: TLS 1.2 and 1.3, ECDHE with AEAD cipher suites (no CBC), HTTP/2; the optional plain-HTTP listener only redirects GET/HEAD and refuses anything else.",
			Test:        "internal/app: TestTLSPolicy"},
		{Clause: "MTL-4.2.1", Name: "app.tls-policy",
			Description: "Sensitive data travels only over TLS 1.2+ with AEAD suites; plain HTTP never carries a form.",
			Test:        "internal/app: TestPlainHTTPOnlyRedirects"},
		{Clause: "MTL-1.1", Name: "app.graceful-shutdown",
			Description: "Availability and integrity on stop: in-flight requests finish, the database closes cleanly, start and stop are audited.",
			Test:        "internal/app: TestGracefulShutdown"},
		{Clause: "MTL-1.1", Name: "db.storage-faults-disk-full",
			Description: "A full disk: changes are refused with 503 and Retry-After, nothing half saved, reads go on, the log and a metric name the fault; freeing space is the whole recovery (no restart), the database and audit chain verify.",
			Test:        "internal/app: TestDiskFull"},
		{Clause: "MTL-1.1", Name: "db.storage-faults-read-only",
			Description: "A file system the kernel turned read-only: changes are refused with 503, reads go on, the log names it; after the file system is checked and Portico restarted, the database needs no repair and the audit chain verifies.",
			Test:        "internal/app: TestReadOnlyFileSystem"},
		{Clause: "MTL-1.1", Name: "web.database-unreachable",
			Description: "PostgreSQL stopped or restarting: requests fail at once with 503 and Retry-After (not 500, not a hang), /readyz turns false so a balancer routes around the node, a session that cannot be checked is refused but kept, and the same session works again when the database is back, without a restart.",
			Test:        "internal/web: TestDatabaseUnreachable"},
		{Clause: "MTL-1.1", Name: "deploy.systemd-sandbox",
			Description: "The shipped systemd unit runs Portico as an unprivileged user in a sandbox (read-only system, no capabilities, system-call filter, private /tmp and devices) that systemd-analyze security scores 1.1 or better, and systemd-analyze verify accepts without a warning.",
			Test:        "deploy: TestSystemdSandbox"},
		{Clause: "MTL-1.1", Name: "deploy.container-non-root",
			Description: "The container image is a static binary (CGO_ENABLED=0) on distroless, run as a non-root user; the compose file runs it with a read-only root file system, no capabilities, and waits for a healthy PostgreSQL (checked with BuildKit's parser and compose-go's loader).",
			Test:        "deploy: TestContainerfile"},
		{Clause: "MTL-1.1", Name: "app.several-nodes",
			Description: "Several portico serve nodes on one PostgreSQL database behind a load balancer that balances each request serve as one: a sign-in's steps, sessions and their end, TOTP steps, failure counts and rate limits, single-use links and the live feed go through the database, whichever node serves a request; each background pass runs on one node at a time, is taken over when its node dies, and is given back at once when its node stops.",
			Test:        "internal/clustertest: TestCluster"},
		{Clause: "CP-6.2", Name: "app.security-regression-suite",
			Description: "The browser suite runs in CI against real Chromium: zero CSP violations, cross-origin POST refused, security headers present.",
			Test:        "internal/app: TestBrowser"},
	}
	out = append(out, web.Controls()...)
	out = append(out, access.Controls()...)
	out = append(out, support.Controls()...)
	out = append(out, apitoken.Controls()...)
	out = append(out, privacy.Controls()...)
	out = append(out, retention.Controls()...)
	out = append(out, backup.Controls()...)
	out = append(out, crypto.Controls()...)
	out = append(out, audit.Controls()...)
	out = append(out, identity.Controls()...)
	out = append(out, password.Controls()...)
	out = append(out, session.Controls()...)
	out = append(out, passkey.Controls()...)
	out = append(out, notify.Controls()...)
	out = append(out, approval.Controls()...)
	out = append(out, policy.Controls()...)
	out = append(out, detect.Controls()...)
	out = append(out, incident.Controls()...)
	out = append(out, training.Controls()...)
	out = append(out, governance.Controls()...)
	out = append(out, alertout.Controls()...)
	out = append(out, vulncheck.Controls()...)
	out = append(out, findings.Controls()...)
	out = append(out, vendorcheck.Controls()...)
	out = append(out, codecheck.Controls()...)
	out = append(out, thirdparty.Controls()...)
	out = append(out, compliance.Controls()...)
	return out
}
