package clustertest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// traceLeases installs, in the cluster's schema only, a trigger that
// records every write to job_leases (db.TakeLease: a take, a renewal, a
// release) with the application_name of the connection that made it,
// which names the node (each node's database URL sets it). The product
// does not keep this history: it is the test's instrument.
func (c *Cluster) traceLeases(t testing.TB) {
	t.Helper()
	_, err := c.db.ExecContext(context.Background(), `
CREATE TABLE clustertest_lease_log (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL,
    node            TEXT NOT NULL,
    holder          TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    prev_holder     TEXT,
    prev_expires_at TIMESTAMPTZ,
    at              TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION clustertest_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO clustertest_lease_log (name, node, holder, expires_at, prev_holder, prev_expires_at)
        VALUES (NEW.name, current_setting('application_name'), NEW.holder, NEW.expires_at, OLD.holder, OLD.expires_at);
    ELSE
        INSERT INTO clustertest_lease_log (name, node, holder, expires_at)
        VALUES (NEW.name, current_setting('application_name'), NEW.holder, NEW.expires_at);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER clustertest_lease_log AFTER INSERT OR UPDATE ON job_leases
    FOR EACH ROW EXECUTE FUNCTION clustertest_log_lease();`)
	if err != nil {
		t.Fatalf("tracing leases: %v", err)
	}
}

// LeaseTake is one write of a job lease that succeeded: the first take,
// a renewal by its holder, a takeover of an expired lease, or a release
// (the holder moving its expiry to now).
type LeaseTake struct {
	ID        int64
	Name      string    // the lease: detect.rules, vendor.monitor, ...
	Node      string    // the node that wrote it (node1, node2, ...), or the application_name of another writer
	Holder    string    // the process's random holder ID (a restart gets a new one)
	ExpiresAt time.Time // until when the holder has it
	// PrevHolder and PrevExpiresAt are the lease as it was before this
	// write ("" and zero for the first take).
	PrevHolder    string
	PrevExpiresAt time.Time
	At            time.Time // the database's clock at the write
}

// LeaseHistory returns every successful write of a job lease since the
// cluster started, in the order they happened (Options.TraceLeases).
func (c *Cluster) LeaseHistory(t testing.TB) []LeaseTake {
	t.Helper()
	if !c.opts.TraceLeases {
		t.Fatal("LeaseHistory needs Options.TraceLeases")
	}
	rows, err := c.db.QueryContext(context.Background(),
		`SELECT id, name, node, holder, expires_at, COALESCE(prev_holder, ''), prev_expires_at, at
		 FROM clustertest_lease_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []LeaseTake
	for rows.Next() {
		var l LeaseTake
		var prev sql.NullTime
		if err := rows.Scan(&l.ID, &l.Name, &l.Node, &l.Holder, &l.ExpiresAt, &l.PrevHolder, &prev, &l.At); err != nil {
			t.Fatal(err)
		}
		l.PrevExpiresAt = prev.Time
		l.Node = strings.TrimPrefix(l.Node, "portico-")
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Tenure is one holder's uninterrupted hold of a lease: from its first
// take to the expiry its last write set.
type Tenure struct {
	Name, Node, Holder string
	From, Until        time.Time
	Writes             int
}

// Tenures groups a lease history into tenures, per lease in order.
func Tenures(history []LeaseTake) map[string][]Tenure {
	out := map[string][]Tenure{}
	for _, l := range history {
		ts := out[l.Name]
		if n := len(ts); n > 0 && ts[n-1].Holder == l.Holder {
			ts[n-1].Until = l.ExpiresAt
			ts[n-1].Writes++
			continue
		}
		out[l.Name] = append(ts, Tenure{Name: l.Name, Node: l.Node, Holder: l.Holder, From: l.At, Until: l.ExpiresAt, Writes: 1})
	}
	return out
}

// LeaseViolations checks a lease history for what db.TakeLease must
// never allow and returns each breach found, described:
//
//   - a lease taken from another holder before that holder's lease
//     expired (two nodes holding it at once);
//   - one holder ID written by two nodes (a holder is one process).
func LeaseViolations(history []LeaseTake) []string {
	var out []string
	nodeOf := map[string]string{}
	for _, l := range history {
		if n, ok := nodeOf[l.Holder]; ok && n != l.Node {
			out = append(out, fmt.Sprintf("lease %s: holder %s written by %s and %s", l.Name, l.Holder, n, l.Node))
		}
		nodeOf[l.Holder] = l.Node
	}
	for name, ts := range Tenures(history) {
		for i := 1; i < len(ts); i++ {
			prev, cur := ts[i-1], ts[i]
			if cur.From.Before(prev.Until) {
				out = append(out, fmt.Sprintf("lease %s: %s took it at %s while %s held it until %s (%v early)",
					name, cur.Node, cur.From.Format(time.StampMicro), prev.Node, prev.Until.Format(time.StampMicro), prev.Until.Sub(cur.From)))
			}
		}
	}
	return out
}
