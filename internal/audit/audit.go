// Package audit is Portico's tamper-evident audit trail: an append-only,
// hash-chained log of every security-relevant event.
//
// Enforces CP-5.3, CP-8.1 and MTL-1.1. Each event is written in the same
// transaction as the change that it records (Append), so the trail holds an
// event exactly when the change was committed. Each event stores the SHA-256
// of its predecessor and its own SHA-256 over a canonical encoding of every
// stored column (see hash.go), so that Verify, walking the chain from the
// database alone, finds the first event that was altered, removed or
// inserted. The database rejects UPDATE and DELETE on events (triggers in
// migration 00003); the application has no code path that changes one.
//
// A hash chain alone cannot show that its tail was cut off, or that an
// attacker with database access rewrote the chain from some point on. For
// that, RunAnchoring periodically writes the head (sequence number and hash)
// to the log output and the metrics, which are kept outside the database;
// Verify with an Anchor from such an external copy detects both.
//
// Events must hold no secret, token, password or personal field. Actor and
// Target are opaque IDs ("account:01J…", "system"), never an email address
// or a name; Details holds only non-personal facts (a role, a count, a
// reason code). A few key names that usually carry secrets or personal data
// are rejected outright (see validate.go), but the rule is the caller's to
// keep. The request's IP address and user agent are recorded because
// investigating unauthorised access (CP-5.3) needs them.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portico/portico/internal/db"
)

// Outcomes of an event. Event.Outcome must be one of them.
const (
	// Success: the action was carried out.
	Success = "success"
	// Failure: the action was attempted and failed (bad password, error).
	Failure = "failure"
	// Denied: the action was refused by an access decision or a policy.
	Denied = "denied"
)

// Actors that are not accounts. Accounts appear as their opaque IDs.
const (
	// ActorSystem is Portico itself: start, stop, migrations, scheduled jobs.
	ActorSystem = "system"
	// ActorCLI is an operator running a portico command on the server.
	ActorCLI = "cli"
	// ActorAnonymous is a request by someone not signed in. Append uses it
	// when neither the event nor the context names an actor, so that no
	// event has an empty actor.
	ActorAnonymous = "anonymous"
)

// ErrInvalid is wrapped by the errors of events that fail validation.
// Such an error is a programming mistake, not bad user input.
var ErrInvalid = errors.New("invalid audit event")

// Event is what a caller records. Actor, IP, UserAgent and RequestID are
// taken from the context (WithActor, WithRequest) when left empty.
//
// No field may hold a secret, token, password or personal data: Actor and
// Target are opaque IDs, and Details holds non-personal facts only.
type Event struct {
	Actor   string // who acted: an account ID, ActorSystem, ActorCLI
	Action  string // what was done, dotted lower case: "account.create"
	Target  string // what it was done to: an opaque ID such as "account:01J…"
	Outcome string // Success, Failure or Denied
	// Details holds extra non-personal facts. It is stored as canonical
	// JSON (sorted keys, no insignificant space), and must marshal.
	Details map[string]any

	IP        string // client address of the request
	UserAgent string // client's User-Agent, truncated
	RequestID string // request ID, to find the request's log lines
}

// Record is an event as stored in the chain.
type Record struct {
	Seq       int64     // position in the chain, from 1, without gaps
	At        time.Time // the transaction's time, UTC, microseconds
	Actor     string
	Action    string
	Target    string
	Outcome   string
	IP        string
	UserAgent string
	RequestID string
	// Details is the canonical JSON object exactly as stored and hashed.
	Details json.RawMessage
	// PrevHash is the hash of event Seq-1 (32 zero bytes for event 1).
	PrevHash []byte
	// Hash is SHA-256 over the canonical encoding of this record.
	Hash []byte
}

// Log appends to and reads the audit trail. It is safe for concurrent use.
type Log struct {
	db *db.DB
}

// New returns the audit log stored in d (migration 00003 creates its tables).
func New(d *db.DB) *Log { return &Log{db: d} }

// Append records e inside the caller's transaction tx, so that the event is
// committed exactly when the change that it records is. Its time is
// tx.Now(). Empty Actor, IP, UserAgent and RequestID are filled from ctx.
//
// Appending locks the chain's head row until tx ends (on PostgreSQL every
// node appends to one chain, in order), so append last in a transaction:
// the lock is then held for the shortest time, and a transaction never waits
// for another row while holding it.
//
// An error means the event was not recorded, and may leave the chain half
// moved inside tx: return it from the Transact function so that tx rolls
// back, never commit a transaction whose Append failed.
//
// Enforces CP-5.3: security-relevant changes and their audit events are
// committed together, or not at all.
func (l *Log) Append(ctx context.Context, tx *db.Tx, e Event) (Record, error) {
	if tx == nil {
		return Record{}, errors.New("audit: Append needs a transaction")
	}
	r, err := newRecord(ctx, e)
	if err != nil {
		return Record{}, err
	}
	if err := appendRecord(ctx, tx, &r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// Record records e in a transaction of its own. Use it for events with no
// other change to commit (a failed sign-in, a verify run); use Append when
// the event records a change.
func (l *Log) Record(ctx context.Context, e Event) (Record, error) {
	r, err := newRecord(ctx, e)
	if err != nil {
		return Record{}, err
	}
	err = l.db.Transact(ctx, func(tx *db.Tx) error { return appendRecord(ctx, tx, &r) })
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

// Statements of an append. They are the same on both dialects.
const (
	// Takes the next sequence number and the predecessor's hash. On
	// PostgreSQL the UPDATE locks the head row until commit, so appenders on
	// every node queue here; SQLite has one writer anyway.
	sqlTakeHead = `UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash`
	sqlInsert   = `INSERT INTO audit_events
		(seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	sqlSetHead = `UPDATE audit_head SET hash = $1 WHERE id = 1`
)

// appendRecord links r to the chain's head, stores it and moves the head.
func appendRecord(ctx context.Context, tx *db.Tx, r *Record) error {
	r.At = tx.Now()
	if err := tx.QueryRowContext(ctx, sqlTakeHead).Scan(&r.Seq, &r.PrevHash); err != nil {
		return fmt.Errorf("audit: take chain head: %w", err)
	}
	if len(r.PrevHash) != hashSize {
		return fmt.Errorf("audit: chain head hash has %d bytes, want %d", len(r.PrevHash), hashSize)
	}
	r.Hash = r.computeHash()
	if _, err := tx.ExecContext(ctx, sqlInsert,
		r.Seq, r.At, r.Actor, r.Action, r.Target, r.Outcome, r.IP, r.UserAgent, r.RequestID,
		string(r.Details), r.PrevHash, r.Hash); err != nil {
		return fmt.Errorf("audit: insert event %d: %w", r.Seq, err)
	}
	if _, err := tx.ExecContext(ctx, sqlSetHead, r.Hash); err != nil {
		return fmt.Errorf("audit: move chain head to %d: %w", r.Seq, err)
	}
	return nil
}
