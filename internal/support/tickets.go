package support

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
)

// Bounds of what a ticket holds.
const (
	maxSubject = 150
	maxBody    = 10000
)

func cleanSubject(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	switch n := utf8.RuneCountInString(s); {
	case n < 3:
		return "", apperr.New(apperr.Invalid, "Give the ticket a subject of at least 3 characters.")
	case n > maxSubject:
		return "", apperr.New(apperr.Invalid, "Keep the subject under 150 characters.")
	}
	return s, nil
}

func cleanBody(s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", apperr.New(apperr.Invalid, "Write a message.")
	case n > maxBody:
		return "", apperr.New(apperr.Invalid, "Keep the message under 10,000 characters.")
	}
	if !utf8.ValidString(s) {
		return "", apperr.New(apperr.Invalid, "The message is not valid text.")
	}
	return s, nil
}

// Open opens a ticket for the customer p, with its first message.
//
// Enforces CP-3.3: customers reach support from the portal; the ticket is
// theirs alone (CP-4.2) and encrypted under their key (CP-5.1).
func (s *Service) Open(ctx context.Context, p access.Principal, subject, body string, atts []NewAttachment) (Ticket, error) {
	if !access.Has(p.Role, access.TicketOwn) || p.AccountID == "" {
		return Ticket{}, apperr.New(apperr.Forbidden, "Only customers open tickets.")
	}
	subject, err := cleanSubject(subject)
	if err != nil {
		return Ticket{}, err
	}
	if body, err = cleanBody(body); err != nil {
		return Ticket{}, err
	}
	files, err := checkAttachments(atts)
	if err != nil {
		return Ticket{}, err
	}
	if err := s.writable(ctx, p.AccountID); err != nil {
		return Ticket{}, err
	}
	t := Ticket{ID: newID(), AccountID: p.AccountID, Subject: subject, Status: StatusOpen}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		t.CreatedAt, t.UpdatedAt = now, now
		enc, err := s.keys.Encrypt(ctx, tx, t.AccountID, subjectField(t.ID), []byte(subject))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO tickets (id, account_id, subject_enc, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			t.ID, t.AccountID, enc, t.Status, now); err != nil {
			return err
		}
		m, err := s.insertMessage(ctx, tx, t, p.AccountID, false, body, files)
		if err != nil {
			return err
		}
		t.Messages = []Message{m}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "ticket.open", Target: "ticket:" + t.ID, Outcome: audit.Success,
			Details: map[string]any{"account": t.AccountID, "attachments": len(files)}})
		return err
	})
	if err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// insertMessage writes a message and its attachments, encrypted under the
