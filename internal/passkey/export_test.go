package passkey

import (
	"context"
	"crypto/rand"

	"github.com/portico/portico/internal/db"
)

// InsertForTest stores a passkey for accountID without a ceremony, with a
// random credential ID unless one is given, so that the store's scoping can
// be tested without a browser. The key material is junk: it never signs.
func (s *Service) InsertForTest(ctx context.Context, tx *db.Tx, accountID, name string, credentialID []byte) (Passkey, error) {
	if credentialID == nil {
		credentialID = make([]byte, 32)
		rand.Read(credentialID)
	}
	if _, err := ensureUserHandle(ctx, tx, accountID); err != nil {
		return Passkey{}, err
	}
	p := Passkey{ID: newID(), AccountID: accountID, Name: name, CreatedAt: tx.Now(), Transports: []string{"internal"}}
	enc, err := s.keys.Encrypt(ctx, tx, accountID, nameField(p.ID), []byte(name))
	if err != nil {
		return Passkey{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO passkeys (rp_id, `+columns+`)
		VALUES ('localhost', $1, $2, $3, $4, 'none', 'none', $5, 0, 'internal', FALSE, FALSE, TRUE, $6, $7, NULL)`,
		p.ID, accountID, credentialID, []byte{0xa5, 0x01, 0x02}, make([]byte, 16), enc, p.CreatedAt)
	return p, err
}

// UserHandleForTest returns the account's stored WebAuthn user handle.
func (s *Service) UserHandleForTest(ctx context.Context, accountID string) ([]byte, error) {
	return userHandle(ctx, s.db, accountID)
}
