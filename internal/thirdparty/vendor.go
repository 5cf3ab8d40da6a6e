// Package thirdparty is the register of third parties (CP-10.1, CP-10.2,
// MTL-6.1, MTL-6.2, MTL-1.2): the vendors Portico shares data with, what
// they receive and the endpoints they expose, a risk tier derived from
// both and from their latest assessment, the security team's approval,
// the assessments themselves (answered by staff or by the vendor through
// a single-use link), the contracts and DPAs with their security clauses
// and expiry, the staff and contractor accounts that work for a vendor,
// and a leased background pass that checks each endpoint with
// internal/vendorcheck, keeps the history and raises the alerts.
package thirdparty

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/vendorcheck"
)

// Statuses of a vendor.
const (
	StatusProposed = "proposed"
	StatusApproved = "approved"
	StatusRetired  = "retired"
)

// Risk tiers, from least to most.
const (
	TierLow      = "low"
	TierMedium   = "medium"
	TierHigh     = "high"
	TierCritical = "critical"
)

var tiers = []string{TierLow, TierMedium, TierHigh, TierCritical}

// Bounds on what a vendor holds.
const (
	maxName      = 200
	maxService   = 2000
	maxEndpoints = 10
	maxURL       = 500
)

// ErrNotFound is a vendor, assessment or agreement that does not exist.
var ErrNotFound = apperr.New(apperr.NotFound, "There is no such vendor record.")

// Service is the vendor register.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	profile policy.Profile
	// categories are the data inventory's categories (SetDataCategories).
	categories []string
	// check tunes the endpoint checks (WithCheckOptions).
	check vendorcheck.Options
	// warned delivers a warning in the transaction that records it.
	warned func(ctx context.Context, tx *db.Tx, w Warning) error
}

// Option changes how the service works.
type Option func(*Service)

// WithCheckOptions sets the options of the endpoint checks: tests give
// their own root pool and a short timeout.
func WithCheckOptions(o vendorcheck.Options) Option {
	return func(s *Service) { s.check = o }
}

