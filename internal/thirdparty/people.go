package thirdparty

import (
	"context"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Person is a staff or contractor account that works for a vendor.
type Person struct {
	VendorID, VendorName string
	AccountID, Role      string
	AddedAt              time.Time
	AddedBy              string
}

// LinkPerson links a staff account to a vendor: the account belongs to
// someone who works for it (a contractor), so that the relationship is
// known when the vendor is reviewed or retired.
//
// Enforces MTL-1.2: staff and contractor accounts of a third party are
// linked to it, and the link audited.
func (s *Service) LinkPerson(ctx context.Context, vendorID, accountID, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if _, err := s.get(ctx, tx, vendorID); err != nil {
			return err
		}
		if ok, err := staffMember(ctx, tx, accountID); err != nil {
			return err
		} else if !ok {
			return fieldErr("account", "Choose an active staff account.")
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO vendor_people (vendor_id, account_id, added_at, added_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (vendor_id, account_id) DO NOTHING`, vendorID, accountID, tx.Now(), by)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "The account is already linked to the vendor.")
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.person_link", Target: "vendor:" + vendorID, Outcome: audit.Success,
			Details: map[string]any{"account": accountID}})
		return err
	})
}

// UnlinkPerson removes the link.
func (s *Service) UnlinkPerson(ctx context.Context, vendorID, accountID, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM vendor_people WHERE vendor_id = $1 AND account_id = $2`, vendorID, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.person_unlink", Target: "vendor:" + vendorID, Outcome: audit.Success,
			Details: map[string]any{"account": accountID}})
		return err
	})
}

// People lists the accounts linked to a vendor.
func (s *Service) People(ctx context.Context, vendorID string) ([]Person, error) {
	return s.people(ctx, `WHERE p.vendor_id = $1 ORDER BY p.added_at, p.account_id`, vendorID)
}

// VendorsOf lists the links of one account, for the administrators' view
// of a user.
func (s *Service) VendorsOf(ctx context.Context, accountID string) ([]Person, error) {
	return s.people(ctx, `WHERE p.account_id = $1 ORDER BY p.added_at, p.vendor_id`, accountID)
}

func (s *Service) people(ctx context.Context, where string, arg string) ([]Person, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.vendor_id, v.name, p.account_id, a.role, p.added_at, p.added_by FROM vendor_people p
		JOIN accounts a ON a.id = p.account_id JOIN vendors v ON v.id = p.vendor_id `+where, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		var p Person
		if err := rows.Scan(&p.VendorID, &p.VendorName, &p.AccountID, &p.Role, &p.AddedAt, &p.AddedBy); err != nil {
			return nil, err
		}
		p.AddedAt = p.AddedAt.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}
