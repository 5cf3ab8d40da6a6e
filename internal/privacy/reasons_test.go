package privacy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/support"
)

// dumpTables reads every row of every table as text: what an operator
// with a copy of the database sees.
func (e *env) dumpTables(t *testing.T) []byte {
	t.Helper()
	var out bytes.Buffer
	err := e.d.Snapshot(e.ctx, func(q db.Querier) error {
		tables, err := e.d.Tables(e.ctx, q)
		if err != nil {
			return err
		}
		for _, table := range tables {
			if err := dumpTable(e, q, table, &out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func dumpTable(e *env, q db.Querier, table string, out *bytes.Buffer) error {
	rows, err := q.QueryContext(e.ctx, `SELECT * FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s:", table)
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				out.Write(b)
			} else {
				fmt.Fprint(out, v)
			}
			out.WriteByte('|')
		}
		out.WriteByte('\n')
	}
	return rows.Err()
}

// TestErasedReasonsAreUnreadable: the reasons staff give for unmasking,
// correcting and restricting a customer's data are sealed under the
// customer's key in the audit trail and in their tables; staff read them
// while the customer exists, and after the erasure no row of any table,
// audit_events included, holds them in a readable form (CP-5.2,
// MTL-2.1.3).
func TestErasedReasonsAreUnreadable(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		reasons := map[string]string{
			identity.ActionReveal:   "Reveal-reason-G7H: calling back about her divorce",
			identity.ActionRectify:  "Rectify-reason-J2K: she moved to Leeds after the surgery",
			identity.ActionRestrict: "Restrict-reason-L5N: objected in a letter about her debts",
			// An administrator's reveal of the address (issue 10).
			identity.ActionAccountReveal: "AdminRev-reason-P8Q: confirming her address after the move",
		}
		c := e.customer(t, "reasons@example.com")
		staff := func(email string, role access.Role) access.Principal {
			a, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: email, Name: "Staff", Role: role, Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			return access.Principal{AccountID: a.ID, Role: role, SessionID: "s", Stage: access.StageDone, ReauthAt: e.clk.Now()}
		}
		agent, admin := staff("agent@example.com", access.RoleSupport), staff("admin@example.com", access.RoleAdmin)
		if _, err := e.desk.Reveal(e.ctx, agent, c.AccountID, support.FieldEmail, reasons[identity.ActionReveal]); err != nil {
			t.Fatal(err)
		}
		if _, err := e.desk.RevealAccountEmail(e.ctx, admin, c.AccountID, reasons[identity.ActionAccountReveal]); err != nil {
			t.Fatal(err)
		}
		if err := e.desk.Rectify(e.ctx, agent, c.AccountID, support.FieldName, "Jane Smith", reasons[identity.ActionRectify]); err != nil {
			t.Fatal(err)
		}
		if err := e.id.SetRestricted(e.ctx, admin, c.AccountID, true, reasons[identity.ActionRestrict]); err != nil {
			t.Fatal(err)
		}
		shown := func(action string) string {
			var target, details string
			if err := e.d.QueryRowContext(e.ctx, `SELECT target, details FROM audit_events WHERE action = $1`, action).Scan(&target, &details); err != nil {
				t.Fatalf("%s: %v", action, err)
			}
			var m map[string]any
			json.Unmarshal(e.id.ShowDetails(e.ctx, action, target, json.RawMessage(details)), &m)
			s, _ := m["reason"].(string)
			return s
		}
		leaks := func(dump []byte) []string {
			var out []string
			for _, r := range reasons {
				if bytes.Contains(dump, []byte(r[:14])) {
					out = append(out, r[:14])
				}
			}
			return out
		}

		t.Run("CP-5.2, MTL-2.1.3: staff read each reason while the customer exists, and no table holds one in clear", func(t *testing.T) {
			for action, want := range reasons {
				if got := shown(action); got != want {
					t.Errorf("%s: staff see the reason %q, want %q", action, got, want)
				}
			}
			h, err := e.desk.AccessHistory(e.ctx, c, c.AccountID)
			if err != nil || len(h) != 2 || h[0].Reason != reasons[identity.ActionAccountReveal] && h[1].Reason != reasons[identity.ActionAccountReveal] {
				t.Errorf("the customer's access history: %+v %v", h, err)
			}
			if l := leaks(e.dumpTables(t)); len(l) > 0 {
				t.Errorf("in clear in the database: %v", l)
			}
		})

		if _, err := e.svc.RequestErasure(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(8 * 24 * time.Hour)
		if n, err := e.svc.RunDueErasures(e.ctx); n != 1 || err != nil {
			t.Fatalf("RunDueErasures = %d, %v", n, err)
		}

		t.Run("CP-5.2: after the erasure no row of any table, the audit trail included, gives a reason back", func(t *testing.T) {
			dump := e.dumpTables(t)
			if l := leaks(dump); len(l) > 0 {
				t.Errorf("readable after the erasure: %v", l)
			}
			if !bytes.Contains(dump, []byte(identity.ActionReveal)) || !strings.Contains(string(dump), c.AccountID) {
				t.Fatal("the scan did not read the audit trail: it would not notice a leak")
			}
			for action := range reasons {
				if got := shown(action); got != identity.ErasedReason {
					t.Errorf("%s: staff see %q after the erasure, want %q", action, got, identity.ErasedReason)
				}
			}
		})
	})
}