// New returns the vendor register.
func New(d *db.DB, a *audit.Log, p policy.Profile, opts ...Option) *Service {
	s := &Service{db: d, audit: a, profile: p, check: vendorcheck.Options{Timeout: 10 * time.Second}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetDataCategories sets the data inventory's categories of personal
// data (privacy.CategoryNames): a vendor may receive only these.
func (s *Service) SetDataCategories(names []string) { s.categories = names }

// DataCategories are the categories a vendor may be said to receive.
func (s *Service) DataCategories() []string { return s.categories }

// Vendor is one third party in the register.
type Vendor struct {
	ID, Name, Service string
	// DataCategories are the inventory's categories it receives.
	DataCategories []string
	// Endpoints are the https URLs it exposes to Portico.
	Endpoints []string
	// Owner is the member of staff who answers for it.
	Owner      string
	Status     string
	CreatedAt  time.Time
	CreatedBy  string
	ApprovedAt time.Time
	ApprovedBy string
	RetiredAt  time.Time
	// ReviewDue is when its next assessment is due (zero: never assessed).
	ReviewDue time.Time
	// Outcome is its latest approved assessment's ("" for none).
	Outcome string
	// Tier is derived from DataCategories and Outcome (Tier).
	Tier string
}

// sensitive are the inventory's categories that let a holder take over
// accounts, read security matters or free text: a vendor receiving any of
// them is at least high.
var sensitive = []string{
	"Password and sign-in protection", "Second factors", "Sessions and devices",
	"Actions waiting for your password", "Sign-in history", "Security reports",
	"Risk signals", "Support tickets", "Access to your data by staff", "API tokens (staff)",
}

// Tier is a vendor's risk tier: low when it receives no personal data,
// medium when it receives some, high when it receives a sensitive
// category or four or more; the latest approved assessment then raises
// it one step for "concerns" (or when a vendor that receives data was
// never assessed) and two for "unsatisfactory", up to critical.
//
// Enforces CP-10.1: each vendor's tier follows from the data it receives
// and how its assessment went.
func Tier(categories []string, outcome string) string {
	base := 0
	switch {
	case len(categories) == 0:
		base = 0
	case len(categories) >= 4 || slices.ContainsFunc(categories, func(c string) bool { return slices.Contains(sensitive, c) }):
		base = 2
	default:
		base = 1
	}
	switch outcome {
	case OutcomeUnsatisfactory:
		base += 2
	case OutcomeConcerns:
		base++
	case "":
		if len(categories) > 0 {
			base++
		}
	}
	return tiers[min(base, len(tiers)-1)]
}

// TierRank orders tiers for sorting: low 0 to critical 3.
func TierRank(t string) int { return slices.Index(tiers, t) }

// NewVendor is what registering a vendor takes.
type NewVendor struct {
	Name, Service  string
	DataCategories []string
	Endpoints      []string
	Owner          string
}

// clean checks and normalises a vendor's fields.
func (s *Service) clean(ctx context.Context, q querier, n *NewVendor) error {
	n.Name, n.Service = strings.TrimSpace(n.Name), strings.TrimSpace(n.Service)
	switch {
	case n.Name == "" || utf8.RuneCountInString(n.Name) > maxName:
		return fieldErr("name", "Give the vendor's name in up to 200 characters.")
	case strings.ContainsFunc(n.Name, unicode.IsControl):
		return fieldErr("name", "The vendor's name cannot contain control characters.")
	case n.Service == "" || utf8.RuneCountInString(n.Service) > maxService:
		return fieldErr("service", "Say what service the vendor provides, in up to 2000 characters.")
	}
	var cats []string
	for _, c := range n.DataCategories {
		c = strings.TrimSpace(c)
		if c == "" || slices.Contains(cats, c) {
			continue
		}
		if !slices.Contains(s.categories, c) {
			return fieldErr("categories", "Choose the data categories from the data inventory: "+strings.Join(s.categories, ", ")+".")
		}
		cats = append(cats, c)
	}
	n.DataCategories = cats
	var eps []string
	for _, e := range n.Endpoints {
		e = strings.TrimSpace(e)
		if e == "" || slices.Contains(eps, e) {
			continue
		}
		if err := validEndpoint(e); err != nil {
			return err
		}
		eps = append(eps, e)
	}
	if len(eps) > maxEndpoints {
		return fieldErr("endpoints", "Name at most 10 endpoints.")
	}
	n.Endpoints = eps
	n.Owner = strings.TrimSpace(n.Owner)
	if ok, err := staffMember(ctx, q, n.Owner); err != nil {
		return err
	} else if !ok {
		return fieldErr("owner", "The owner must be an active member of staff.")
	}
	return nil
}

// validEndpoint accepts an absolute https:// URL with a host and nothing
// secret in it.
func validEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || len(e) > maxURL ||
		strings.ContainsAny(e, " \t\r\n") {
		return fieldErr("endpoints", "Each endpoint must be an https:// URL with a host (no user name or password in it), in up to 500 characters: "+
			strings.ToValidUTF8(truncate(e, 80), "")+" is not.")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Register records a proposed vendor.
//
// Enforces CP-10.1: every vendor is registered with the service it
// provides, the inventory's data categories it receives (no other), its
// https endpoints and an owner, and starts as proposed.
func (s *Service) Register(ctx context.Context, n NewVendor, by string) (Vendor, error) {
	var v Vendor
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := s.clean(ctx, tx, &n); err != nil {
			return err
		}
		v = Vendor{ID: strings.ToLower(rand.Text()), Name: n.Name, Service: n.Service, DataCategories: n.DataCategories,
			Endpoints: n.Endpoints, Owner: n.Owner, Status: StatusProposed, CreatedAt: tx.Now(), CreatedBy: by}
		cats, _ := json.Marshal(nonNil(v.DataCategories))
		eps, _ := json.Marshal(nonNil(v.Endpoints))
		if _, err := tx.ExecContext(ctx, `INSERT INTO vendors (id, name, service, data_categories, endpoints, owner, status, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, v.ID, v.Name, v.Service, string(cats), string(eps), v.Owner, v.Status, v.CreatedAt, by); err != nil {
			return err
		}
		v.Tier = Tier(v.DataCategories, "")
		_, err := s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.register", Target: "vendor:" + v.ID, Outcome: audit.Success,
			Details: map[string]any{"categories": len(v.DataCategories), "endpoints": len(v.Endpoints), "tier": v.Tier}})
		return err
	})
	return v, err
}

// Update changes a vendor's details. A retired vendor does not change.
func (s *Service) Update(ctx context.Context, id string, n NewVendor, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		v, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if v.Status == StatusRetired {
			return apperr.New(apperr.Conflict, "The vendor is retired: its record no longer changes.")
		}
		if err := s.clean(ctx, tx, &n); err != nil {
			return err
		}
		cats, _ := json.Marshal(nonNil(n.DataCategories))
		eps, _ := json.Marshal(nonNil(n.Endpoints))
		if _, err := tx.ExecContext(ctx, `UPDATE vendors SET name = $1, service = $2, data_categories = $3, endpoints = $4, owner = $5 WHERE id = $6`,
			n.Name, n.Service, string(cats), string(eps), n.Owner, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.update", Target: "vendor:" + id, Outcome: audit.Success,
			Details: map[string]any{"categories": len(n.DataCategories), "endpoints": len(n.Endpoints), "tier": Tier(n.DataCategories, v.Outcome)}})
		return err
	})
}

// Approve approves a proposed vendor. Only a member of the security team
// may, and only once an assessment of it has been approved.
//
// Enforces CP-10.1: a vendor is approved by the security team, after an
// approved assessment, and the approval is audited.
func (s *Service) Approve(ctx context.Context, id, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if ok, err := securityMember(ctx, tx, by); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Forbidden, "Only a member of the security team approves a vendor.")
		}
		v, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if v.Status != StatusProposed {
			return apperr.New(apperr.Conflict, "Only a proposed vendor can be approved.")
		}
		if v.Outcome == "" {
			return apperr.New(apperr.Invalid, "Approve an assessment of the vendor first.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vendors SET status = $1, approved_at = $2, approved_by = $3 WHERE id = $4`,
			StatusApproved, tx.Now(), by, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.approve", Target: "vendor:" + id, Outcome: audit.Success,
			Details: map[string]any{"tier": v.Tier, "outcome": v.Outcome}})
		return err
	})
}