// ticket owner's key.
func (s *Service) insertMessage(ctx context.Context, tx *db.Tx, t Ticket, author string, staff bool, body string, files []NewAttachment) (Message, error) {
	m := Message{ID: newID(), AuthorID: author, Staff: staff, Body: body, CreatedAt: tx.Now()}
	enc, err := s.keys.Encrypt(ctx, tx, t.AccountID, bodyField(m.ID), []byte(body))
	if err != nil {
		return Message{}, err
	}
	// seq keeps messages in the order written when clocks tie.
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO ticket_messages (id, ticket_id, author_id, staff, body_enc, created_at, seq)
		 VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM ticket_messages WHERE ticket_id = $2))`,
		m.ID, t.ID, author, staff, enc, m.CreatedAt); err != nil {
		return Message{}, err
	}
	for _, f := range files {
		a := Attachment{ID: newID(), Name: f.Name, ContentType: f.ContentType, Size: int64(len(f.Data))}
		nameEnc, err := s.keys.Encrypt(ctx, tx, t.AccountID, attachmentNameField(a.ID), []byte(a.Name))
		if err != nil {
			return Message{}, err
		}
		dataEnc, err := s.keys.Encrypt(ctx, tx, t.AccountID, attachmentDataField(a.ID), f.Data)
		if err != nil {
			return Message{}, err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO ticket_attachments (id, ticket_id, message_id, name_enc, content_type, size, data_enc, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			a.ID, t.ID, m.ID, nameEnc, a.ContentType, a.Size, dataEnc, m.CreatedAt); err != nil {
			return Message{}, err
		}
		m.Attachments = append(m.Attachments, a)
	}
	return m, nil
}

// ListOwn returns the customer's own tickets, most recently active first,
// without their opening and closing times (Get has them).
func (s *Service) ListOwn(ctx context.Context, p access.Principal) ([]Ticket, error) {
	if !access.Has(p.Role, access.TicketOwn) || p.AccountID == "" {
		return nil, nil
	}
	return s.listBrief(ctx, `WHERE account_id = $1 ORDER BY updated_at DESC, id LIMIT 500`, p.AccountID)
}

// QueueFilter narrows the agents' queue.
type QueueFilter struct {
	Status     string // "" for open and pending, "all", or one status
	AssigneeID string // "" anyone, "none" unassigned, or an account ID
	Limit      int    // default 100, at most 500
}

// Queue returns the tickets an agent works on, oldest activity first (the
// ones waiting longest come first).
func (s *Service) Queue(ctx context.Context, p access.Principal, f QueueFilter) ([]Ticket, error) {
	if !isAgent(p) {
		return nil, apperr.New(apperr.NotFound, "No such page.")
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch f.Status {
	case "":
		where = append(where, "status IN ('open', 'pending')")
	case "all":
	case StatusOpen, StatusPending, StatusClosed:
		where = append(where, "status = "+arg(f.Status))
	default:
		return nil, apperr.New(apperr.Invalid, "Unknown status: choose open, pending or closed.")
	}
	switch f.AssigneeID {
	case "":
	case "none":
		where = append(where, "assignee_id IS NULL")
	default:
		where = append(where, "assignee_id = "+arg(f.AssigneeID))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	return s.list(ctx, q+" ORDER BY updated_at, id LIMIT "+arg(limit), args...)
}

func (s *Service) list(ctx context.Context, rest string, args ...any) ([]Ticket, error) {
	return s.query(ctx, true, rest, args...)
}

// listBrief is list without the opening and closing times, which the
// customer's list page does not show: a page of fifty tickets then parses
// a hundred fewer timestamps.
func (s *Service) listBrief(ctx context.Context, rest string, args ...any) ([]Ticket, error) {
	return s.query(ctx, false, rest, args...)
}

func (s *Service) query(ctx context.Context, full bool, rest string, args ...any) ([]Ticket, error) {
	cols := `id, account_id, subject_enc, status, COALESCE(assignee_id, ''), updated_at`
	if full {
		cols += `, created_at, closed_at`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM tickets `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Ticket
	var encs [][]byte
	for rows.Next() {
		var t Ticket
		var enc []byte
		var closed sql.NullTime
		dest := []any{&t.ID, &t.AccountID, &enc, &t.Status, &t.AssigneeID, &t.UpdatedAt}
		if full {
			dest = append(dest, &t.CreatedAt, &closed)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		t.ClosedAt = closed.Time
		out = append(out, t)
		encs = append(encs, enc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// One key read per customer, not per ticket.
	bySubject := map[string][]int{}
	for i := range out {
		bySubject[out[i].AccountID] = append(bySubject[out[i].AccountID], i)
	}
	for subject, idx := range bySubject {
		items := make([]crypto.Sealed, len(idx))
		for j, i := range idx {
			items[j] = crypto.Sealed{Field: subjectField(out[i].ID), Ciphertext: encs[i]}
		}
		plain, err := s.keys.DecryptAll(ctx, s.db, subject, items)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			out[i].Subject = string(plain[j])
		}
	}
	return out, nil
}

// head loads a ticket without its messages, if p may see it.
func (s *Service) head(ctx context.Context, q rowQuerier, p access.Principal, id string) (Ticket, error) {
	var t Ticket
	var enc []byte
	var closed sql.NullTime
	err := q.QueryRowContext(ctx,
		`SELECT id, account_id, subject_enc, status, COALESCE(assignee_id, ''), created_at, updated_at, closed_at FROM tickets WHERE id = $1`, id).
		Scan(&t.ID, &t.AccountID, &enc, &t.Status, &t.AssigneeID, &t.CreatedAt, &t.UpdatedAt, &closed)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !mayOpen(p, t.AccountID)) {
		return Ticket{}, errNoTicket
	}
	if err != nil {
		return Ticket{}, err
	}
	t.ClosedAt = closed.Time
	b, err := s.keys.Decrypt(ctx, q, t.AccountID, subjectField(t.ID), enc)
	if err != nil {
		return Ticket{}, err
	}
	t.Subject = string(b)
	return t, nil
}

