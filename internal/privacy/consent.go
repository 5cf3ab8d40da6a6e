package privacy

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// BuiltinNoticeVersion is the privacy notice version that ships with this
// Portico, in force until an administrator publishes another.
const BuiltinNoticeVersion = "2026-11"

// Notice is a published version of the privacy notice.
type Notice struct {
	Version     string
	PublishedAt time.Time // zero for the built-in version
	Changes     string    // what changed, in plain words
}

// Purpose is an optional purpose of processing that needs the customer's
// consent, separate from the contract (MTL-2.1.2: purpose limitation).
type Purpose struct {
	ID          string
	Title       string
	Description string
}

// Purposes lists the optional purposes. Nothing else is done with
// personal data on the basis of consent.
func Purposes() []Purpose {
	return []Purpose{
		{"product_news", "Product news", "An occasional email about new features of the portal. Never shared with anyone; at most once a month."},
		{"research", "Service research", "An invitation, now and then, to tell us how the portal works for you."},
	}
}

func validPurpose(id string) bool {
	for _, p := range Purposes() {
		if p.ID == id {
			return true
		}
	}
	return false
}

// CurrentVersion is CurrentNotice's version, cached for a few seconds: the
// page header asks it on every signed-in request.
func (s *Service) CurrentVersion(ctx context.Context) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.cachedAt) < 10*time.Second && s.cached != "" {
		return s.cached
	}
	n, err := s.CurrentNotice(ctx)
	if err != nil {
		return s.cached
	}
	s.cached, s.cachedAt = n.Version, time.Now()
	return s.cached
}

// CurrentNotice returns the privacy notice in force: the latest published,
// or the built-in one.
func (s *Service) CurrentNotice(ctx context.Context) (Notice, error) {
	var n Notice
	err := s.d.DB.QueryRowContext(ctx,
		`SELECT version, published_at, changes FROM privacy_notices ORDER BY published_at DESC, version DESC LIMIT 1`).
		Scan(&n.Version, &n.PublishedAt, &n.Changes)
	if errors.Is(err, sql.ErrNoRows) {
		return Notice{Version: BuiltinNoticeVersion}, nil
	}
	return n, err
}

// Notices lists the published versions, newest first.
func (s *Service) Notices(ctx context.Context) ([]Notice, error) {
	rows, err := s.d.DB.QueryContext(ctx, `SELECT version, published_at, changes FROM privacy_notices ORDER BY published_at DESC, version DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		if err := rows.Scan(&n.Version, &n.PublishedAt, &n.Changes); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// PublishNotice makes a new version of the privacy notice current; every
// customer is asked to acknowledge it at their next sign-in.
//
// Enforces MTL-2.1.1: changes to how personal data is processed are
// published as versions that customers are shown and acknowledge.
func (s *Service) PublishNotice(ctx context.Context, actor access.Principal, version, changes string) (Notice, error) {
	if !access.Has(actor.Role, access.PolicyEdit) {
		return Notice{}, apperr.New(apperr.NotFound, "No such page.")
	}
	version = strings.TrimSpace(version)
	if len(version) < 1 || len(version) > 20 || strings.Trim(version, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return Notice{}, apperr.New(apperr.Invalid, "A version is 1 to 20 lower-case letters, digits, dots or dashes, such as 2027-01.")
	}
	changes = strings.TrimSpace(changes)
	if len(changes) < 10 || len(changes) > 2000 {
		return Notice{}, apperr.New(apperr.Invalid, "Say what changed, in 10 to 2,000 characters: customers read it before they acknowledge.")
	}
	cur, err := s.CurrentNotice(ctx)
	if err != nil {
		return Notice{}, err
	}
	if version == cur.Version || version == BuiltinNoticeVersion {
		return Notice{}, apperr.New(apperr.Conflict, "That version exists already: choose a new one.")
	}
	n := Notice{Version: version, Changes: changes}
	err = s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		n.PublishedAt = tx.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO privacy_notices (version, published_at, published_by, changes) VALUES ($1, $2, $3, $4)`,
			version, n.PublishedAt, actor.AccountID, changes); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "That version exists already: choose a new one.")
			}
			return err
		}
		_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "privacy.notice.publish", Target: "notice:" + version, Outcome: audit.Success,
			Details: map[string]any{"previous": cur.Version}})
		return err
	})
	if err != nil {
		return Notice{}, err
	}
	s.mu.Lock()
	s.cached = ""
	s.mu.Unlock()
	return n, nil
}

