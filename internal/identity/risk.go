package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/session"
)

// Kinds of risk signal.
const (
	RiskCountryChange   = "country_change"    // the session's IP country changed
	RiskUserAgentChange = "user_agent_change" // the session's browser changed
	RiskBlockedNetwork  = "blocked_network"   // a request from a network the profile blocks
)

// RiskSignal is one recorded risk signal. Detail holds coarse values only
// (country codes, device names), never an IP address or user agent.
type RiskSignal struct {
	ID        string
	AccountID string // "" for a request without a session
	SessionID string
	Kind      string
	Detail    map[string]string
	CreatedAt time.Time
}

// EndForRisk ends a session whose context no longer matches the one it
// began in, with every other credential of the account (the session may
// have been stolen, and a stolen session can mint an API token), records
// the risk signal and audits both, in one transaction. The owner must sign
// in again.
//
// Enforces CP-6.3: a session is re-evaluated on every request; a change of
// country or browser, or a request from a blocked network, forces
// re-authentication everywhere and is recorded for behavioural analytics
// (CP-8.2).
func (s *Service) EndForRisk(ctx context.Context, sess session.Session, kind string, detail map[string]string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if _, err := s.endCredentials(ctx, tx, sess.AccountID, "", "risk."+kind); err != nil {
			return err
		}
		return s.recordRisk(ctx, tx, sess.AccountID, sess.ID, kind, detail)
	})
}

// RecordRisk records a risk signal without a session (a sign-in attempt
// from a blocked network).
func (s *Service) RecordRisk(ctx context.Context, kind string, detail map[string]string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		return s.recordRisk(ctx, tx, "", "", kind, detail)
	})
}

func (s *Service) recordRisk(ctx context.Context, tx *db.Tx, accountID, sessionID, kind string, detail map[string]string) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	id := strings.ToLower(rand.Text())
	_, err = tx.ExecContext(ctx,
		`INSERT INTO risk_signals (id, account_id, session_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, nullString(accountID), nullString(sessionID), kind, string(b), tx.Now())
	if err != nil {
		return fmt.Errorf("identity: record risk signal: %w", err)
	}
	details := map[string]any{"kind": kind}
	for k, v := range detail {
		details[k] = v
	}
	target := "risk:" + id
	if accountID != "" {
		details["account"] = accountID
		details["session"] = sessionID
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: "risk.signal", Target: target, Outcome: audit.Denied, Details: details})
	return err
}

// RiskSignals returns an account's latest risk signals, newest first.
func (s *Service) RiskSignals(ctx context.Context, accountID string, n int) ([]RiskSignal, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, kind, detail, created_at, COALESCE(session_id, '') FROM risk_signals
		 WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2`, accountID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RiskSignal
	for rows.Next() {
		r := RiskSignal{AccountID: accountID}
		var detail string
		if err := rows.Scan(&r.ID, &r.Kind, &detail, &r.CreatedAt, &r.SessionID); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(detail), &r.Detail); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
