package governance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// MaxBodyBytes bounds a version's Markdown, pasted or uploaded.
const MaxBodyBytes = 256 << 10

// Bounds of the short texts.
const (
	maxTitle   = 200
	maxSummary = 500
	maxNotes   = 4000
	maxID      = 64
)

// uploadExtensions are the file names an uploaded version may have.
var uploadExtensions = []string{".md", ".markdown", ".txt"}

// reservedIDs are slugs that are pages, not documents.
var reservedIDs = map[string]bool{"new": true}

// NewDocument is what importing a document takes.
type NewDocument struct {
	ID      string // slug; made from the title when empty
	Title   string
	Owner   string // account ID of a member of staff
	Body    string // Markdown
	Summary string // what the first version is; "Imported" when empty
}

// UploadedBody reads an uploaded file as a version's Markdown: a .md,
// .markdown or .txt file of at most MaxBodyBytes of UTF-8 text. data
// may be read one byte past the bound, so that a larger file is refused
// as such.
func UploadedBody(name string, data []byte) (string, error) {
	ext := strings.ToLower(path.Ext(name))
	ok := false
	for _, e := range uploadExtensions {
		ok = ok || ext == e
	}
	switch {
	case !ok:
		return "", apperr.InField("file", apperr.New(apperr.Invalid, "Upload the policy as a Markdown file (.md, .markdown or .txt)."))
	case len(data) > MaxBodyBytes:
		return "", apperr.InField("file", apperr.Errorf(apperr.Invalid, "The file is larger than %d KiB: split the policy, or leave out what is not policy.", MaxBodyBytes>>10))
	}
	body, err := checkBody(string(data))
	if err != nil {
		return "", apperr.InField("file", err)
	}
	return body, nil
}

// checkBody normalises a version's Markdown and refuses an empty,
// oversize or binary one.
func checkBody(body string) (string, error) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.TrimPrefix(body, "\ufeff") // a byte-order mark some editors write
	switch {
	case strings.TrimSpace(body) == "":
		return "", apperr.New(apperr.Invalid, "The document is empty: paste its Markdown or upload its file.")
	case len(body) > MaxBodyBytes:
		return "", apperr.Errorf(apperr.Invalid, "The document is longer than %d KiB: split the policy, or leave out what is not policy.", MaxBodyBytes>>10)
	case !utf8.ValidString(body) || strings.IndexFunc(body, binaryRune) >= 0:
		return "", apperr.New(apperr.Invalid, "The document is not text: give the policy as Markdown in UTF-8 (a word-processor or PDF file cannot be read).")
	}
	return body, nil
}

// binaryRune is a control character no Markdown text holds.
func binaryRune(r rune) bool {
	return r != '\n' && r != '\t' && r != '\r' && r != '\f' && unicode.IsControl(r)
}

