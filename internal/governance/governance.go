// Package governance is the organisational side of the policies
// (docs/policy-documents.md): the policy documents, versioned with an
// owner and approved by a second administrator, their reviews every
// governance.policy_review_interval and on significant change, and the
// alert once a review is overdue (CP-11.2, MTL-5.2.1 in part).
package governance

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// Service holds the policy documents and their reviews.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	profile policy.Profile
	// version is the running Portico's version (buildinfo), which the
	// significant-change pass compares with the last one seen.
	version func() string
}

// New returns the policy documents' service.
func New(d *db.DB, a *audit.Log, p policy.Profile) *Service {
	return &Service{db: d, audit: a, profile: p, version: func() string { return buildinfo.Read().Version }}
}

// interval is how long an approval or a review holds.
func (s *Service) interval() time.Duration {
	return s.profile.Governance.PolicyReviewInterval.Duration
}

// Document is a policy document as the list and its page show it.
type Document struct {
	ID    string // slug
	Title string
	Owner string // account ID of a member of staff; "" until one is named
	// GeneratedFrom names the policy whose clause register gave the first
	// version ("" for a document the operator imported).
	GeneratedFrom string
	CreatedAt     time.Time
	CreatedBy     string
	// InForce is the number of the version in force (the newest
	// approved), 0 while none is; ApprovedAt and ApprovedBy are its.
	InForce    int
	ApprovedAt time.Time
	ApprovedBy string
	// Latest is the newest version's number, a draft when above InForce.
	Latest int
	// ReviewDue is when the next periodic review is due: the approval,
	// or the last review without change, plus the interval. Zero while
	// no version is in force.
	ReviewDue time.Time
	// ReviewRequestedAt is set by a significant change since the last
	// approval or review, with the reasons.
	ReviewRequestedAt     time.Time
	ReviewRequestedReason string
}

// HasDraft reports whether a version newer than the one in force waits
// for approval.
func (d Document) HasDraft() bool { return d.Latest > d.InForce }

// Overdue reports whether the periodic review's date has passed at now.
func (d Document) Overdue(now time.Time) bool {
	return !d.ReviewDue.IsZero() && now.After(d.ReviewDue)
}

// ReviewRequested reports whether a significant change asks for a review.
func (d Document) ReviewRequested() bool { return !d.ReviewRequestedAt.IsZero() }

// Version is one version of a document.
type Version struct {
	DocumentID string
	Number     int
	Body       string // Markdown
	Summary    string // what changed, in the author's words
	CreatedAt  time.Time
	CreatedBy  string
	// ApprovedAt is zero for a draft. An approved version never changes.
	ApprovedAt time.Time
	ApprovedBy string
	// InForce is set on the version in force by Versions.
	InForce bool
}

// Approved reports whether the version was approved.
func (v Version) Approved() bool { return !v.ApprovedAt.IsZero() }

// Outcomes of a review.
const (
	OutcomeNoChange      = "no_change"
	OutcomeChangesNeeded = "changes_needed"
	OutcomeChanged       = "changed"
)

// Outcomes lists a review's outcomes in the order the form offers them.
var Outcomes = []string{OutcomeNoChange, OutcomeChangesNeeded, OutcomeChanged}

// Review is a recorded review of a document.
type Review struct {
	ID         string
	DocumentID string
	ReviewedAt time.Time
	Reviewer   string // account ID
	Outcome    string // OutcomeNoChange, OutcomeChangesNeeded or OutcomeChanged
	// Version is the version a review that changed the document led to
	// (OutcomeChanged), 0 otherwise.
	Version int
	Notes   string
	// DueBefore and DueAfter are the review's due date before and after
	// the review.
	DueBefore, DueAfter time.Time
	CreatedAt           time.Time
}

// ErrNoDocument answers for a document that does not exist.
var ErrNoDocument = apperr.New(apperr.NotFound, "There is no such policy document.")

// ErrNoVersion answers for a version that does not exist.
var ErrNoVersion = apperr.New(apperr.NotFound, "There is no such version of the document.")

// docCols reads a document with its version in force and its newest.
const docCols = `d.id, d.title, d.owner, COALESCE(d.generated_from, ''), d.created_at, d.created_by, d.review_due,
	d.review_requested_at, d.review_requested_reason,
	v.version, v.approved_at, v.approved_by,
	(SELECT MAX(version) FROM policy_document_versions WHERE document_id = d.id)`

