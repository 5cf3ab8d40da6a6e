package compliance

import (
	"context"

	"github.com/portico/portico/internal/audit"
)

// CreateKeyAsAnotherNode makes a first signing key as a node would that
// found none a moment ago: the race SigningKey must win once.
func (s *Service) CreateKeyAsAnotherNode(ctx context.Context) (SigningKey, error) {
	return s.newKey(ctx, audit.ActorSystem, false)
}