// Import stores a document the operator brings, with its text as the
// first version, a draft until a second administrator approves it.
//
// Enforces CP-11.2: a policy document has an owner and versions, and
// nothing is stored from a refused one (empty, oversize, not text).
func (s *Service) Import(ctx context.Context, nd NewDocument, by string) (Document, error) {
	nd.Title = oneLine(nd.Title, maxTitle+1)
	if nd.Title == "" || utf8.RuneCountInString(nd.Title) > maxTitle {
		return Document{}, apperr.InField("title", apperr.Errorf(apperr.Invalid, "Give the document a title of up to %d characters.", maxTitle))
	}
	nd.ID = strings.TrimSpace(nd.ID)
	if nd.ID == "" {
		nd.ID = Slug(nd.Title)
	}
	if Slug(nd.ID) != nd.ID || nd.ID == "" || reservedIDs[nd.ID] {
		return Document{}, apperr.InField("id", apperr.Errorf(apperr.Invalid,
			"The short name is lower-case letters, digits and single hyphens, at most %d characters (not \"new\"): choose one.", maxID))
	}
	body, err := checkBody(nd.Body)
	if err != nil {
		return Document{}, apperr.InField("body", err)
	}
	summary := oneLine(nd.Summary, maxSummary)
	if summary == "" {
		summary = "Imported"
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if ok, err := staffMember(ctx, tx, nd.Owner); err != nil {
			return err
		} else if !ok {
			return apperr.InField("owner", apperr.New(apperr.Invalid, "The owner must be an active member of staff."))
		}
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_documents (id, title, owner, created_at, created_by) VALUES ($1, $2, $3, $4, $5)`,
			nd.ID, nd.Title, nd.Owner, now, by); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.InField("id", apperr.Errorf(apperr.Conflict, "A document with the short name %q exists: choose another, or add a version to it.", nd.ID))
			}
			return err
		}
		if err := s.insertVersion(ctx, tx, nd.ID, 1, body, summary, by); err != nil {
			return err
		}
		if err := s.startWatching(ctx, tx); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "policydoc.create", Target: "policydoc:" + nd.ID, Outcome: audit.Success,
			Details: map[string]any{"version": 1, "owner": nd.Owner, "sha256": bodyHash(body)}})
		return err
	})
	if err != nil {
		return Document{}, err
	}
	return s.Document(ctx, nd.ID)
}

func (s *Service) insertVersion(ctx context.Context, tx *db.Tx, id string, n int, body, summary, by string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO policy_document_versions (document_id, version, body, summary, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, n, body, summary, tx.Now(), by)
	if db.IsUniqueViolation(err) {
		return apperr.New(apperr.Conflict, "Someone saved a version at the same moment: send yours again.")
	}
	return err
}

// NewVersion stores an edit of a document as its next version, a draft
// until approved. A text the same as the newest version's is refused: a
// review without change is recorded as a review.
//
// Enforces CP-11.2: each edit is a new version with its author, time and
// summary; none is ever overwritten.
func (s *Service) NewVersion(ctx context.Context, id, body, summary, by string) (Version, error) {
	body, err := checkBody(body)
	if err != nil {
		return Version{}, apperr.InField("body", err)
	}
	summary = oneLine(summary, maxSummary+1)
	if summary == "" || utf8.RuneCountInString(summary) > maxSummary {
		return Version{}, apperr.InField("summary", apperr.Errorf(apperr.Invalid, "Say what changed in up to %d characters.", maxSummary))
	}
	var v Version
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		d, err := s.document(ctx, tx, id)
		if err != nil {
			return err
		}
		latest, err := s.versionOf(ctx, tx, id, d.Latest)
		if err != nil {
			return err
		}
		if latest.Body == body {
			return apperr.InField("body", apperr.Errorf(apperr.Invalid,
				"The text is the same as version %d: change it, or record a review with the outcome \"no change\".", d.Latest))
		}
		if err := s.insertVersion(ctx, tx, id, d.Latest+1, body, summary, by); err != nil {
			return err
		}
		if v, err = s.versionOf(ctx, tx, id, d.Latest+1); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "policydoc.version", Target: "policydoc:" + id, Outcome: audit.Success,
			Details: map[string]any{"version": v.Number, "sha256": bodyHash(body)}})
		return err
	})
	return v, err
}

// Approve puts a draft version in force. The approver must be an active
// administrator other than the draft's author (four eyes), the draft
// must be newer than the version in force, and the document must have
// an owner. The next review falls due governance.policy_review_interval
// after, and a review asked for by a significant change is answered.
//
// Enforces CP-11.2: a version is in force only once a second
// administrator approves it, and its review falls due.
func (s *Service) Approve(ctx context.Context, id string, n int, by string) (Document, error) {
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		d, err := s.document(ctx, tx, id)
		if err != nil {
			return err
		}
		v, err := s.versionOf(ctx, tx, id, n)
		if err != nil {
			return err
		}
		switch {
		case v.Approved():
			return apperr.Errorf(apperr.Conflict, "Version %d is already approved.", n)
		case v.CreatedBy == by:
			return apperr.New(apperr.Forbidden, "You wrote this version: another administrator must approve it (four eyes).")
		case n < d.InForce:
			return apperr.Errorf(apperr.Conflict, "Version %d is in force, and it is newer: write a new version from it instead.", d.InForce)
		case d.Owner == "":
			return apperr.New(apperr.Conflict, "Name the document's owner before approving a version.")
		}
		if ok, err := admin(ctx, tx, by); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Forbidden, "Only an active administrator approves a policy document.")
		}
		now := tx.Now()
		due := db.Time(now.Add(s.interval()))
		res, err := tx.ExecContext(ctx, `UPDATE policy_document_versions SET approved_at = $1, approved_by = $2 WHERE document_id = $3 AND version = $4 AND approved_at IS NULL`,
			now, by, id, n)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k != 1 {
			return apperr.Errorf(apperr.Conflict, "Version %d was approved at the same moment by someone else.", n)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policy_documents SET review_due = $1, review_requested_at = NULL, review_requested_reason = '' WHERE id = $2`,
			due, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "policydoc.approve", Target: "policydoc:" + id, Outcome: audit.Success,
			Details: map[string]any{"version": n, "author": v.CreatedBy, "review_due": due.Format(time.RFC3339), "sha256": bodyHash(v.Body),
				"portico_version": s.version()}})
		return err
	})
	if err != nil {
		return Document{}, err
	}
	return s.Document(ctx, id)
}