// NeedsAcknowledgement reports whether the customer has not yet
// acknowledged the notice in force, and returns it.
func (s *Service) NeedsAcknowledgement(ctx context.Context, p access.Principal) (bool, Notice, error) {
	if p.Role != access.RoleCustomer || p.AccountID == "" {
		return false, Notice{}, nil
	}
	cur, err := s.CurrentNotice(ctx)
	if err != nil {
		return false, Notice{}, err
	}
	var have string
	if err := s.d.DB.QueryRowContext(ctx, `SELECT privacy_version FROM accounts WHERE id = $1`, p.AccountID).Scan(&have); err != nil {
		return false, Notice{}, err
	}
	return have != cur.Version, cur, nil
}

// Acknowledge records that the customer read version, which must be the
// one in force.
func (s *Service) Acknowledge(ctx context.Context, p access.Principal, version string) error {
	if err := customerOnly(p); err != nil {
		return err
	}
	cur, err := s.CurrentNotice(ctx)
	if err != nil {
		return err
	}
	if version != cur.Version {
		return apperr.New(apperr.Conflict, "The privacy notice changed meanwhile: read the current version.")
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET privacy_version = $1, privacy_accepted_at = $2 WHERE id = $3`, version, now, p.AccountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO notice_acks (account_id, version, at) VALUES ($1, $2, $3) ON CONFLICT (account_id, version) DO NOTHING`, p.AccountID, version, now); err != nil {
			return err
		}
		_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "privacy.notice.acknowledge", Target: "account:" + p.AccountID, Outcome: audit.Success,
			Details: map[string]any{"version": version}})
		return err
	})
}

// ConsentEvent is one change of a consent.
type ConsentEvent struct {
	Purpose       string    `json:"purpose"`
	Granted       bool      `json:"granted"`
	At            time.Time `json:"at"`
	NoticeVersion string    `json:"notice_version"`
}

// Consents returns the customer's current consent per purpose (absent
// means never given) and the whole history, newest first.
func (s *Service) Consents(ctx context.Context, accountID string) (map[string]bool, []ConsentEvent, error) {
	rows, err := s.d.DB.QueryContext(ctx,
		`SELECT purpose, granted, at, notice_version FROM consents WHERE account_id = $1 ORDER BY at DESC, id DESC`, accountID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	current := map[string]bool{}
	seen := map[string]bool{}
	var history []ConsentEvent
	for rows.Next() {
		var e ConsentEvent
		if err := rows.Scan(&e.Purpose, &e.Granted, &e.At, &e.NoticeVersion); err != nil {
			return nil, nil, err
		}
		if !seen[e.Purpose] {
			seen[e.Purpose], current[e.Purpose] = true, e.Granted
		}
		history = append(history, e)
	}
	return current, history, rows.Err()
}

// SetConsent gives or withdraws the customer's consent to an optional
// purpose. Withdrawing is as easy as giving and takes effect at once.
//
// Enforces MTL-2.1.2: optional purposes rest on separate consents, each
// change recorded with the notice version in force and audited.
func (s *Service) SetConsent(ctx context.Context, p access.Principal, purpose string, granted bool) error {
	if err := customerOnly(p); err != nil {
		return err
	}
	if !validPurpose(purpose) {
		return apperr.New(apperr.Invalid, "Unknown purpose.")
	}
	cur, err := s.CurrentNotice(ctx)
	if err != nil {
		return err
	}
	now, _, err := s.Consents(ctx, p.AccountID)
	if err != nil {
		return err
	}
	if now[purpose] == granted {
		return nil
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO consents (id, account_id, purpose, granted, at, notice_version) VALUES ($1, $2, $3, $4, $5, $6)`,
			newID(), p.AccountID, purpose, granted, tx.Now(), cur.Version); err != nil {
			return err
		}
		action := "privacy.consent.give"
		if !granted {
			action = "privacy.consent.withdraw"
		}
		_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: action, Target: "account:" + p.AccountID, Outcome: audit.Success,
			Details: map[string]any{"purpose": purpose, "notice_version": cur.Version}})
		return err
	})
}