// Get returns a ticket with its messages if p may see it; a ticket p may
// not see answers apperr NotFound, exactly like one that does not exist.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (Ticket, error) {
	t, err := s.head(ctx, s.db, p, id)
	if err != nil {
		return Ticket{}, err
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, author_id, staff, body_enc, created_at FROM ticket_messages WHERE ticket_id = $1 ORDER BY seq, id`, id)
	if err != nil {
		return Ticket{}, err
	}
	var encs [][]byte
	for rows.Next() {
		var m Message
		var enc []byte
		if err := rows.Scan(&m.ID, &m.AuthorID, &m.Staff, &enc, &m.CreatedAt); err != nil {
			rows.Close()
			return Ticket{}, err
		}
		t.Messages = append(t.Messages, m)
		encs = append(encs, enc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Ticket{}, err
	}
	byID := map[string]int{}
	for i := range t.Messages {
		b, err := s.keys.Decrypt(ctx, s.db, t.AccountID, bodyField(t.Messages[i].ID), encs[i])
		if err != nil {
			return Ticket{}, err
		}
		t.Messages[i].Body = string(b)
		byID[t.Messages[i].ID] = i
	}
	arows, err := s.db.QueryContext(ctx,
		`SELECT id, message_id, name_enc, content_type, size FROM ticket_attachments WHERE ticket_id = $1 ORDER BY created_at, id`, id)
	if err != nil {
		return Ticket{}, err
	}
	defer arows.Close()
	type pending struct {
		a   Attachment
		msg string
		enc []byte
	}
	var atts []pending
	for arows.Next() {
		var x pending
		if err := arows.Scan(&x.a.ID, &x.msg, &x.enc, &x.a.ContentType, &x.a.Size); err != nil {
			return Ticket{}, err
		}
		atts = append(atts, x)
	}
	if err := arows.Err(); err != nil {
		return Ticket{}, err
	}
	arows.Close()
	for _, x := range atts {
		b, err := s.keys.Decrypt(ctx, s.db, t.AccountID, attachmentNameField(x.a.ID), x.enc)
		if err != nil {
			return Ticket{}, err
		}
		x.a.Name = string(b)
		if i, ok := byID[x.msg]; ok {
			t.Messages[i].Attachments = append(t.Messages[i].Attachments, x.a)
		}
	}
	return t, nil
}

// Reply adds a message to a ticket. A customer's reply puts the ticket
// back in the queue (open); an agent's waits for the customer (pending)
// and tells them by a notice. A closed ticket takes no replies.
func (s *Service) Reply(ctx context.Context, p access.Principal, id, body string, atts []NewAttachment) (Message, error) {
	body, err := cleanBody(body)
	if err != nil {
		return Message{}, err
	}
	files, err := checkAttachments(atts)
	if err != nil {
		return Message{}, err
	}
	var m Message
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		t, err := s.head(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if t.Status == StatusClosed {
			return apperr.New(apperr.Conflict, "This ticket is closed. Open a new ticket if you need more help.")
		}
		if err := s.writable(ctx, t.AccountID); err != nil {
			return err
		}
		staff := t.AccountID != p.AccountID
		if m, err = s.insertMessage(ctx, tx, t, p.AccountID, staff, body, files); err != nil {
			return err
		}
		status := StatusOpen
		if staff {
			status = StatusPending
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = $1, updated_at = $2 WHERE id = $3`, status, tx.Now(), id); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "ticket.reply", Target: "ticket:" + id, Outcome: audit.Success,
			Details: map[string]any{"account": t.AccountID, "staff": staff, "attachments": len(files), "status": status}}); err != nil {
			return err
		}
		if staff && s.notifier != nil {
			to, err := s.identity.Email(ctx, t.AccountID)
			if err != nil {
				return err
			}
			return s.notifier.SecurityNotice(ctx, tx, identity.Notice{
				AccountID: t.AccountID, To: to, Kind: "ticket-reply",
				Title: "Support replied to your ticket",
				Body: "Our support team replied to one of your tickets. Read it, once signed in, at:\n\n" + s.identity.Link("/tickets/"+id) +
					"\n\nWe never put the reply itself in an email.",
				Inbox: true, Email: true,
			})
		}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// SetStatus changes a ticket's status. A customer may only close their own
// ticket; agents may set any status.
func (s *Service) SetStatus(ctx context.Context, p access.Principal, id, status string) error {
	switch status {
	case StatusOpen, StatusPending, StatusClosed:
	default:
		return apperr.New(apperr.Invalid, "Unknown status: choose open, pending or closed.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		t, err := s.head(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if !isAgent(p) && status != StatusClosed {
			return apperr.New(apperr.Forbidden, "You can close your ticket; support changes the other states.")
		}
		if err := s.writable(ctx, t.AccountID); err != nil {
			return err
		}
		if t.Status == status {
			return nil
		}
		now := tx.Now()
		var closed any
		if status == StatusClosed {
			closed = now
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = $1, closed_at = $2, updated_at = $3 WHERE id = $4`, status, closed, now, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "ticket.status", Target: "ticket:" + id, Outcome: audit.Success,
			Details: map[string]any{"account": t.AccountID, "from": t.Status, "to": status}})
		return err
	})
}

// Assign gives a ticket to an agent ("" unassigns). The assignee must be
// an active account whose role works the queue.
func (s *Service) Assign(ctx context.Context, p access.Principal, id, assigneeID string) error {
	if !isAgent(p) {
		return errNoTicket
	}
	if assigneeID != "" {
		a, err := s.identity.Account(ctx, assigneeID)
		if err != nil || a.Status != identity.StatusActive || !access.Has(a.Role, access.TicketQueue) {
			return apperr.New(apperr.Invalid, "That person cannot take tickets.")
		}
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		t, err := s.head(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if t.AssigneeID == assigneeID {
			return nil
		}
		var v any
		if assigneeID != "" {
			v = assigneeID
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET assignee_id = $1, updated_at = $2 WHERE id = $3`, v, tx.Now(), id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "ticket.assign", Target: "ticket:" + id, Outcome: audit.Success,
			Details: map[string]any{"from": t.AssigneeID, "to": assigneeID}})
		return err
	})
}

// rowQuerier is what head reads through: the database or a
// transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writable refuses changes to the tickets of a customer whose processing
// is restricted (CP-11.1, GDPR Art. 18): kept, not used.
func (s *Service) writable(ctx context.Context, customerID string) error {
	a, err := s.identity.Account(ctx, customerID)
	if err != nil {
		return errNoTicket
	}
	if a.Restricted() {
		return apperr.New(apperr.Conflict, "Processing of this customer's data is restricted: their tickets are read-only until the restriction is lifted.")
	}
	return nil
}
