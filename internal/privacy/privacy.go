// Package privacy carries out data-subject rights (CP-11.1, MTL-7.1): the
// record of processing (an inventory of every category of personal data,
// its purpose, lawful basis, retention and place), access and portability
// (a machine-readable archive behind a single-use link), and erasure after
// a cancellable grace period by crypto-shredding the customer's data key
// and deleting their rows. Every request is tracked with its legal
// deadline.
package privacy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/support"
)

// Request kinds and statuses.
const (
	KindExport        = "export"
	KindErasure       = "erasure"
	KindRestriction   = "restriction"   // recorded when an administrator restricts processing
	KindRectification = "rectification" // recorded when support corrects a detail

	StatusPending   = "pending"   // erasure waiting for its grace period
	StatusReady     = "ready"     // export waiting to be downloaded
	StatusDone      = "done"      // carried out
	StatusCancelled = "cancelled" // withdrawn by the customer (erasure) or expired unused (export)
)

// Request is a data-subject request.
type Request struct {
	ID           string
	AccountID    string
	Kind         string
	Status       string
	CreatedAt    time.Time
	DueAt        time.Time // the legal deadline (profile privacy.request_deadline)
	ScheduledFor time.Time // erasure: when it will be carried out
	CompletedAt  time.Time
	LinkExpires  time.Time // export: until when the download link works
}

// Overdue reports whether an open request has passed its legal deadline.
func (r Request) Overdue(now time.Time) bool {
	return (r.Status == StatusPending || r.Status == StatusReady) && !now.Before(r.DueAt)
}

// Deps are what the privacy service reads and deletes through. Notices,
// Passkeys and Tokens may be nil.
type Deps struct {
	DB       *db.DB
	Keys     *crypto.Keyring
	Audit    *audit.Log
	Profile  policy.Profile
	Identity *identity.Service
	Support  *support.Service
	Notices  *notify.Service
	Passkeys *passkey.Service
	Tokens   *apitoken.Store
	// Detect, when set, adds each security report's thread as the
	// customer sees it (questions, answers, outcome) to the export.
	Detect *detect.Service
}

// Service carries out data-subject requests.
type Service struct {
	d Deps

	mu       sync.Mutex
	cached   string // CurrentVersion's cache
	cachedAt time.Time
}

// New returns the privacy service.
func New(d Deps) (*Service, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil || d.Identity == nil {
		return nil, errors.New("privacy: DB, Keys, Audit and Identity are required")
	}
	return &Service{d: d}, nil
}

// exportLinkLife is how long an export's download link works.
const exportLinkLife = time.Hour

func newID() string { return strings.ToLower(rand.Text()) }

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

var errNoRequest = apperr.New(apperr.NotFound, "That download link is not valid: it was used already, it expired, or it is not yours. Ask for a new export.")

// customerOnly refuses requests that are not a customer acting on their
// own account: staff accounts are the operator's records, handled by an
// administrator.
func customerOnly(p access.Principal) error {
	if p.AccountID == "" || p.ViaToken() {
		return apperr.New(apperr.NotFound, "No such page.")
	}
	if p.Role != access.RoleCustomer {
		return apperr.New(apperr.Forbidden, "Staff accounts are exported and erased by an administrator.")
	}
	return nil
}

// Requests lists the account's requests, newest first.
func (s *Service) Requests(ctx context.Context, accountID string) ([]Request, error) {
	return s.requests(ctx, `WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
}

// AllRequests lists every request, open ones first by deadline, for the
// administrators' page.
func (s *Service) AllRequests(ctx context.Context, actor access.Principal, limit int) ([]Request, error) {
	if !access.Has(actor.Role, access.PrivacyRequests) {
		return nil, apperr.New(apperr.NotFound, "No such page.")
	}
	return s.requests(ctx,
		`ORDER BY CASE WHEN status IN ('pending', 'ready') THEN 0 ELSE 1 END, due_at, id LIMIT $1`, limit)
}

func (s *Service) requests(ctx context.Context, rest string, args ...any) ([]Request, error) {
	rows, err := s.d.DB.QueryContext(ctx,
		`SELECT id, account_id, kind, status, created_at, due_at, scheduled_for, completed_at, token_expires_at
		 FROM privacy_requests `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		var r Request
		var sched, done, exp sql.NullTime
		if err := rows.Scan(&r.ID, &r.AccountID, &r.Kind, &r.Status, &r.CreatedAt, &r.DueAt, &sched, &done, &exp); err != nil {
			return nil, err
		}
		r.ScheduledFor, r.CompletedAt, r.LinkExpires = sched.Time, done.Time, exp.Time
		out = append(out, r)
	}
	return out, rows.Err()
}
