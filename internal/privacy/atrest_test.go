package privacy_test

import (
	"bytes"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/support"
)

const pgBin = "/usr/lib/postgresql/15/bin/pg_dump"

// TestNoPersonalDataInClear seeds a customer with every category of the
// inventory, then reads the database as an attacker with a copy would: the
// raw SQLite file (and its WAL), or a pg_dump of the schema. None of the
// customer's personal values appears in clear (CP-5.1, MTL-2.1.3).
func TestNoPersonalDataInClear(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		values := []string{"Zebediah Quarrington", "zebediah.q@example.com", "+44 20 7946 0958", "Ticket-subject-7Q2", "Ticket-body-K9X", "Attachment-name-R4T.txt", "Attachment-content-W8Z"}
		c := e.customer(t, "zebediah.q@example.com")
		if err := e.id.SetContact(e.ctx, c.AccountID, "Zebediah Quarrington", "+44 20 7946 0958"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.desk.Open(e.ctx, c, "Ticket-subject-7Q2", "Ticket-body-K9X", []support.NewAttachment{{Name: "Attachment-name-R4T.txt", Data: []byte("Attachment-content-W8Z")}}); err != nil {
			t.Fatal(err)
		}
		// Sign-in history and sessions, with an address and a browser.
		e.id.Login(e.ctx, identity.Credentials{Email: "zebediah.q@example.com", Password: pw, IP: "198.51.100.77", UserAgent: "Browser-UA-5J1"})
		e.id.Login(e.ctx, identity.Credentials{Email: "zebediah.q@example.com", Password: "wrong password entirely", IP: "198.51.100.77", UserAgent: "Browser-UA-5J1"})
		if _, err := e.id.ReportSuspicious(e.ctx, c.AccountID, "", "Report-note-P3M", "customer"); err != nil {
			t.Fatal(err)
		}
		values = append(values, "198.51.100.77", "Browser-UA-5J1", "Report-note-P3M")

		var raw []byte
		if e.d.Dialect() == db.SQLite {
			path := strings.TrimPrefix(e.d.String(), "sqlite ")
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				raw = append(raw, b...)
			}
			if len(raw) == 0 {
				t.Fatalf("read nothing from %s", path)
			}
		} else {
			if _, err := os.Stat(pgBin); err != nil {
				t.Skip("pg_dump not installed")
			}
			var schema string
			if err := e.d.QueryRowContext(e.ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(os.Getenv("PORTICO_TEST_POSTGRES_URL"))
			u.RawQuery = ""
			out, err := exec.Command(pgBin, "--data-only", "-n", schema, u.String()).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			raw = out
		}
		lower := bytes.ToLower(raw)
		for _, v := range values {
			if bytes.Contains(lower, bytes.ToLower([]byte(v))) {
				t.Errorf("%q is in the database in clear text", v)
			}
		}
		// The check finds what is there: an account's role is in clear.
		if !bytes.Contains(raw, []byte("customer")) {
			t.Error("the raw read found nothing at all: the test would not notice a leak")
		}
	})
}

// TestErasureLeavesNoKeyInDataDirectory: once an erasure has committed,
// the erased customer's wrapped data key is in no file of the data
// directory while the server runs: not in the database file, not in the
// SQLite write-ahead log (which keeps replaced pages until a checkpoint),
// not in the shared-memory index. On PostgreSQL, a pg_dump of the schema
// does not hold it either (CP-5.2).
func TestErasureLeavesNoKeyInDataDirectory(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "shred.me@example.com")
		if _, err := e.desk.Open(e.ctx, c, "Before the erasure", "Some words.", nil); err != nil {
			t.Fatal(err)
		}
		keep := e.customer(t, "keep.me@example.com") // other writes after the key, as in life
		if err := e.id.SetContact(e.ctx, keep.AccountID, "Keep Me", "+44 20 7946 0001"); err != nil {
			t.Fatal(err)
		}
		var wrapped []byte
		if err := e.d.QueryRowContext(e.ctx, `SELECT wrapped_key FROM subject_keys WHERE subject_id = $1`, c.AccountID).Scan(&wrapped); err != nil || len(wrapped) < 32 {
			t.Fatalf("wrapped key %x: %v", wrapped, err)
		}
		if _, err := e.svc.RequestErasure(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(8 * 24 * time.Hour)
		if n, err := e.svc.RunDueErasures(e.ctx); n != 1 || err != nil {
			t.Fatalf("RunDueErasures = %d, %v", n, err)
		}

		if e.d.Dialect() == db.SQLite {
			dir := filepath.Dir(strings.TrimPrefix(e.d.String(), "sqlite "))
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			read := 0
			for _, f := range entries {
				b, err := os.ReadFile(filepath.Join(dir, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				read += len(b)
				if bytes.Contains(b, wrapped) {
					t.Errorf("%s still holds the erased customer's wrapped key", f.Name())
				}
			}
			if read == 0 {
				t.Fatalf("read nothing in %s", dir)
			}
			return
		}
		if _, err := os.Stat(pgBin); err != nil {
			t.Skip("pg_dump not installed")
		}
		var schema string
		if err := e.d.QueryRowContext(e.ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(os.Getenv("PORTICO_TEST_POSTGRES_URL"))
		u.RawQuery = ""
		out, err := exec.Command(pgBin, "--data-only", "-n", schema, u.String()).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		if bytes.Contains(out, []byte(hex.EncodeToString(wrapped))) {
			t.Error("the dump still holds the erased customer's wrapped key")
		}
		if !bytes.Contains(out, []byte(c.AccountID)) {
			t.Error("the dump does not hold the erasure's tombstone: the test would not notice a leak")
		}
	})
}
