// Package web is Portico's HTTP layer: one route table, middleware that
// every request passes through, the error renderer, templates and static
// files. Handlers are thin: parse, call a domain package, render.
//
// The request flow, outermost first (see docs/architecture.md):
//
//	observe (request ID, recover, log line, metrics)
//	-> security headers and CSP nonce
//	-> body limit
//	-> cross-origin protection (Fetch Metadata / Origin; form token for
//	   clients that send neither)
//	-> session (hashed token lookup, idle/absolute expiry, account state
//	   and sign-in stage re-checked on every request)
//	-> route table (404/405 rendered here) -> permission -> handler
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/training"

	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/livefeed"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
)

// Secrets gives named server secrets (the keyring implements it).
type Secrets interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Deps are what the web layer needs from the rest of the program.
type Deps struct {
	DB      *db.DB
	Secrets Secrets
	Profile policy.Profile
	Logger  *slog.Logger
	Metrics *Metrics // nil disables request metrics
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// Version is shown in the page footer.
	Version string

	// The domain services behind the account pages. Identity and Sessions
	// are required; without Passkeys and Notices their pages are absent.
	Identity *identity.Service
	Sessions *session.Store
	Passkeys *passkey.Service
	Notices  *notify.Service
	// The support desk and API tokens; without them their pages are
	// absent.
	Support *support.Service
	Tokens  *apitoken.Store
	// Privacy carries out data-subject requests; without it their pages
	// are absent.
	Privacy *privacy.Service
	// Retention is the purge, whose last run the privacy page shows.
	Retention *retention.Service
	// Detect is behavioural analytics: the security team's alerts.
	Detect *detect.Service
	// Incidents is incident response; without it its pages are absent.
	Incidents *incident.Service
	// Findings is the findings register and assessments; without it
	// their pages and the disclosure intake are absent.
	Findings *findings.Service
	// PublicURL is the origin Portico is reached at (security.txt);
	// "" uses the request's host.
	PublicURL string
	// Vendors is the register of third parties; without it its pages are
	// absent.
	Vendors *thirdparty.Service
	// Training is security-awareness training; without it its pages
	// are absent.
	Training *training.Service
	// PolicyDocs is the policy documents and their reviews; without it
	// their pages are absent.
	PolicyDocs *governance.Service
	// Feed is the live feed of security events for the dashboard.
	Feed *livefeed.Hub
	// Keys is the keyring, for the administrators' key rotation page.
	Keys *crypto.Keyring
	// Audit is the trail, for the auditors' search and for changes the
	// web layer makes itself (policy edits, key rotation, exports).
	Audit *audit.Log
	// PolicyFile is the policy override file that administrators edit
	// ("" when the profile is the built-in one with no file).
	PolicyFile string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (--trusted-proxies).
	TrustedProxies []netip.Prefix
	// PrivacyVersion is the current privacy notice version customers
	// accept at sign-up.
	PrivacyVersion string
	// Compliance is the live compliance report and the evidence bundle's
	// signing keys; without it their pages are absent.
	Compliance *compliance.Service
}

// Server holds the handlers' dependencies and the assembled handler.
type Server struct {
	db         *db.DB
	profile    policy.Profile
	logger     *slog.Logger
	metrics    *Metrics
	maxBody    int64
	version    string
	csrfKey    []byte
	cop        *http.CrossOriginProtection
	identity   *identity.Service
	sessions   *session.Store
	passkeys   *passkey.Service
	notices    *notify.Service
	support    *support.Service
	tokens     *apitoken.Store
	keys       *crypto.Keyring
	rights     *privacy.Service // data-subject requests
	retention  *retention.Service
	detect     *detect.Service
	incidents  *incident.Service
	findings   *findings.Service
	publicURL  string
	vendors    *thirdparty.Service
	training   *training.Service
	policyDocs *governance.Service
	feed       *livefeed.Hub
	audit      *audit.Log
	approvals  *approval.Store // four-eyes requests (policy edits here; accounts in identity)
	policyFile string
	trusted    []netip.Prefix
	blocked    []netip.Prefix // the profile's access.blocked_networks
	privacy    string
	compliance *compliance.Service
	templates  *pageTemplates
	static     *staticFiles
	mux        *http.ServeMux
	handler    http.Handler

	// takingEvidence is set while this node takes the compliance
	// evidence on demand: one taking at a time.
	takingEvidence atomic.Bool
}

// New assembles the server: it loads templates and static files, fetches
// the CSRF key from the keyring and builds the route table.
func New(ctx context.Context, d Deps) (*Server, error) {
	if d.DB == nil || d.Secrets == nil || d.Logger == nil || d.Identity == nil || d.Sessions == nil {
		return nil, fmt.Errorf("web: DB, Secrets, Logger, Identity and Sessions are required")
	}
	if d.PrivacyVersion == "" {
		d.PrivacyVersion = privacyNoticeVersion
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	key, err := d.Secrets.Secret(ctx, "csrf-form-token")
	if err != nil {
		return nil, fmt.Errorf("web: csrf key: %w", err)
	}
	static, err := loadStatic()
	if err != nil {
		return nil, err
	}
	s := &Server{
		db:         d.DB,
		profile:    d.Profile,
		logger:     d.Logger,
		metrics:    d.Metrics,
		maxBody:    d.MaxBodyBytes,
		version:    d.Version,
		csrfKey:    key,
		cop:        http.NewCrossOriginProtection(),
		static:     static,
		identity:   d.Identity,
		sessions:   d.Sessions,
		passkeys:   d.Passkeys,
		notices:    d.Notices,
		support:    d.Support,
		tokens:     d.Tokens,
		keys:       d.Keys,
		rights:     d.Privacy,
		retention:  d.Retention,
		detect:     d.Detect,
		incidents:  d.Incidents,
		findings:   d.Findings,
		publicURL:  d.PublicURL,
		vendors:    d.Vendors,
		training:   d.Training,
		policyDocs: d.PolicyDocs,
		feed:       d.Feed,
		audit:      d.Audit,
		policyFile: d.PolicyFile,
		approvals:  approval.New(d.DB, d.Audit),
		privacy:    d.PrivacyVersion,
		compliance: d.Compliance,
	}
	s.trusted = d.TrustedProxies
	for _, n := range d.Profile.Access.BlockedNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("web: blocked network %q: %w", n, err)
		}
		s.blocked = append(s.blocked, p.Masked())
	}
	if s.templates, err = parseTemplates(static); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	var h http.Handler = http.HandlerFunc(s.dispatch)
	h = s.authenticate(h)
	h = s.crossOrigin(h)
	h = s.limitBody(h)
	h = s.securityHeaders(h)
	h = s.observe(h)
	s.handler = h
	return s, nil
}

// ServeHTTP serves a request through the whole middleware chain.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// dispatch hands the request to the route table. The mux's own 404 and 405
// replies are plain text; here they are turned into rendered pages.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// No route: ask the mux whether it is a 404 or a 405 (and which
		// methods are allowed) without letting it write the reply.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			s.renderError(w, r, errMethodNotAllowed)
			return
		}
		s.renderError(w, r, errNotFound)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// probeWriter records the status the mux would have sent.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(status int)      { p.status = status }
