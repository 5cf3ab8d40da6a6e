package incident

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// RegisterEntry is one incident as the breach register holds it: every
// incident, notifiable or not, since the GDPR (Art. 33(5)), Quebec's Act
// (s. 3.8) and PIPEDA (s. 10.3(1)) each keep a record of every breach, not
// only of those reported.
type RegisterEntry struct {
	Incident
	// Assessment is what the security team recorded for the regulator's
	// report (SetAssessment): the nature, consequences and measures, the
	// contact point and the approximate number of records.
	Assessment Assessment
}

// registerFields are the register's fields by name, as the regimes'
// Register columns and Report items name them, each as text for the
// export ("" when not known yet). The list grows with the incident's
// record: a new column of incidents is a field of Incident read in
// registerQuery, one line here, and the regimes' columns that show it.
var registerFields = map[string]func(e RegisterEntry, r Regime) string{
	"id":       func(e RegisterEntry, _ Regime) string { return e.ID },
	"title":    func(e RegisterEntry, _ Regime) string { return e.Title },
	"category": func(e RegisterEntry, _ Regime) string { return e.Category },
	// circumstances is the incident as it was opened, its title and
	// category: it names the incident in the register (the "summary"
	// columns). What happened, the breach's nature or circumstances that
	// a report and a register ask for, is the assessment's nature.
	"circumstances":   func(e RegisterEntry, _ Regime) string { return e.Title + " (" + e.Category + ")" },
	"severity":        func(e RegisterEntry, _ Regime) string { return e.Severity },
	"source":          func(e RegisterEntry, _ Regime) string { return e.Source },
	"phase":           func(e RegisterEntry, _ Regime) string { return e.Phase },
	"detected_at":     func(e RegisterEntry, _ Regime) string { return stamp(e.DetectedAt) },
	"aware_at":        func(e RegisterEntry, _ Regime) string { return stamp(e.AwareAt) },
	"aware_reason":    func(e RegisterEntry, _ Regime) string { return e.AwareReason },
	"data_categories": func(e RegisterEntry, _ Regime) string { return strings.Join(e.DataCategories, "; ") },
	"affected_count": func(e RegisterEntry, _ Regime) string {
		if e.AffectedQuery == "" && e.Affected == 0 {
			return "" // not established yet
		}
		return strconv.Itoa(e.Affected)
	},
	"affected_basis": func(e RegisterEntry, _ Regime) string { return e.AffectedBy() },
	// The assessment (SetAssessment), "" while it is not written.
	"nature":        func(e RegisterEntry, _ Regime) string { return e.Assessment.Nature },
	"consequences":  func(e RegisterEntry, _ Regime) string { return e.Assessment.Consequences },
	"measures":      func(e RegisterEntry, _ Regime) string { return e.Assessment.Measures },
	"contact_point": func(e RegisterEntry, _ Regime) string { return e.Assessment.ContactPoint },
	"records_approx": func(e RegisterEntry, _ Regime) string {
		if e.Assessment.RecordsApprox == nil {
			return "" // not estimated yet
		}
		return strconv.FormatInt(*e.Assessment.RecordsApprox, 10)
	},
	"personal_data": func(e RegisterEntry, _ Regime) string {
		return decided(e.Breach, func(d Decision) bool { return d.PersonalData })
	},
	"risk": func(e RegisterEntry, _ Regime) string {
		return decided(e.Breach, func(d Decision) bool { return d.Risk })
	},
	"high_risk": func(e RegisterEntry, _ Regime) string {
		return decided(e.Breach, func(d Decision) bool { return d.HighRisk })
	},
	"assessment": func(e RegisterEntry, _ Regime) string {
		if e.Breach == nil {
			return ""
		}
		return e.Breach.Reasoning
	},
	"decided_at": func(e RegisterEntry, _ Regime) string { return stamp(decidedAt(e.Breach)) },
	"decided_by": func(e RegisterEntry, _ Regime) string {
		if e.Breach == nil {
			return ""
		}
		return e.Breach.DecidedBy
	},
	"regulator_submitted_at": func(e RegisterEntry, _ Regime) string {
		return submission(e, func(s Submission) string { return stamp(s.At) })
	},
	"regulator_authority": func(e RegisterEntry, _ Regime) string {
		return submission(e, func(s Submission) string { return s.Authority })
	},
	"regulator_reference": func(e RegisterEntry, _ Regime) string {
		return submission(e, func(s Submission) string { return s.Reference })
	},
	"regulator_late_reason": func(e RegisterEntry, _ Regime) string {
		return submission(e, func(s Submission) string { return s.LateReason })
	},
	"created_at": func(e RegisterEntry, _ Regime) string { return stamp(e.CreatedAt) },
	"closed_at":  func(e RegisterEntry, _ Regime) string { return stamp(e.ClosedAt) },
	// Under the regime being exported: is the authority's report, and the
	// people's notice, due; until when is the entry kept.
	"authority_notice": func(e RegisterEntry, r Regime) string { return r.authorityState(e.Incident) },
	"people_notice":    func(e RegisterEntry, r Regime) string { return r.peopleState(e.Incident) },
	"keep_until": func(e RegisterEntry, r Regime) string {
		from := r.keepFrom(e)
		if r.KeepMonths == 0 || from.IsZero() {
			return ""
		}
		return from.UTC().AddDate(0, r.KeepMonths, 0).Format(time.DateOnly)
	},
}

