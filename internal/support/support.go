// Package support is the support desk: customers' tickets with encrypted
// attachments, the agents' queue, customer lookup with masked personal data
// and time-bound, reason-backed reveals (CP-3.3, MTL-3.2.1, MTL-3.2.2).
//
// SKELETON: the exported signatures below are the contract that the web
// layer and the API are written against; the support-desk work fills them.
package support

import (
	"context"
	"errors"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// Ticket statuses.
const (
	StatusOpen    = "open"    // waiting for support
	StatusPending = "pending" // waiting for the customer
	StatusClosed  = "closed"
)

// Ticket is a support ticket. Subject and message bodies are personal data
// of the customer and stored encrypted under their data key.
type Ticket struct {
	ID         string // unguessable
	AccountID  string // the customer
	Subject    string
	Status     string
	AssigneeID string // "" when unassigned
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ClosedAt   time.Time
	Messages   []Message // filled by Get only
}

// Message is one message of a ticket.
type Message struct {
	ID          string
	AuthorID    string
	Staff       bool
	Body        string
	CreatedAt   time.Time
	Attachments []Attachment
}

// Attachment describes a stored attachment.
type Attachment struct {
	ID          string
	Name        string
	ContentType string
	Size        int64
}

// NewAttachment is an uploaded file.
type NewAttachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Deps are what the support desk works with.
type Deps struct {
	DB       *db.DB
	Keys     *crypto.Keyring
	Audit    *audit.Log
	Profile  policy.Profile
	Identity *identity.Service
	Notifier identity.Notifier // may be nil
}

// Service is the support desk.
type Service struct {
	d Deps
}

// New returns the support desk.
func New(d Deps) (*Service, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil || d.Identity == nil {
		return nil, errors.New("support: DB, Keys, Audit and Identity are required")
	}
	return &Service{d: d}, nil
}

var errTODO = errors.New("support: not built yet")

// Get returns a ticket with its messages if p may see it; a ticket p may
// not see answers apperr NotFound, exactly like one that does not exist.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (Ticket, error) {
	return Ticket{}, errTODO
}
