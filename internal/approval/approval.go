// Package approval holds the four-eyes requests: changes that one
// administrator may not make alone, filed by one and carried out only when
// a second approves them (CP-4.2 separation of duties; CP-5.2, CP-5.3 and
// MTL-7.2, so that no single administrator can weaken the controls or the
// evidence of their own actions).
//
// The package keeps the requests and decides them; what an approved request
// does is the caller's: internal/identity changes a role or disables an
// account, the web layer writes a policy edit. Deciding is one conditional
// update of the request row in the caller's transaction, so that two
// administrators deciding at once (an approval racing a cancel, on two
// nodes) get one winner and one clean refusal, never an approval recorded
// over a cancellation.
package approval

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Kind is what a request asks for.
type Kind string

// The kinds of request.
const (
	// RoleChange grants or removes the admin role; Payload["role"] is
	// the new role, Target the account.
	RoleChange Kind = "role.change"
	// AccountDisable disables an administrator's account; Target is the
	// account.
	AccountDisable Kind = "account.disable"
	// PolicyEdit writes settings to the policy override file that weaken
	// a control; Payload maps setting keys to their new text, Target is
	// "policy".
	PolicyEdit Kind = "policy.edit"
)

// Lifetime is how long a request waits for its second administrator.
const Lifetime = 72 * time.Hour

// Outcomes of a decision.
const (
	Approved  = "approved"
	Rejected  = "rejected"
	Cancelled = "cancelled"
)

// Request is a change waiting for (or decided by) a second administrator.
type Request struct {
	ID          string
	Kind        Kind
	Target      string
	Payload     map[string]string
	RequestedBy string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	DecidedBy   string
	DecidedAt   time.Time
	Outcome     string
}

// Store keeps the requests.
type Store struct {
	db    *db.DB
	audit *audit.Log
}

// New returns a store.
func New(d *db.DB, log *audit.Log) *Store { return &Store{db: d, audit: log} }

// File records a request by requester in tx and audits it
// (approval.request). A second open request of the same kind for the same
// target is refused: one change waits at a time.
func (s *Store) File(ctx context.Context, tx *db.Tx, kind Kind, target, requester string, payload map[string]string) (Request, error) {
	if requester == "" || target == "" {
		return Request{}, errors.New("approval: a request needs a requester and a target")
	}
	now := tx.Now()
	var open int
	if err := tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM approvals WHERE kind = $1 AND target = $2 AND decided_at IS NULL AND expires_at > $3`,
		string(kind), target, now).Scan(&open); err != nil {
		return Request{}, fmt.Errorf("approval: count open requests: %w", err)
	}
	if open > 0 {
		return Request{}, apperr.New(apperr.Conflict, "A change of this kind is already waiting for a second administrator: decide or cancel it first.")
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return Request{}, err
	}
	r := Request{ID: strings.ToLower(rand.Text()), Kind: kind, Target: target, Payload: payload, RequestedBy: requester,
		CreatedAt: now, ExpiresAt: now.Add(Lifetime)}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO approvals (id, kind, target, payload, requested_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.ID, string(kind), target, string(b), requester, r.CreatedAt, r.ExpiresAt); err != nil {
		return Request{}, fmt.Errorf("approval: insert: %w", err)
	}
	details := map[string]any{"request": r.ID, "kind": string(kind)}
	for k, v := range payload {
		details["new."+k] = v
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: "approval.request", Target: auditTarget(kind, target), Outcome: audit.Success, Details: details})
	return r, err
}

// auditTarget names what a request is about in the audit trail.
func auditTarget(kind Kind, target string) string {
	if kind == PolicyEdit {
		return "policy"
	}
	return "account:" + target
}

const columns = `id, kind, target, payload, requested_by, created_at, expires_at, decided_by, decided_at, outcome`

func scan(row interface{ Scan(...any) error }) (Request, error) {
	var r Request
	var kind, payload string
	var by, outcome sql.NullString
	var at sql.NullTime
	if err := row.Scan(&r.ID, &kind, &r.Target, &payload, &r.RequestedBy, &r.CreatedAt, &r.ExpiresAt, &by, &at, &outcome); err != nil {
		return Request{}, err
	}
	r.Kind, r.DecidedBy, r.DecidedAt, r.Outcome = Kind(kind), by.String, at.Time, outcome.String
	if err := json.Unmarshal([]byte(payload), &r.Payload); err != nil {
		return Request{}, fmt.Errorf("approval: payload of %s: %w", r.ID, err)
	}
	return r, nil
}

// Open lists the requests waiting for a decision, oldest first.
func (s *Store) Open(ctx context.Context) ([]Request, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+columns+` FROM approvals WHERE decided_at IS NULL AND expires_at > $1 ORDER BY created_at, id`, s.db.Now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns one request, decided or not; NotFound if there is none.
func (s *Store) Get(ctx context.Context, id string) (Request, error) {
	r, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM approvals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, errNoRequest
	}
	return r, err
}

var errNoRequest = apperr.New(apperr.NotFound, "No such request waiting.")

// Decide approves or rejects request id for decider, in tx, and audits the
// decision (approval.decide). Rejecting one's own request cancels it. The
// request must be open, unexpired and of kind; an approval must come from
// someone other than the requester and the account concerned. On approval
// the caller carries the change out in the same tx, so that a change that
// fails leaves the request undecided.
//
// Enforces CP-4.2, CP-5.3: four eyes. The decision is one conditional
// update (WHERE decided_at IS NULL AND expires_at > now): of two decisions
// racing on any nodes, exactly one is recorded and the other answers
// Conflict, so a cancel can never be overwritten by an approval, nor the
// reverse.
func (s *Store) Decide(ctx context.Context, tx *db.Tx, kind Kind, id, decider string, approve bool) (Request, error) {
	r, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM approvals WHERE id = $1 AND kind = $2`, id, string(kind)))
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, errNoRequest
	}
	if err != nil {
		return Request{}, err
	}
	now := tx.Now()
	outcome := Rejected
	switch {
	case !r.DecidedAt.IsZero():
		return Request{}, apperr.Errorf(apperr.Conflict, "This request was already %s.", r.Outcome)
	case !now.Before(r.ExpiresAt):
		return Request{}, apperr.New(apperr.Conflict, "This request has expired; ask for the change again.")
	case approve && decider == r.RequestedBy:
		return Request{}, apperr.New(apperr.Forbidden, "You asked for this change: another administrator must approve it.")
	case approve && r.Kind != PolicyEdit && decider == r.Target:
		return Request{}, apperr.New(apperr.Forbidden, "Nobody approves a change to their own account.")
	case approve:
		outcome = Approved
	case decider == r.RequestedBy:
		outcome = Cancelled
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE approvals SET decided_by = $1, decided_at = $2, outcome = $3
		 WHERE id = $4 AND decided_at IS NULL AND expires_at > $2`,
		decider, now, outcome, r.ID)
	if err != nil {
		return Request{}, fmt.Errorf("approval: decide: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Request{}, apperr.New(apperr.Conflict, "Another administrator decided this request at the same moment; reload the page.")
	}
	r.DecidedBy, r.DecidedAt, r.Outcome = decider, now, outcome
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: "approval.decide", Target: auditTarget(r.Kind, r.Target), Outcome: audit.Success,
		Details: map[string]any{"request": r.ID, "kind": string(r.Kind), "outcome": outcome, "requested_by": r.RequestedBy}})
	return r, err
}