const docFrom = ` FROM policy_documents d
	LEFT JOIN policy_document_versions v ON v.document_id = d.id AND v.version =
		(SELECT MAX(version) FROM policy_document_versions WHERE document_id = d.id AND approved_at IS NOT NULL)`

func scanDoc(row interface{ Scan(...any) error }) (Document, error) {
	var d Document
	var due, requested, approvedAt sql.NullTime
	var inForce, latest sql.NullInt64
	var approvedBy sql.NullString
	err := row.Scan(&d.ID, &d.Title, &d.Owner, &d.GeneratedFrom, &d.CreatedAt, &d.CreatedBy, &due, &requested, &d.ReviewRequestedReason,
		&inForce, &approvedAt, &approvedBy, &latest)
	d.ReviewDue, d.ReviewRequestedAt = due.Time, requested.Time
	d.InForce, d.ApprovedAt, d.ApprovedBy, d.Latest = int(inForce.Int64), approvedAt.Time, approvedBy.String, int(latest.Int64)
	return d, err
}

// Documents lists the documents by title.
func (s *Service) Documents(ctx context.Context) ([]Document, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+docCols+docFrom+` ORDER BY d.title, d.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Document returns one document.
func (s *Service) Document(ctx context.Context, id string) (Document, error) {
	return s.document(ctx, s.db, id)
}

func (s *Service) document(ctx context.Context, q querier, id string) (Document, error) {
	d, err := scanDoc(q.QueryRowContext(ctx, `SELECT `+docCols+docFrom+` WHERE d.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNoDocument
	}
	return d, err
}

const versionCols = `document_id, version, body, summary, created_at, created_by, approved_at, approved_by`

func scanVersion(row interface{ Scan(...any) error }) (Version, error) {
	var v Version
	var approvedAt sql.NullTime
	var approvedBy sql.NullString
	err := row.Scan(&v.DocumentID, &v.Number, &v.Body, &v.Summary, &v.CreatedAt, &v.CreatedBy, &approvedAt, &approvedBy)
	v.ApprovedAt, v.ApprovedBy = approvedAt.Time, approvedBy.String
	return v, err
}

// Versions lists a document's versions, newest first, the one in force
// marked.
func (s *Service) Versions(ctx context.Context, id string) ([]Version, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+versionCols+` FROM policy_document_versions WHERE document_id = $1 ORDER BY version DESC`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	inForce := false
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		if v.Approved() && !inForce {
			v.InForce, inForce = true, true
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Version returns one version of a document.
func (s *Service) Version(ctx context.Context, id string, n int) (Version, error) {
	return s.versionOf(ctx, s.db, id, n)
}

func (s *Service) versionOf(ctx context.Context, q querier, id string, n int) (Version, error) {
	v, err := scanVersion(q.QueryRowContext(ctx, `SELECT `+versionCols+` FROM policy_document_versions WHERE document_id = $1 AND version = $2`, id, n))
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNoVersion
	}
	return v, err
}

// Reviews lists a document's reviews, newest first.
func (s *Service) Reviews(ctx context.Context, id string) ([]Review, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, document_id, reviewed_at, reviewer, outcome, version, notes, due_before, due_after, created_at
		FROM policy_reviews WHERE document_id = $1 ORDER BY reviewed_at DESC, created_at DESC`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Review
	for rows.Next() {
		var r Review
		var version sql.NullInt64
		var before, after sql.NullTime
		if err := rows.Scan(&r.ID, &r.DocumentID, &r.ReviewedAt, &r.Reviewer, &r.Outcome, &version, &r.Notes, &before, &after, &r.CreatedAt); err != nil {
			return nil, err
		}
		r.Version, r.DueBefore, r.DueAfter = int(version.Int64), before.Time, after.Time
		out = append(out, r)
	}
	return out, rows.Err()
}

// StaffMember is an active member of staff, for the pages' choices.
type StaffMember = identity.Staff

// Staff lists the active members of staff for the pages' choices.
func (s *Service) Staff(ctx context.Context) ([]StaffMember, error) {
	return identity.ActiveStaff(ctx, s.db, access.RoleAdmin)
}

// staffMember reports whether id is an active member of staff.
func staffMember(ctx context.Context, q db.Reader, id string) (bool, error) {
	return identity.ActiveStaffMember(ctx, q, id, "")
}

// admin reports whether id is an active administrator.
func admin(ctx context.Context, q db.Reader, id string) (bool, error) {
	return identity.ActiveStaffMember(ctx, q, id, access.RoleAdmin)
}

// querier is what reads run on: the database or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// oneLine flattens a reason or summary to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
