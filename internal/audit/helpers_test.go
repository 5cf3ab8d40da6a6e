package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// event returns a valid event numbered i.
func event(i int) audit.Event {
	return audit.Event{
		Actor:   fmt.Sprintf("account:%04d", i%7),
		Action:  "test.event",
		Target:  fmt.Sprintf("ticket:%d", i),
		Outcome: audit.Success,
		Details: map[string]any{"n": i, "reason": "because"},
	}
}

// seed records n events, one transaction each, and returns them.
func seed(t testing.TB, l *audit.Log, n int) []audit.Record {
	t.Helper()
	ctx := context.Background()
	recs := make([]audit.Record, 0, n)
	for i := range n {
		r, err := l.Record(ctx, event(i))
		if err != nil {
			t.Fatalf("record event %d: %v", i, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// execSQL runs statements as someone with direct database access would.
func execSQL(t testing.TB, d *db.DB, query string, args ...any) {
	t.Helper()
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), query, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// dropTriggers removes the append-only triggers, as an attacker with
// database access would before tampering.
func dropTriggers(t testing.TB, d *db.DB) {
	t.Helper()
	for _, tr := range []struct{ name, table string }{
		{"audit_events_no_update", "audit_events"},
		{"audit_events_no_delete", "audit_events"},
		{"audit_head_no_delete", "audit_head"},
	} {
		q := "DROP TRIGGER " + tr.name
		if d.Dialect() == db.Postgres {
			q += " ON " + tr.table
		}
		execSQL(t, d, q)
	}
}

// exportAll returns every event as exported.
func exportAll(t testing.TB, l *audit.Log) []audit.ExportLine {
	t.Helper()
	var buf bytes.Buffer
	if _, err := l.Export(context.Background(), &buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	return parseLines(t, buf.Bytes())
}

// parseLines parses JSON Lines strictly: one object per line, nothing else.
func parseLines(t testing.TB, b []byte) []audit.ExportLine {
	t.Helper()
	var out []audit.ExportLine
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			if i != len(bytes.Split(b, []byte("\n")))-1 {
				t.Fatalf("line %d is empty", i+1)
			}
			continue
		}
		var e audit.ExportLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d is not an export line: %v\n%s", i+1, err, line)
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one value", i+1)
		}
		out = append(out, e)
	}
	return out
}

// canonicalHash recomputes an event's hash from an export line. It is
// written from the documentation in hash.go, independently of the package
// code, so that the documented encoding is the one used.
func canonicalHash(t testing.TB, e audit.ExportLine) string {
	t.Helper()
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	str := func(s []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str([]byte("portico-audit-v1"))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	str(prev)
	for _, f := range []string{e.At, e.Actor, e.Action, e.Target, e.Outcome, e.IP, e.UserAgent, e.RequestID} {
		str([]byte(f))
	}
	str(e.Details)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
