package thirdparty

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Kinds of agreement.
const (
	AgreementContract = "contract"
	AgreementDPA      = "dpa"
)

// MaxAgreementBytes bounds an agreement's file.
const MaxAgreementBytes = 5 << 20

// SecurityClauses are the security clauses an agreement is checked for,
// with their names for people.
var SecurityClauses = []struct{ ID, Name string }{
	{"breach_notification", "Breach notification"},
	{"audit_rights", "Audit rights"},
	{"subprocessor_approval", "Sub-processor approval"},
	{"deletion_at_end", "Deletion or return of data at the end"},
	{"confidentiality", "Confidentiality"},
}

// ClauseName names a clause for people.
func ClauseName(id string) string {
	for _, c := range SecurityClauses {
		if c.ID == id {
			return c.Name
		}
	}
	return id
}

// agreementTypes are the files accepted, by extension, with the type their
// content must show.
var agreementTypes = map[string]string{".pdf": "application/pdf", ".txt": "text/plain"}

// Agreement is a contract or DPA with a vendor.
type Agreement struct {
	ID, VendorID, Kind    string
	Filename, ContentType string
	Size                  int64
	SHA256                string // hex
	Clauses               []string
	StartsOn, ExpiresOn   time.Time
	CreatedAt             time.Time
	CreatedBy             string
}

// Missing are the security clauses the agreement lacks.
func (a Agreement) Missing() []string {
	var out []string
	for _, c := range SecurityClauses {
		if !slices.Contains(a.Clauses, c.ID) {
			out = append(out, c.ID)
		}
	}
	return out
}

// ExpiredAt reports whether the agreement has expired at now.
func (a Agreement) ExpiredAt(now time.Time) bool { return !now.Before(a.ExpiresOn) }

// NewAgreement is what recording an agreement takes.
type NewAgreement struct {
	Kind                string
	Filename            string
	Body                []byte
	Clauses             []string
	StartsOn, ExpiresOn time.Time
}

