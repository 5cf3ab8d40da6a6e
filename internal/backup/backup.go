// Package backup makes and restores Portico's backups (MTL-1.1, CP-5.1):
// a consistent logical export of every table, read in one snapshot
// without stopping the server, compressed and encrypted under the master
// keyset, behind a manifest with checksums.
//
// A backup file is one line of JSON (the manifest, readable without the
// key) followed by the sealed payload. The payload is gzip of a stream of
// JSON lines: for each table a header with its columns, its rows, and a
// trailer with the row count.
//
// Restoring into an empty database checks the checksum, opens the payload
// with the keyset (a keyset without the backup's master key is refused
// with a clear error), migrates to the backup's schema, loads the rows,
// re-applies every erasure recorded in the ledger next to the keyset (so
// that a backup taken before an erasure gives nothing of the erased person
// back: CP-11.1, CP-5.2) and migrates to the binary's schema.
package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// Format names this file format.
const Format = "portico-backup/1"

// Manifest describes a backup. It is stored in clear at the head of the
// file: nothing in it is personal.
type Manifest struct {
	Format        string         `json:"format"`
	CreatedAt     time.Time      `json:"created_at"`
	Version       string         `json:"portico_version"`
	Dialect       string         `json:"dialect"`
	SchemaVersion int64          `json:"schema_version"`
	Tables        map[string]int `json:"tables"` // rows per table
	MasterKeyID   uint32         `json:"master_key_id"`
	PlainSHA256   string         `json:"plain_sha256"`  // of the compressed stream before sealing
	SealedSHA256  string         `json:"sealed_sha256"` // of the bytes after the manifest line
	SealedBytes   int64          `json:"sealed_bytes"`
}