// value is the entry's field as text under regime r.
func (e RegisterEntry) value(field string, r Regime) string {
	f, ok := registerFields[field]
	if !ok {
		panic("incident: no register field " + field) // a programming error, caught by TestRegimeDefinitions
	}
	return f(e, r)
}

// Values returns the entry's row in regime r's register, in the order of
// r.Register.
func (e RegisterEntry) Values(r Regime) []string {
	out := make([]string, len(r.Register))
	for i, c := range r.Register {
		out[i] = e.value(c.Field, r)
	}
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func decided(d *Decision, f func(Decision) bool) string {
	switch {
	case d == nil:
		return ""
	case f(*d):
		return "yes"
	}
	return "no"
}

func submission(e RegisterEntry, f func(Submission) string) string {
	if e.Regulator == nil {
		return ""
	}
	return f(*e.Regulator)
}

// registerQuery reads the register's columns of the incidents table.
const registerQuery = `SELECT id, title, severity, category, source, phase, plan_version, detected_at, detected_reason, aware_at,
	   data_categories, affected_query, affected_count, breach_personal, breach_risk, breach_high_risk, breach_reasoning,
	   breach_decided_at, breach_decided_by, regulator_submitted_at, regulator_authority, regulator_reference,
	   regulator_late_reason, created_at, created_by, closed_at, aware_reason,
	   nature, consequences, measures, contact_point, records_approx
	 FROM incidents`

// Register returns every incident detected from from until to (either
// zero for no bound), oldest first: notifiable or not, open or closed.
//
// Enforces MTL-7.1, MTL-5.1.1: the register holds every incident, not
// only the reported ones, with the fields that each regime's register
// asks for.
func (s *Service) Register(ctx context.Context, from, to time.Time) ([]RegisterEntry, error) {
	return s.register(ctx, s.db, from, to)
}

func (s *Service) register(ctx context.Context, q reader, from, to time.Time) ([]RegisterEntry, error) {
	var where []string
	var args []any
	if !from.IsZero() {
		args = append(args, db.Time(from))
		where = append(where, "detected_at >= $"+strconv.Itoa(len(args)))
	}
	if !to.IsZero() {
		args = append(args, db.Time(to))
		where = append(where, "detected_at < $"+strconv.Itoa(len(args)))
	}
	query := registerQuery
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return entries(ctx, q, query+" ORDER BY detected_at, id", args...)
}

// Entry returns one incident as the register holds it, with its
// assessment: what Regimes reads to tick the report's content.
func (s *Service) Entry(ctx context.Context, id string) (RegisterEntry, error) {
	es, err := entries(ctx, s.db, registerQuery+" WHERE id = $1", id)
	if err != nil {
		return RegisterEntry{}, err
	}
	if len(es) == 0 {
		return RegisterEntry{}, ErrNoIncident
	}
	return es[0], nil
}

// entries reads the rows of a registerQuery.
func entries(ctx context.Context, q reader, query string, args ...any) ([]RegisterEntry, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegisterEntry
	for rows.Next() {
		var e RegisterEntry
		var cats string
		var personal, risk, high sql.NullBool
		var decidedAt, submittedAt, closedAt sql.NullTime
		var decidedBy sql.NullString
		var reasoning, authority, reference, late string
		var records sql.NullInt64
		a := &e.Assessment
		if err := rows.Scan(&e.ID, &e.Title, &e.Severity, &e.Category, &e.Source, &e.Phase, &e.PlanVersion, &e.DetectedAt,
			&e.DetectedReason, &e.AwareAt, &cats, &e.AffectedQuery, &e.Affected, &personal, &risk, &high, &reasoning,
			&decidedAt, &decidedBy, &submittedAt, &authority, &reference, &late, &e.CreatedAt, &e.CreatedBy, &closedAt,
			&e.AwareReason, &a.Nature, &a.Consequences, &a.Measures, &a.ContactPoint, &records); err != nil {
			return nil, err
		}
		if records.Valid {
			n := records.Int64
			a.RecordsApprox = &n
		}
		if err := json.Unmarshal([]byte(cats), &e.DataCategories); err != nil {
			return nil, err
		}
		if personal.Valid {
			e.Breach = &Decision{PersonalData: personal.Bool, Risk: risk.Bool, HighRisk: high.Bool, Reasoning: reasoning,
				DecidedAt: decidedAt.Time, DecidedBy: decidedBy.String}
		}
		if submittedAt.Valid {
			e.Regulator = &Submission{At: submittedAt.Time, Authority: authority, Reference: reference, LateReason: late}
		}
		e.ClosedAt = closedAt.Time
		out = append(out, e)
	}
	return out, rows.Err()
}

// Register export formats.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// checkExport refuses an unknown regime or format: they come from a link,
// so they are a bad request rather than a form to correct.
func checkExport(regime, format string) (Regime, error) {
	r, ok := RegimeByCode(regime)
	if !ok {
		return Regime{}, apperr.Errorf(apperr.BadRequest, "There is no regime %q: the register is exported for %s.",
			regime, strings.Join(policy.KnownRegimes(), ", "))
	}
	if format != FormatCSV && format != FormatJSON {
		return Regime{}, apperr.New(apperr.BadRequest, "The register is exported as csv or json.")
	}
	return r, nil
}

// ExportRegister returns the register from from until to for an export
// in regime's fields and format, once the export is recorded in the
// audit trail with its regime, format, period and count.
//
// Enforces MTL-7.1, CP-5.3: the register leaves Portico only with a
// record of who took it, for which regime and how many incidents.
func (s *Service) ExportRegister(ctx context.Context, from, to time.Time, regime, format string) ([]RegisterEntry, error) {
	if _, err := checkExport(regime, format); err != nil {
		return nil, err
	}
	var entries []RegisterEntry
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		if entries, err = s.register(ctx, tx, from, to); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.register_export", Target: "incident:register", Outcome: audit.Success,
			Details: map[string]any{"regime": regime, "format": format, "count": len(entries), "from": stamp(from), "to": stamp(to)}})
		return err
	})
	return entries, err
}