// Retire ends the relationship: the vendor is no longer checked nor due.
func (s *Service) Retire(ctx context.Context, id, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		v, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if v.Status == StatusRetired {
			return apperr.New(apperr.Conflict, "The vendor is already retired.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vendors SET status = $1, retired_at = $2 WHERE id = $3`, StatusRetired, tx.Now(), id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.retire", Target: "vendor:" + id, Outcome: audit.Success})
		return err
	})
}

// Get returns one vendor.
func (s *Service) Get(ctx context.Context, id string) (Vendor, error) { return s.get(ctx, s.db, id) }

const vendorCols = `v.id, v.name, v.service, v.data_categories, v.endpoints, v.owner, v.status, v.created_at, v.created_by,
	v.approved_at, COALESCE(v.approved_by, ''), v.retired_at, v.review_due,
	COALESCE((SELECT a.outcome FROM vendor_assessments a WHERE a.vendor_id = v.id AND a.state = 'approved' ORDER BY a.approved_at DESC, a.id LIMIT 1), '')`

func (s *Service) get(ctx context.Context, q querier, id string) (Vendor, error) {
	v, err := scanVendor(q.QueryRowContext(ctx, `SELECT `+vendorCols+` FROM vendors v WHERE v.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Vendor{}, ErrNotFound
	}
	return v, err
}

// List returns the register, the riskiest first, then by name.
func (s *Service) List(ctx context.Context) ([]Vendor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+vendorCols+` FROM vendors v ORDER BY v.name, v.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Vendor
	for rows.Next() {
		v, err := scanVendor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Vendor) int {
		ra, rb := TierRank(a.Tier), TierRank(b.Tier)
		if a.Status == StatusRetired {
			ra = -1
		}
		if b.Status == StatusRetired {
			rb = -1
		}
		return rb - ra
	})
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanVendor(r scanner) (Vendor, error) {
	var v Vendor
	var cats, eps string
	var approved, retired, due sql.NullTime
	if err := r.Scan(&v.ID, &v.Name, &v.Service, &cats, &eps, &v.Owner, &v.Status, &v.CreatedAt, &v.CreatedBy,
		&approved, &v.ApprovedBy, &retired, &due, &v.Outcome); err != nil {
		return Vendor{}, err
	}
	if err := json.Unmarshal([]byte(cats), &v.DataCategories); err != nil {
		return Vendor{}, err
	}
	if err := json.Unmarshal([]byte(eps), &v.Endpoints); err != nil {
		return Vendor{}, err
	}
	v.CreatedAt = v.CreatedAt.UTC()
	v.ApprovedAt, v.RetiredAt, v.ReviewDue = nullTime(approved), nullTime(retired), nullTime(due)
	v.Tier = Tier(v.DataCategories, v.Outcome)
	return v, nil
}

// Recipient is an approved vendor and the categories of personal data it
// receives, for the privacy notice's list of recipients.
type Recipient struct {
	Name, Service  string
	DataCategories []string
}

// Recipients lists the approved vendors that receive personal data, by
// name, for the privacy notice (GDPR Art. 13(1)(e)).
func (s *Service) Recipients(ctx context.Context) ([]Recipient, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Recipient
	for _, v := range all {
		if v.Status == StatusApproved && len(v.DataCategories) > 0 {
			out = append(out, Recipient{Name: v.Name, Service: v.Service, DataCategories: v.DataCategories})
		}
	}
	slices.SortFunc(out, func(a, b Recipient) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// StaffMember is an active member of staff, for the pages' choices.
type StaffMember = identity.Staff

// Staff lists the active members of staff for the pages' choices.
func (s *Service) Staff(ctx context.Context) ([]StaffMember, error) {
	return identity.ActiveStaff(ctx, s.db, access.RoleSecurity)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// staffMember reports whether id is an active member of staff.
func staffMember(ctx context.Context, q db.Reader, id string) (bool, error) {
	return identity.ActiveStaffMember(ctx, q, id, "")
}

func securityMember(ctx context.Context, q db.Reader, id string) (bool, error) {
	return identity.ActiveStaffMember(ctx, q, id, access.RoleSecurity)
}

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fieldErr is a mistake in one input of a form.
func fieldErr(field, msg string) error {
	return apperr.InField(field, apperr.New(apperr.Invalid, msg))
}