// Create writes a backup of d to w, sealed with keys, and returns its
// manifest. It reads every table in one snapshot; writers go on.
//
// Enforces MTL-1.1, CP-5.1: consistent, compressed, encrypted backups with
// a manifest and checksums.
func Create(ctx context.Context, d *db.DB, keys *crypto.Keyring, version string, w io.Writer) (Manifest, error) {
	schema, _, err := d.SchemaVersion(ctx)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: Format, CreatedAt: d.Now(), Version: version, Dialect: string(d.Dialect()), SchemaVersion: schema, Tables: map[string]int{}}
	var plain bytes.Buffer
	zw := gzip.NewWriter(&plain)
	enc := json.NewEncoder(zw)
	err = d.Snapshot(ctx, func(q db.Querier) error {
		tables, err := d.Tables(ctx, q)
		if err != nil {
			return err
		}
		for _, t := range tables {
			n, err := dumpTable(ctx, q, enc, t)
			if err != nil {
				return fmt.Errorf("backup: table %s: %w", t, err)
			}
			m.Tables[t] = n
		}
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	if err := zw.Close(); err != nil {
		return Manifest{}, err
	}
	ps := sha256.Sum256(plain.Bytes())
	m.PlainSHA256 = hex.EncodeToString(ps[:])
	sealed, keyID, err := keys.SealBackup(plain.Bytes())
	if err != nil {
		return Manifest{}, err
	}
	ss := sha256.Sum256(sealed)
	m.MasterKeyID, m.SealedSHA256, m.SealedBytes = keyID, hex.EncodeToString(ss[:]), int64(len(sealed))
	head, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, err
	}
	if _, err := w.Write(append(head, '\n')); err != nil {
		return Manifest{}, err
	}
	if _, err := w.Write(sealed); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// header and trailer frame a table in the stream.
type header struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

type trailer struct {
	End  string `json:"end"`
	Rows int    `json:"rows"`
}

// value is one encoded column value: JSON null, bool, number or string as
// is; bytes and times in a tagged object, so that they come back typed.
type value struct {
	B *string `json:"b,omitempty"` // base64 bytes
	T *string `json:"t,omitempty"` // RFC 3339 time
}

func encodeValue(v any) any {
	switch x := v.(type) {
	case []byte:
		s := base64.StdEncoding.EncodeToString(x)
		return value{B: &s}
	case time.Time:
		s := x.UTC().Format(time.RFC3339Nano)
		return value{T: &s}
	}
	return v
}

func dumpTable(ctx context.Context, q db.Querier, enc *json.Encoder, table string) (int, error) {
	rows, err := q.QueryContext(ctx, `SELECT * FROM `+quoteIdent(table))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	if err := enc.Encode(header{Table: table, Columns: cols}); err != nil {
		return 0, err
	}
	n := 0
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	out := make([]any, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range raw {
			out[i] = encodeValue(v)
		}
		if err := enc.Encode(out); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, enc.Encode(trailer{End: table, Rows: n})
}

// quoteIdent quotes a table or column name read from the catalogue.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ReadManifest reads the manifest at the head of a backup file.
func ReadManifest(r *bufio.Reader) (Manifest, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: not a Portico backup (no manifest line): %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(line, &m); err != nil || m.Format != Format {
		return Manifest{}, fmt.Errorf("backup: not a Portico backup (format %q)", m.Format)
	}
	return m, nil
}

// Restored says what Restore did.
type Restored struct {
	Manifest Manifest
	Rows     int
	Erased   int // accounts erased again from the ledger
}

// ErrNotEmpty refuses a restore over a database that holds data.
var ErrNotEmpty = errors.New("backup: the target database is not empty: restore into a fresh data directory or an empty database")

// Restore loads the backup read from r into d, which must be empty, with
// the keyset at keysetPath. See the package comment for the steps.
func Restore(ctx context.Context, d *db.DB, keysetPath string, r io.Reader) (Restored, error) {
	br := bufio.NewReader(r)
	m, err := ReadManifest(br)
	if err != nil {
		return Restored{}, err
	}
	sealed, err := io.ReadAll(br)
	if err != nil {
		return Restored{}, err
	}
	ss := sha256.Sum256(sealed)
	if int64(len(sealed)) != m.SealedBytes || hex.EncodeToString(ss[:]) != m.SealedSHA256 {
		return Restored{}, fmt.Errorf("backup: checksum mismatch: the file is damaged or incomplete (%d bytes, manifest says %d)", len(sealed), m.SealedBytes)
	}
	if m.Dialect != string(d.Dialect()) {
		return Restored{}, fmt.Errorf("backup: the backup is of a %s database; restore it into %s", m.Dialect, m.Dialect)
	}
	current, latest, err := d.SchemaVersion(ctx)
	if err != nil {
		return Restored{}, err
	}
	if current != 0 {
		return Restored{}, ErrNotEmpty
	}
	if m.SchemaVersion > latest {
		return Restored{}, fmt.Errorf("backup: the backup's schema (%d) is newer than this Portico's (%d): restore with the version that made it, %s", m.SchemaVersion, latest, m.Version)
	}
	keys, err := crypto.Open(d, keysetPath)
	if err != nil {
		return Restored{}, err
	}
	plain, err := keys.OpenBackup(sealed, m.MasterKeyID)
	if err != nil {
		return Restored{}, err
	}
	ps := sha256.Sum256(plain)
	if hex.EncodeToString(ps[:]) != m.PlainSHA256 {
		return Restored{}, errors.New("backup: checksum mismatch after decryption")
	}
	if err := d.MigrateTo(ctx, m.SchemaVersion); err != nil {
		return Restored{}, err
	}
	res := Restored{Manifest: m}
	zr, err := gzip.NewReader(bytes.NewReader(plain))
	if err != nil {
		return Restored{}, err
	}
	erased, err := keys.ErasedSubjects()
	if err != nil {
		return Restored{}, err
	}
	log := audit.New(d)
	err = d.Transact(ctx, func(tx *db.Tx) error {
		n, err := load(ctx, tx, json.NewDecoder(zr), m)
		if err != nil {
			return err
		}
		res.Rows = n
		// Enforces CP-11.1, CP-5.2: an erasure after the backup holds
		// after the restore.
		for _, id := range erased {
			if err := keys.DestroySubjectKeyAgain(ctx, tx, id); err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, id)
			if err != nil {
				return err
			}
			if k, _ := r.RowsAffected(); k > 0 {
				res.Erased++
			}
		}
		_, err = log.Append(audit.WithActor(ctx, audit.ActorCLI), tx, audit.Event{Action: "backup.restore", Target: "backup:" + m.SealedSHA256[:16],
			Outcome: audit.Success, Details: map[string]any{"created_at": m.CreatedAt.UTC().Format(time.RFC3339), "rows": res.Rows,
				"schema_version": m.SchemaVersion, "erasures_reapplied": res.Erased}})
		return err
	})
	if err != nil {
		return Restored{}, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		return Restored{}, err
	}
	return res, nil
}

// load inserts the stream's rows, table by table, in tx.
func load(ctx context.Context, tx *db.Tx, dec *json.Decoder, m Manifest) (int, error) {
	dec.UseNumber()
	total := 0
	for {
		var h header
		if err := dec.Decode(&h); errors.Is(err, io.EOF) {
			return total, nil
		} else if err != nil || h.Table == "" {
			return total, fmt.Errorf("backup: bad table header: %v", err)
		}
		if _, ok := m.Tables[h.Table]; !ok {
			return total, fmt.Errorf("backup: table %s is not in the manifest", h.Table)
		}
		cols := make([]string, len(h.Columns))
		marks := make([]string, len(h.Columns))
		for i, c := range h.Columns {
			cols[i], marks[i] = quoteIdent(c), fmt.Sprintf("$%d", i+1)
		}
		insert := `INSERT INTO ` + quoteIdent(h.Table) + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
		if h.Table == "audit_head" {
			// The migration made the head row (it may not be deleted);
			// the backup's values replace it.
			insert = `UPDATE audit_head SET seq = $2, hash = $3 WHERE id = $1`
		}
		n := 0
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return total, fmt.Errorf("backup: table %s: %w", h.Table, err)
			}
			if len(raw) > 0 && raw[0] == '{' {
				var t trailer
				if err := json.Unmarshal(raw, &t); err != nil || t.End != h.Table || t.Rows != n || m.Tables[h.Table] != n {
					return total, fmt.Errorf("backup: table %s: %d rows read, trailer or manifest disagrees", h.Table, n)
				}
				break
			}
			var vals []json.RawMessage
			if err := json.Unmarshal(raw, &vals); err != nil || len(vals) != len(h.Columns) {
				return total, fmt.Errorf("backup: table %s: bad row", h.Table)
			}
			args := make([]any, len(vals))
			for i, v := range vals {
				a, err := decodeValue(v)
				if err != nil {
					return total, fmt.Errorf("backup: table %s column %s: %w", h.Table, h.Columns[i], err)
				}
				args[i] = a
			}
			if h.Table == "audit_head" {
				args = reorder(h.Columns, args, "id", "seq", "hash")
			}
			if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
				return total, fmt.Errorf("backup: table %s: %w", h.Table, err)
			}
			n++
		}
		total += n
	}
}

// reorder returns the named columns' values in the order asked.
func reorder(cols []string, args []any, names ...string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		for j, c := range cols {
			if c == n {
				out[i] = args[j]
			}
		}
	}
	return out
}

func decodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '{':
		var v value
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		switch {
		case v.B != nil:
			return base64.StdEncoding.DecodeString(*v.B)
		case v.T != nil:
			return time.Parse(time.RFC3339Nano, *v.T)
		}
		return nil, errors.New("unknown tagged value")
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't', 'f':
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	return n.Float64()
}
