// Package support is the support desk: customers' tickets with encrypted
// attachments, the agents' queue, customer lookup with masked personal data
// and time-bound, reason-backed reveals (CP-3.3, MTL-3.2.1, MTL-3.2.2).
//
// Every method takes the acting principal and checks, below the handler,
// both the role's permission and the object: a customer reaches only their
// own tickets, and a ticket that the principal may not see answers exactly
// like one that does not exist (CP-4.2, STYLE.md §5). Everything a customer
// writes, and everything staff write on a customer's ticket, is encrypted
// under that customer's data key (CP-5.1, MTL-2.1.3).
package support

import (
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
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

// Ticket is a support ticket.
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
	ContentType string // as declared by the browser; checked against the content
	Data        []byte
}

// Deps are what the support desk works with.
type Deps struct {
	DB       *db.DB
	Keys     *crypto.Keyring
	Audit    *audit.Log
	Profile  policy.Profile
	Identity *identity.Service
	Notifier identity.Notifier // may be nil: no notices
}

// Service is the support desk.
type Service struct {
	db       *db.DB
	keys     *crypto.Keyring
	audit    *audit.Log
	profile  policy.Profile
	identity *identity.Service
	notifier identity.Notifier
}

// New returns the support desk.
func New(d Deps) (*Service, error) {
	if d.DB == nil || d.Keys == nil || d.Audit == nil || d.Identity == nil {
		return nil, errors.New("support: DB, Keys, Audit and Identity are required")
	}
	return &Service{db: d.DB, keys: d.Keys, audit: d.Audit, profile: d.Profile, identity: d.Identity, notifier: d.Notifier}, nil
}

func newID() string { return strings.ToLower(rand.Text()) }

// errNoTicket is the one answer for a ticket that does not exist and for
// one the principal may not see (CP-4.2: no existence oracle).
var errNoTicket = apperr.New(apperr.NotFound, "No such ticket.")

// errNoCustomer is the same for customers.
var errNoCustomer = apperr.New(apperr.NotFound, "No such customer.")

// isAgent reports whether p works the queue.
func isAgent(p access.Principal) bool { return access.Has(p.Role, access.TicketQueue) }

// mayOpen reports whether p may see a ticket of accountID.
//
// Enforces CP-4.2: object-level access below the handler: the owner (with
// the customer's permission) or an agent of the queue; nobody else.
func mayOpen(p access.Principal, accountID string) bool {
	if p.AccountID == "" {
		return false
	}
	if isAgent(p) {
		return true
	}
	return access.Has(p.Role, access.TicketOwn) && p.AccountID == accountID
}

func subjectField(id string) crypto.Field {
	return crypto.Field{Table: "tickets", Column: "subject_enc", Row: id}
}

func bodyField(id string) crypto.Field {
	return crypto.Field{Table: "ticket_messages", Column: "body_enc", Row: id}
}

func attachmentNameField(id string) crypto.Field {
	return crypto.Field{Table: "ticket_attachments", Column: "name_enc", Row: id}
}

func attachmentDataField(id string) crypto.Field {
	return crypto.Field{Table: "ticket_attachments", Column: "data_enc", Row: id}
}

func reasonField(id string) crypto.Field {
	return crypto.Field{Table: "reveal_grants", Column: "reason_enc", Row: id}
}
