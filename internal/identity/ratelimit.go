package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
)

// rowQuerier is what reads a single row: *db.DB and *db.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Limit kinds: the endpoint a limit guards and whether it counts per
// address or per network.
const (
	limitLoginIP      = "login-ip"
	limitLoginNetwork = "login-net"
	limitSignupIP     = "signup-ip"
	limitResetIP      = "reset-ip"
	limitMFAIP        = "mfa-ip"
)

// errThrottled is what a client over a limit is told. It says nothing
// about any account.
var errThrottled = apperr.New(apperr.RateLimited, "Too many attempts from your network. Please wait a few minutes and try again.")

// hit counts one attempt against a limit and reports whether it is over
// it. The counter lives in the database so that every node shares it; the
// key is an HMAC of kind and address, so no address is stored (CP-5.1).
// Fixed windows keep it to one row per key and window.
//
// Enforces CP-8.2: brute force and credential stuffing are throttled per
// address and per network, whatever account they aim at.
func (s *Service) hit(ctx context.Context, tx *db.Tx, kind, who string, limit int) (bool, error) {
	m := hmac.New(sha256.New, s.rateKey)
	m.Write([]byte(kind + "|" + who))
	sum := m.Sum(nil)
	window := s.profile.RateLimit.Window.Duration
	now := tx.Now()
	start := now.Truncate(window)
	var hits int
	err := tx.QueryRowContext(ctx,
		`INSERT INTO rate_limits (key_hash, window_start, hits) VALUES ($1, $2, 1)
		 ON CONFLICT (key_hash, window_start) DO UPDATE SET hits = rate_limits.hits + 1
		 RETURNING hits`, sum, start).Scan(&hits)
	if err != nil {
		return false, err
	}
	return hits > limit, nil
}

// pruneRateLimits deletes windows that have ended.
func (s *Service) pruneRateLimits(ctx context.Context, tx *db.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM rate_limits WHERE window_start < $1`,
		tx.Now().Add(-2*s.profile.RateLimit.Window.Duration))
	return err
}

// limitFor returns the limit of kind from the profile.
func (s *Service) limitFor(kind string) int {
	rl := s.profile.RateLimit
	switch kind {
	case limitLoginIP:
		return rl.LoginPerIP
	case limitLoginNetwork:
		return rl.LoginPerNetwork
	case limitSignupIP:
		return rl.SignupPerIP
	case limitResetIP:
		return rl.ResetPerIP
	case limitMFAIP:
		return rl.MFAPerIP
	}
	return 0
}

// throttle counts an attempt of kind from ip (and, for sign-in, its
// network) in its own transaction, so that the count stands even when the
// attempt itself fails and rolls back. It returns errThrottled when over.
func (s *Service) throttle(ctx context.Context, ip string, kinds ...string) error {
	over := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		for _, k := range kinds {
			who := ip
			if k == limitLoginNetwork {
				who = detect.Network(ip) // an IPv4 /24 or IPv6 /56: credential stuffing rotates addresses inside one
			}
			o, err := s.hit(ctx, tx, k, who, s.limitFor(k))
			if err != nil {
				return err
			}
			over = over || o
		}
		return nil
	})
	if err != nil {
		return err
	}
	if over {
		return errThrottled
	}
	return nil
}

// ThrottleSignIn counts a sign-in attempt that does not pass through
// Login (the start of a passwordless passkey sign-in) against the limits
// of its address and network.
func (s *Service) ThrottleSignIn(ctx context.Context, ip string) error {
	return s.throttle(ctx, ip, limitLoginIP, limitLoginNetwork)
}

// ThrottleDisclosure counts a report through the public vulnerability
// disclosure form against the limit of its network (an IPv4 /24 or IPv6
// /56), the sign-up limit per window: a public form that files into the
// security team's queue is throttled like sign-up.
//
// Enforces CP-8.2, CP-6.2: the public disclosure form cannot flood the
// findings register.
func (s *Service) ThrottleDisclosure(ctx context.Context, ip string) error {
	over := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		over, err = s.hit(ctx, tx, limitDisclosureNetwork, detect.Network(ip), s.profile.RateLimit.SignupPerIP)
		return err
	})
	if err != nil {
		return err
	}
	if over {
		return errThrottled
	}
	return nil
}

// limitDisclosureNetwork is the limit kind of the disclosure form.
const limitDisclosureNetwork = "disclosure-net"
