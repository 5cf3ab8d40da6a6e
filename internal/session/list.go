package session

import (
	"context"
	"database/sql"
	"fmt"
)

// List returns the account's live sessions, newest first, with their IP
// address and user agent decrypted: the "your sessions" page, where the
// owner recognises (or does not) each device. Sessions that went idle or
// expired but were not yet swept are left out.
func (s *Store) List(ctx context.Context, accountID string) ([]Session, error) {
	now := s.db.Now()
	return s.list(ctx, accountID, `AND ended_at IS NULL AND expires_at > $2 AND last_seen_at > $3`, now, now.Add(-s.policy.IdleTimeout.Duration))
}

// All returns every session of the account still stored, live or ended
// (until the retention purge deletes it), newest first, decrypted: the
// data export.
//
// Enforces CP-11.1: the export holds the ended sessions' addresses and
// browsers too, as long as Portico keeps them.
func (s *Store) All(ctx context.Context, accountID string) ([]Session, error) {
	return s.list(ctx, accountID, ``)
}

func (s *Store) list(ctx context.Context, accountID, cond string, args ...any) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, role, aal, methods, created_at, last_seen_at, reauth_at, expires_at,
		        device, country, ip_enc, user_agent_enc, ended_at, COALESCE(end_reason, '')
		 FROM sessions
		 WHERE account_id = $1 `+cond+`
		 ORDER BY created_at DESC, id`,
		append([]any{accountID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	type row struct {
		sess         Session
		ipEnc, uaEnc []byte
	}
	var found []row
	for rows.Next() {
		r := row{sess: Session{AccountID: accountID}}
		var methods string
		var ended sql.NullTime
		if err := rows.Scan(&r.sess.ID, &r.sess.Role, &r.sess.AAL, &methods, &r.sess.CreatedAt, &r.sess.LastSeenAt,
			&r.sess.ReauthAt, &r.sess.ExpiresAt, &r.sess.Device, &r.sess.Country, &r.ipEnc, &r.uaEnc, &ended, &r.sess.EndReason); err != nil {
			rows.Close()
			return nil, fmt.Errorf("session: list: %w", err)
		}
		r.sess.Methods, r.sess.EndedAt = splitMethods(methods), ended.Time
		found = append(found, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	// Decrypt after the rows are closed: each decryption reads the
	// subject key, and SQLite's read pool is small.
	out := make([]Session, 0, len(found))
	for _, r := range found {
		ip, err := s.keys.Decrypt(ctx, s.db, accountID, ipField(r.sess.ID), r.ipEnc)
		if err != nil {
			return nil, fmt.Errorf("session: decrypt IP address: %w", err)
		}
		ua, err := s.keys.Decrypt(ctx, s.db, accountID, userAgentField(r.sess.ID), r.uaEnc)
		if err != nil {
			return nil, fmt.Errorf("session: decrypt user agent: %w", err)
		}
		r.sess.IP, r.sess.UserAgent = string(ip), string(ua)
		out = append(out, r.sess)
	}
	return out, nil
}
