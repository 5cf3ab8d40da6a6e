package privacy_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
)

// schemaColumns lists every "table.column" of the migrated schema, read
// from the database itself: sqlite_master and pragma table_info on
// SQLite, information_schema.columns on PostgreSQL.
func (e *env) schemaColumns(t *testing.T) []string {
	t.Helper()
	var out []string
	err := e.d.Snapshot(e.ctx, func(q db.Querier) error {
		if e.d.Dialect() == db.Postgres {
			rows, err := q.QueryContext(e.ctx,
				`SELECT table_name, column_name FROM information_schema.columns
				 WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var table, col string
				if err := rows.Scan(&table, &col); err != nil {
					return err
				}
				out = append(out, table+"."+col)
			}
			return rows.Err()
		}
		rows, err := q.QueryContext(e.ctx,
			`SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
			 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var table, col string
			if err := rows.Scan(&table, &col); err != nil {
				return err
			}
			out = append(out, table+"."+col)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestEveryColumnIsClassified: every column of every table of the real
// schema is either personal data of a category of the inventory, or
// declared free of personal data with a reason; a new table or column
// that is neither fails here, as does a classification of a column that
// no longer exists (MTL-2.1.1, CP-5.2: what is not in the inventory is
// neither exported, nor stated, nor given a retention).
func TestEveryColumnIsClassified(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		p, _ := policy.Builtin(policy.Default)
		cls, err := privacy.Classification(p)
		if err != nil {
			t.Fatal(err)
		}
		real := map[string]bool{}
		var missing []string
		for _, c := range e.schemaColumns(t) {
			real[c] = true
			if _, ok := cls[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			t.Errorf("MTL-2.1.1: columns neither in a category of the inventory nor declared free of personal data (privacy.Inventory, privacy.notPersonal):\n%s", strings.Join(missing, "\n"))
		}
		for c := range cls {
			if !real[c] {
				t.Errorf("%s is classified but is not in the schema", c)
			}
		}
	})
}
