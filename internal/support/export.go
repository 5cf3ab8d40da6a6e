package support

import (
	"context"
	"database/sql"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/crypto"
)

// AllOwn returns every ticket of p's own account, oldest first, with its
// messages and the descriptions of their attachments, decrypted: for the
// account's data export. Unlike ListOwn it has no page limit, and it
// reads the account's tickets, messages and attachments in three queries
// whatever their number. The files themselves are read one at a time
// with Attachment.
//
// Enforces CP-11.1: the export holds every ticket, not the latest page.
func (s *Service) AllOwn(ctx context.Context, p access.Principal) ([]Ticket, error) {
	if !access.Has(p.Role, access.TicketOwn) || p.AccountID == "" {
		return nil, nil
	}
	tickets, err := s.query(ctx, true, `WHERE account_id = $1 ORDER BY created_at, id`, p.AccountID)
	if err != nil {
		return nil, err
	}
	byTicket := make(map[string]int, len(tickets))
	for i := range tickets {
		byTicket[tickets[i].ID] = i
	}

	rows, err := s.db.QueryContext(ctx,
		`SELECT m.id, m.ticket_id, m.author_id, m.staff, m.body_enc, m.created_at FROM ticket_messages m
		 JOIN tickets t ON t.id = m.ticket_id WHERE t.account_id = $1 ORDER BY m.ticket_id, m.seq, m.id`, p.AccountID)
	if err != nil {
		return nil, err
	}
	type msgAt struct{ ticket, msg int }
	var where []msgAt
	var sealed []crypto.Sealed
	byMessage := map[string]msgAt{}
	for rows.Next() {
		var m Message
		var ticketID string
		var author sql.NullString
		var enc []byte
		if err := rows.Scan(&m.ID, &ticketID, &author, &m.Staff, &enc, &m.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		m.AuthorID = author.String
		i, ok := byTicket[ticketID]
		if !ok {
			continue
		}
		at := msgAt{i, len(tickets[i].Messages)}
		tickets[i].Messages = append(tickets[i].Messages, m)
		where = append(where, at)
		byMessage[m.ID] = at
		sealed = append(sealed, crypto.Sealed{Field: bodyField(m.ID), Ciphertext: enc})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	bodies, err := s.keys.DecryptAll(ctx, s.db, p.AccountID, sealed)
	if err != nil {
		return nil, err
	}
	for j, at := range where {
		tickets[at.ticket].Messages[at.msg].Body = string(bodies[j])
	}

	arows, err := s.db.QueryContext(ctx,
		`SELECT a.id, a.message_id, a.name_enc, a.content_type, a.size FROM ticket_attachments a
		 JOIN tickets t ON t.id = a.ticket_id WHERE t.account_id = $1 ORDER BY a.created_at, a.id`, p.AccountID)
	if err != nil {
		return nil, err
	}
	var atts []Attachment
	var owners []msgAt
	sealed = sealed[:0]
	for arows.Next() {
		var a Attachment
		var msgID string
		var enc []byte
		if err := arows.Scan(&a.ID, &msgID, &enc, &a.ContentType, &a.Size); err != nil {
			arows.Close()
			return nil, err
		}
		at, ok := byMessage[msgID]
		if !ok {
			continue
		}
		atts = append(atts, a)
		owners = append(owners, at)
		sealed = append(sealed, crypto.Sealed{Field: attachmentNameField(a.ID), Ciphertext: enc})
	}
	arows.Close()
	if err := arows.Err(); err != nil {
		return nil, err
	}
	names, err := s.keys.DecryptAll(ctx, s.db, p.AccountID, sealed)
	if err != nil {
		return nil, err
	}
	for j, a := range atts {
		a.Name = string(names[j])
		m := &tickets[owners[j].ticket].Messages[owners[j].msg]
		m.Attachments = append(m.Attachments, a)
	}
	return tickets, nil
}
