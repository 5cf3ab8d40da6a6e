package notify

import (
	"context"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
)

// ForIdentity delivers identity's security notices through this service's
// inbox and outbox: the identity.Notifier the program (and the tests that
// read mail) give identity.
func ForIdentity(s *Service) identity.Notifier { return identityNotifier{s} }

type identityNotifier struct{ n *Service }

func (a identityNotifier) SentSince(ctx context.Context, tx *db.Tx, accountID, kind string, since time.Time) (bool, error) {
	return a.n.SentSince(ctx, tx, accountID, kind, since)
}

func (a identityNotifier) SecurityNotice(ctx context.Context, tx *db.Tx, n identity.Notice) error {
	note := Notice{AccountID: n.AccountID, Kind: n.Kind, Title: n.Title, Body: n.Body}
	var err error
	switch {
	case n.Inbox && n.Email && n.To != "":
		_, err = a.n.Notify(ctx, tx, note, n.To)
	case n.Inbox:
		_, err = a.n.Post(ctx, tx, note)
	case n.Email && n.To != "":
		err = a.n.QueueEmail(ctx, tx, Email{AccountID: n.AccountID, To: n.To, Kind: n.Kind, Subject: n.Title, Text: n.Body})
	}
	return err
}