// WriteRegister writes entries as regime's register: CSV with a header
// row of the regime's field names, or JSON with the regime, its law and
// authority, the field names in order and one object per entry. Nothing
// is written when the regime or the format is unknown.
func WriteRegister(w io.Writer, entries []RegisterEntry, regime, format string) error {
	r, err := checkExport(regime, format)
	if err != nil {
		return err
	}
	names := make([]string, len(r.Register))
	for i, c := range r.Register {
		names[i] = c.Name
	}
	if format == FormatJSON {
		rows := make([]map[string]string, len(entries))
		for i, e := range entries {
			rows[i] = map[string]string{}
			for j, v := range e.Values(r) {
				rows[i][names[j]] = v
			}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Regime    string              `json:"regime"`
			Law       string              `json:"law"`
			Authority string              `json:"authority"`
			Keep      string              `json:"keep"`
			Fields    []string            `json:"fields"`
			Entries   []map[string]string `json:"entries"`
		}{r.Code, r.Name, r.Authority, r.Keep, names, rows})
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if err := cw.Write(names); err != nil {
		return err
	}
	for _, e := range entries {
		row := e.Values(r)
		for i, v := range row {
			row[i] = cellSafe(v)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// cellSafe keeps a spreadsheet from reading a cell as a formula (CSV
// injection, OWASP): titles and reasoning are typed by people, and the
// register is opened in spreadsheets.
func cellSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
