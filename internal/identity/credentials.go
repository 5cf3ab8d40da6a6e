package identity

import (
	"context"
	"fmt"
	"strings"

	"github.com/portico/portico/internal/db"
)

// ended is what endCredentials ended, for audit details and notices.
type ended struct {
	Sessions, Tokens int
}

// endCredentials ends every credential of an account that a session or a
// token carries, in the caller's transaction: it moves the account's
// credentials epoch, ends its sessions (all of them, or all but keep when
// keep is the ID of the session that asked) with reason, and revokes its
// API tokens. Each ended session gets its session.end event from the
// session store; the caller audits the action itself with the counts.
//
// Every "get the attacker out" action goes through here: a password reset
// or change, "sign out everywhere else", an administrator's "end
// sessions", a risk sign-out, a suspicious-activity report, a forced
// password change, a role change, a disabled account. The epoch is what
// makes it hold: a session or token that a racing request created under
// the old epoch (a sign-in that checked the old password, a token minted
// from a stolen session a moment before) is refused by
// session.Store.Authenticate and apitoken.Store.Authenticate on every node,
// though it was never in the rows this transaction ended.
//
// Enforces CP-6.3, CP-4.1: no session or token outlives the reset of the
// account's credentials.
func (s *Service) endCredentials(ctx context.Context, tx *db.Tx, accountID, keep, reason string) (ended, error) {
	var epoch int64
	if err := tx.QueryRowContext(ctx,
		`UPDATE accounts SET credentials_epoch = credentials_epoch + 1 WHERE id = $1 RETURNING credentials_epoch`,
		accountID).Scan(&epoch); err != nil {
		return ended{}, fmt.Errorf("identity: move credentials epoch: %w", err)
	}
	var out ended
	if s.sessions != nil {
		var err error
		if out.Sessions, err = s.sessions.EndAll(ctx, tx, accountID, keep, reason); err != nil {
			return ended{}, err
		}
		if keep != "" {
			if err := s.sessions.Keep(ctx, tx, accountID, keep, epoch); err != nil {
				return ended{}, err
			}
		}
	}
	var err error
	if out.Tokens, err = revokeTokens(ctx, tx, accountID); err != nil {
		return ended{}, err
	}
	return out, nil
}

// endedText says in words what endCredentials ended, for a notice:
// "2 other sessions were signed out and 1 API token was revoked".
func endedText(e ended) string {
	var parts []string
	if e.Sessions > 0 {
		parts = append(parts, plural(e.Sessions, "other session was signed out", "other sessions were signed out"))
	}
	if e.Tokens > 0 {
		parts = append(parts, plural(e.Tokens, "API token was revoked", "API tokens were revoked"))
	}
	return strings.Join(parts, " and ")
}