// ChangeOwner names a document's owner, an active member of staff.
//
// Enforces CP-11.2: every document has a named owner, and a change of
// owner is audited.
func (s *Service) ChangeOwner(ctx context.Context, id, owner, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		d, err := s.document(ctx, tx, id)
		if err != nil {
			return err
		}
		if ok, err := staffMember(ctx, tx, owner); err != nil {
			return err
		} else if !ok {
			return apperr.InField("owner", apperr.New(apperr.Invalid, "The owner must be an active member of staff."))
		}
		if owner == d.Owner {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policy_documents SET owner = $1 WHERE id = $2`, owner, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "policydoc.owner", Target: "policydoc:" + id, Outcome: audit.Success,
			Details: map[string]any{"from": d.Owner, "to": owner}})
		return err
	})
}

// ReviewInput is what recording a review takes.
type ReviewInput struct {
	Outcome string
	Notes   string
	// Version is the version the review led to (OutcomeChanged).
	Version int
	// ReviewedAt is when the review was held: not in the future; zero is
	// now.
	ReviewedAt time.Time
}

// RecordReview records a review of a document's version in force. A
// review without change moves the due date to the review's date plus
// governance.policy_review_interval and answers a review asked for by a
// significant change before it; a review finding changes needed says
// what in its notes and leaves the date; a review that changed the
// document names the version it led to (whose approval moves the date).
//
// Enforces CP-11.2: reviews are recorded with their reviewer, date and
// outcome, and a review without change moves the next one a year on.
func (s *Service) RecordReview(ctx context.Context, id string, in ReviewInput, by string) (Review, error) {
	in.Notes = strings.TrimSpace(strings.ReplaceAll(in.Notes, "\r\n", "\n"))
	switch {
	case in.Outcome != OutcomeNoChange && in.Outcome != OutcomeChangesNeeded && in.Outcome != OutcomeChanged:
		return Review{}, apperr.InField("outcome", apperr.New(apperr.Invalid, "Choose the review's outcome: no change, changes needed, or changed."))
	case utf8.RuneCountInString(in.Notes) > maxNotes:
		return Review{}, apperr.InField("notes", apperr.Errorf(apperr.Invalid, "Keep the notes to %d characters.", maxNotes))
	case in.Outcome == OutcomeChangesNeeded && in.Notes == "":
		return Review{}, apperr.InField("notes", apperr.New(apperr.Invalid, "Say in the notes which changes are needed."))
	case in.Outcome == OutcomeChanged && in.Version <= 0:
		return Review{}, apperr.InField("version", apperr.New(apperr.Invalid, "Name the version the review led to."))
	case in.Outcome != OutcomeChanged:
		in.Version = 0
	}
	var r Review
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		d, err := s.document(ctx, tx, id)
		if err != nil {
			return err
		}
		if d.InForce == 0 {
			return apperr.New(apperr.Conflict, "No version of this document is in force yet: approve one before reviewing it.")
		}
		if ok, err := staffMember(ctx, tx, by); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Forbidden, "Only an active member of staff records a review.")
		}
		now := tx.Now()
		at := now
		if !in.ReviewedAt.IsZero() {
			at = db.Time(in.ReviewedAt)
		}
		if at.After(now) || at.Before(d.CreatedAt) {
			return apperr.InField("reviewed_at", apperr.New(apperr.Invalid, "The review's date is between the document's creation and today."))
		}
		if in.Outcome == OutcomeChanged {
			v, err := s.versionOf(ctx, tx, id, in.Version)
			if err != nil || v.Number < d.InForce {
				return apperr.InField("version", apperr.Errorf(apperr.Invalid,
					"The review led to a version of this document from version %d in force on: name one that exists.", d.InForce))
			}
		}
		r = Review{ID: strings.ToLower(rand.Text()), DocumentID: id, ReviewedAt: at, Reviewer: by, Outcome: in.Outcome, Version: in.Version,
			Notes: in.Notes, DueBefore: d.ReviewDue, DueAfter: d.ReviewDue, CreatedAt: now}
		answered := false
		if in.Outcome == OutcomeNoChange {
			if next := db.Time(at.Add(s.interval())); next.After(r.DueAfter) {
				r.DueAfter = next
			}
			answered = d.ReviewRequested() && !at.Before(d.ReviewRequestedAt)
		}
		version := sql.NullInt64{Int64: int64(r.Version), Valid: r.Version > 0}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_reviews (id, document_id, reviewed_at, reviewer, outcome, version, notes, due_before, due_after, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, r.ID, id, at, by, r.Outcome, version, r.Notes, r.DueBefore, r.DueAfter, now); err != nil {
			return err
		}
		q := `UPDATE policy_documents SET review_due = $1 WHERE id = $2`
		if answered {
			q = `UPDATE policy_documents SET review_due = $1, review_requested_at = NULL, review_requested_reason = '' WHERE id = $2`
		}
		if _, err := tx.ExecContext(ctx, q, r.DueAfter, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "policydoc.review", Target: "policydoc:" + id, Outcome: audit.Success,
			Details: map[string]any{"review": r.ID, "outcome": r.Outcome, "version": r.Version, "in_force": d.InForce,
				"due_before": d.ReviewDue.UTC().Format(time.RFC3339), "due_after": r.DueAfter.UTC().Format(time.RFC3339),
				"answers_request": answered, "portico_version": s.version()}})
		return err
	})
	return r, err
}

// Slug makes a document's short name from its title: accents dropped,
// lower-case ASCII letters and digits kept, every other run of
// characters one hyphen, at most 64 characters cut at a hyphen.
func Slug(s string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		default:
			hyphen = b.Len() > 0
			continue
		}
		if hyphen {
			b.WriteByte('-')
			hyphen = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > maxID {
		out = out[:maxID]
		if i := strings.LastIndexByte(out, '-'); i > 0 {
			out = out[:i]
		}
		out = strings.TrimSuffix(out, "-")
	}
	return out
}

// bodyHash pins a version's text in the audit trail.
func bodyHash(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}
