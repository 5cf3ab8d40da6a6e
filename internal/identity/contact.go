package identity

import (
	"context"
	"strings"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

func phoneField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "phone_enc", Row: id}
}

// Phone decrypts an account's contact phone ("" if none was given).
func (s *Service) Phone(ctx context.Context, id string) (string, error) {
	var enc []byte
	if err := s.db.QueryRowContext(ctx, `SELECT phone_enc FROM accounts WHERE id = $1`, id).Scan(&enc); err != nil {
		return "", err
	}
	if enc == nil {
		return "", nil
	}
	b, err := s.keys.Decrypt(ctx, s.db, id, phoneField(id), enc)
	return string(b), err
}

// normalizePhone keeps what a phone number is written with: digits, a
// leading +, spaces, dashes, dots and parentheses.
func normalizePhone(p string) (string, error) {
	p = strings.Join(strings.Fields(p), " ")
	if p == "" {
		return "", nil
	}
	digits := 0
	for i, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "", apperr.New(apperr.Invalid, "A phone number may hold digits, a leading +, spaces, dashes, dots and brackets.")
		}
	}
	if digits < 5 || digits > 15 {
		return "", apperr.New(apperr.Invalid, "A phone number has between 5 and 15 digits.")
	}
	return p, nil
}

// SetContact sets the account's name and contact phone (empty clears
// them), encrypted under the account's data key.
//
// Enforces CP-5.1, MTL-2.1.3: contact details are stored encrypted; the
// audit event names the fields that changed, never their values.
func (s *Service) SetContact(ctx context.Context, accountID, name, phone string) error {
	name, err := normalizeName(name)
	if err != nil {
		return apperr.InField("name", err)
	}
	if phone, err = normalizePhone(phone); err != nil {
		return apperr.InField("phone", err)
	}
	oldName, err := s.Name(ctx, accountID)
	if err != nil {
		return err
	}
	oldPhone, err := s.Phone(ctx, accountID)
	if err != nil {
		return err
	}
	var changed []string
	if name != oldName {
		changed = append(changed, "name")
	}
	if phone != oldPhone {
		changed = append(changed, "phone")
	}
	if len(changed) == 0 {
		return nil
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var nameEnc, phoneEnc []byte
		if name != "" {
			if nameEnc, err = s.keys.Encrypt(ctx, tx, accountID, nameField(accountID), []byte(name)); err != nil {
				return err
			}
		}
		if phone != "" {
			if phoneEnc, err = s.keys.Encrypt(ctx, tx, accountID, phoneField(accountID), []byte(phone)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET name_enc = $1, phone_enc = $2, updated_at = $3 WHERE id = $4`,
			nameEnc, phoneEnc, tx.Now(), accountID); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.contact.update", Target: "account:" + accountID,
			Outcome: audit.Success, Details: map[string]any{"fields": strings.Join(changed, ",")}})
		return err
	})
}