// AddAgreement records a contract or DPA with its file (PDF or text, up
// to 5 MiB, its type read from the content), the security clauses it
// holds, and its dates.
//
// Enforces MTL-6.2: agreements are kept with their file and SHA-256, the
// security clauses they hold and when they expire.
func (s *Service) AddAgreement(ctx context.Context, vendorID string, n NewAgreement, by string) (Agreement, error) {
	name := strings.TrimSpace(filepath.Base(strings.ReplaceAll(n.Filename, "\\", "/")))
	switch {
	case n.Kind != AgreementContract && n.Kind != AgreementDPA:
		return Agreement{}, fieldErr("kind", "Choose a contract or a data processing agreement.")
	case name == "" || name == "." || name == "/" || utf8.RuneCountInString(name) > 120 || !utf8.ValidString(name):
		return Agreement{}, fieldErr("file", "Attach the agreement's file, with a name of at most 120 characters.")
	case len(n.Body) == 0:
		return Agreement{}, fieldErr("file", "The file is empty.")
	case len(n.Body) > MaxAgreementBytes:
		return Agreement{}, fieldErr("file", "The file is larger than 5 MB.")
	case n.StartsOn.IsZero() || n.ExpiresOn.IsZero():
		return Agreement{}, fieldErr("expires_on", "Give the dates the agreement starts and expires.")
	case !n.ExpiresOn.After(n.StartsOn):
		return Agreement{}, fieldErr("expires_on", "The agreement must expire after it starts.")
	}
	want, ok := agreementTypes[strings.ToLower(filepath.Ext(name))]
	if !ok {
		return Agreement{}, fieldErr("file", "Send the agreement as a .pdf or .txt file.")
	}
	if got, _, _ := strings.Cut(http.DetectContentType(n.Body), ";"); got != want {
		return Agreement{}, fieldErr("file", "The file does not contain what its name says.")
	}
	var clauses []string
	for _, c := range n.Clauses {
		if !slices.ContainsFunc(SecurityClauses, func(sc struct{ ID, Name string }) bool { return sc.ID == c }) {
			return Agreement{}, fieldErr("clauses", "Tick only the listed security clauses.")
		}
		if !slices.Contains(clauses, c) {
			clauses = append(clauses, c)
		}
	}
	sum := sha256.Sum256(n.Body)
	a := Agreement{ID: strings.ToLower(rand.Text()), VendorID: vendorID, Kind: n.Kind, Filename: name, ContentType: want,
		Size: int64(len(n.Body)), SHA256: hex.EncodeToString(sum[:]), Clauses: nonNil(clauses),
		StartsOn: db.Time(n.StartsOn), ExpiresOn: db.Time(n.ExpiresOn), CreatedBy: by}
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		v, err := s.get(ctx, tx, vendorID)
		if err != nil {
			return err
		}
		if v.Status == StatusRetired {
			return apperr.New(apperr.Conflict, "The vendor is retired: its record no longer changes.")
		}
		a.CreatedAt = tx.Now()
		cl, _ := json.Marshal(a.Clauses)
		if _, err := tx.ExecContext(ctx, `INSERT INTO vendor_agreements (id, vendor_id, kind, filename, content_type, size, sha256, body, clauses,
			starts_on, expires_on, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			a.ID, vendorID, a.Kind, a.Filename, a.ContentType, a.Size, a.SHA256, n.Body, string(cl), a.StartsOn, a.ExpiresOn, a.CreatedAt, by); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.agreement_add", Target: "vendor:" + vendorID, Outcome: audit.Success,
			Details: map[string]any{"agreement": a.ID, "kind": a.Kind, "sha256": a.SHA256, "missing_clauses": a.Missing(),
				"expires": a.ExpiresOn.UTC().Format(time.RFC3339)}})
		return err
	})
	if err != nil {
		return Agreement{}, err
	}
	return a, nil
}

const agreementCols = `id, vendor_id, kind, filename, content_type, size, sha256, clauses, starts_on, expires_on, created_at, created_by`

// Agreements lists a vendor's agreements, the latest to expire first.
func (s *Service) Agreements(ctx context.Context, vendorID string) ([]Agreement, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+agreementCols+` FROM vendor_agreements WHERE vendor_id = $1 ORDER BY expires_on DESC, id`, vendorID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Agreement
	for rows.Next() {
		a, err := scanAgreement(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AgreementFile returns an agreement and its file; reading it is audited.
func (s *Service) AgreementFile(ctx context.Context, vendorID, id, by string) (Agreement, []byte, error) {
	var a Agreement
	var body []byte
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		a, err = scanAgreement(tx.QueryRowContext(ctx, `SELECT `+agreementCols+` FROM vendor_agreements WHERE id = $1 AND vendor_id = $2`, id, vendorID))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT body FROM vendor_agreements WHERE id = $1`, id).Scan(&body); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.agreement_read", Target: "vendor:" + vendorID, Outcome: audit.Success,
			Details: map[string]any{"agreement": id}})
		return err
	})
	return a, body, err
}

func scanAgreement(r scanner) (Agreement, error) {
	var a Agreement
	var cl string
	if err := r.Scan(&a.ID, &a.VendorID, &a.Kind, &a.Filename, &a.ContentType, &a.Size, &a.SHA256, &cl, &a.StartsOn, &a.ExpiresOn,
		&a.CreatedAt, &a.CreatedBy); err != nil {
		return Agreement{}, err
	}
	a.StartsOn, a.ExpiresOn, a.CreatedAt = a.StartsOn.UTC(), a.ExpiresOn.UTC(), a.CreatedAt.UTC()
	return a, json.Unmarshal([]byte(cl), &a.Clauses)
}

// NextAgreementExpiry is the earliest expiry among a vendor's agreements
// still in force at now, or the latest expired one when none is (zero
// when it has none).
func NextAgreementExpiry(as []Agreement, now time.Time) time.Time {
	var next, last time.Time
	for _, a := range as {
		if a.ExpiredAt(now) {
			if a.ExpiresOn.After(last) {
				last = a.ExpiresOn
			}
			continue
		}
		if next.IsZero() || a.ExpiresOn.Before(next) {
			next = a.ExpiresOn
		}
	}
	if next.IsZero() {
		return last
	}
	return next
}
