package identity

import (
	"context"

	"github.com/portico/portico/internal/db"
)

// NotifyAccount sends one account a notice of kind (inbox and email) inside
// tx, for services that identity does not own: the security team's
// question about a customer's report, or its outcome, is sent in the same
// transaction that records it.
//
// Enforces CP-3.1, CP-7.3: the customer who reported is told, in the portal
// and by email.
func (s *Service) NotifyAccount(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) error {
	email, err := s.emailIn(ctx, tx, accountID)
	if err != nil {
		return err
	}
	return s.notice(ctx, tx, accountID, email, kind, title, body)
}

// EmailOf returns the account's address inside tx, for a caller that
// writes to the account itself and tracks the message (incident notices).
func (s *Service) EmailOf(ctx context.Context, tx *db.Tx, accountID string) (string, error) {
	return s.emailIn(ctx, tx, accountID)
}
