package identity

import (
	"context"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
)

// Staff is an active member of staff as the registers' pages offer them
// for a choice (an owner, a participant): the opaque account ID and the
// role, no personal data.
type Staff struct{ ID, Role string }

// ActiveStaff lists the active members of staff, those holding first
// before the others, then by role and account ID. q is the database or a
// transaction.
func ActiveStaff(ctx context.Context, q db.Reader, first access.Role) ([]Staff, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, role FROM accounts WHERE role <> 'customer' AND status = 'active'
		ORDER BY CASE WHEN role = $1 THEN 0 ELSE 1 END, role, id`, string(first))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Staff
	for rows.Next() {
		var m Staff
		if err := rows.Scan(&m.ID, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ActiveStaffMember reports whether id is an active member of staff: of
// any staff role when role is "", else of that role. The registers check
// an owner or participant with it inside their own transaction.
func ActiveStaffMember(ctx context.Context, q db.Reader, id string, role access.Role) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT role FROM accounts WHERE id = $1 AND role <> 'customer' AND status = 'active'`, id)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return false, err
		}
		found = role == "" || access.Role(r) == role
	}
	return found, rows.Err()
}
