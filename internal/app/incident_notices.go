package app

import (
	"context"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
)

// noticeDeliverer delivers incident notices to customers (the
// incident.Deliverer): in the portal and by email through the outbox,
// to the address identity holds, with both IDs kept so each customer's
// receipt is tracked.
type noticeDeliverer struct {
	id      *identity.Service
	notices *notify.Service
}

func (d noticeDeliverer) Deliver(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) (string, string, error) {
	to, err := d.id.EmailOf(ctx, tx, accountID)
	if err != nil {
		return "", "", err
	}
	return d.notices.NotifyTracked(ctx, tx, notify.Notice{AccountID: accountID, Kind: kind, Title: title, Body: body}, to)
}

func (d noticeDeliverer) Email(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) (string, error) {
	to, err := d.id.EmailOf(ctx, tx, accountID)
	if err != nil {
		return "", err
	}
	return d.notices.QueueEmailID(ctx, tx, notify.Email{AccountID: accountID, To: to, Kind: kind, Subject: title, Text: body})
}
