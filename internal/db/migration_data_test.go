package db_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestExerciseFindingsMigration (MTL-5.2.2, MTL-4.3.2): migration 00040
// moves every finding of an incident exercise into the findings register
// (source exercise, the exercise's ID; titled by the first line of its
// text, at most 200 characters; medium; its owner, dates and ID kept;
// resolved with the closing note as evidence when it was closed, else
// open) and drops incident_findings; rolled back, the table returns
// empty and the register keeps them.
func TestExerciseFindingsMigration(t *testing.T) {
	dbtest.EachWith(t, dbtest.Options{NoMigrate: true}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.MigrateTo(ctx, 39); err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		due := created.Add(200 * 24 * time.Hour) // later than a medium finding's 90 days: kept as agreed
		closed := created.Add(5 * 24 * time.Hour)
		long := strings.Repeat("é", 250) + "\r\nsecond line"
		exec := func(q string, args ...any) {
			t.Helper()
			if err := d.Transact(ctx, func(tx *db.Tx) error { _, err := tx.ExecContext(ctx, q, args...); return err }); err != nil {
				t.Fatal(err)
			}
		}
		exec(`INSERT INTO incident_exercises (id, kind, scenario, held_at, participants, plan_version, created_at, created_by)
			VALUES ('ex1', 'tabletop', 'Stolen laptop', $1, '["sec1"]', 'builtin-1', $1, 'sec1')`, created)
		exec(`INSERT INTO incident_findings (id, exercise_id, body, owner, due_at, created_at, created_by)
			VALUES ('f-open', 'ex1', $1, 'sec1', $2, $3, 'sec1')`, long, due, created)
		exec(`INSERT INTO incident_findings (id, exercise_id, body, owner, due_at, created_at, created_by, closed_at, closed_by, closing_note)
			VALUES ('f-closed', 'ex1', 'Print the plan', 'sup1', $1, $2, 'sec1', $3, 'sup1', 'Printed and filed')`, due, created, closed)

		if _, err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		type row struct {
			source, sourceID, title, description, severity, component, owner, status, createdBy, closingNote string
			createdAt, dueAt, updatedAt                                                                      time.Time
			closedAt, accepted                                                                               sql.NullTime
			closedBy, assessment, contact                                                                    sql.NullString
		}
		get := func(id string) row {
			t.Helper()
			var r row
			err := d.QueryRowContext(ctx, `SELECT source_kind, source_id, title, description, severity, component, owner, status, created_by,
				closing_note, created_at, due_at, updated_at, closed_at, accepted_until, closed_by, assessment_id, reporter_contact
				FROM findings WHERE id = $1`, id).Scan(&r.source, &r.sourceID, &r.title, &r.description, &r.severity, &r.component, &r.owner,
				&r.status, &r.createdBy, &r.closingNote, &r.createdAt, &r.dueAt, &r.updatedAt, &r.closedAt, &r.accepted, &r.closedBy,
				&r.assessment, &r.contact)
			if err != nil {
				t.Fatalf("finding %s: %v", id, err)
			}
			return r
		}
		o := get("f-open")
		if o.source != "exercise" || o.sourceID != "ex1" || o.title != strings.Repeat("é", 200) || utf8.RuneCountInString(o.title) != 200 ||
			o.description != long || o.severity != "medium" || o.component != "" || o.owner != "sec1" || o.status != "open" ||
			o.createdBy != "sec1" || o.closingNote != "" || !o.createdAt.Equal(created) || !o.dueAt.Equal(due) || !o.updatedAt.Equal(created) ||
			o.closedAt.Valid || o.closedBy.Valid || o.accepted.Valid || o.assessment.Valid || o.contact.Valid {
			t.Errorf("open finding migrated as %+v", o)
		}
		c := get("f-closed")
		if c.title != "Print the plan" || c.status != "resolved" || c.owner != "sup1" || !c.closedAt.Valid || !c.closedAt.Time.Equal(closed) ||
			c.closedBy.String != "sup1" || c.closingNote != "Printed and filed" || !c.updatedAt.Equal(closed) || !c.dueAt.Equal(due) {
			t.Errorf("closed finding migrated as %+v", c)
		}
		if rows, err := d.QueryContext(ctx, `SELECT 1 FROM incident_findings`); err == nil {
			rows.Close()
			t.Error("incident_findings is still there")
		}

		// Down: the table returns empty; the register keeps the findings.
		if err := d.MigrateDownTo(ctx, 39); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_findings`).Scan(&n); err != nil || n != 0 {
			t.Errorf("incident_findings after down: %d, %v", n, err)
		}
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM findings WHERE source_kind = 'exercise'`).Scan(&n); err != nil || n != 2 {
			t.Errorf("register after down: %d, %v", n, err)
		}
		if _, err := d.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM findings`).Scan(&n); err != nil || n != 2 {
			t.Errorf("register after up again: %d, %v", n, err)
		}
	})
}
