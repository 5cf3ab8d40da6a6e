package detect

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// Report states. A report is open when the security team has it, waiting
// when a question to the customer is unanswered, escalated when it went to
// an incident, and closed with an outcome the customer was told.
const (
	ReportOpen      = "open"
	ReportWaiting   = "waiting"
	ReportEscalated = "escalated"
	ReportClosed    = "closed"
)

// Kinds of message in a report's thread. Notes are the security team's
// own; the customer sees the rest.
const (
	MessageNote     = "note"
	MessageQuestion = "question"
	MessageAnswer   = "answer"
	MessageOutcome  = "outcome"
)

// Outcomes are the codes a report is closed with, and what the customer
// is told for each, in plain words.
var Outcomes = map[string]string{
	"confirmed_compromise": "We found that someone else did get into your account. We have signed them out; please make sure your password is one you use nowhere else, and that your second factor is yours.",
	"no_evidence":          "We looked into it and found no sign that anyone else got into your account.",
	"customer_activity":    "We looked into it and the activity came from your own devices or sign-ins: it was you.",
	"duplicate":            "This report is about the same activity as another report of yours, which we are handling there.",
}

// OutcomeCodes lists the outcomes in the order the security team sees them.
var OutcomeCodes = []string{"confirmed_compromise", "no_evidence", "customer_activity", "duplicate"}

// Report is a suspicious-activity report in the triage queue.
type Report struct {
	ID          string
	AccountID   string
	CreatedAt   time.Time
	Source      string // "customer", or "support:<id>" when filed for them
	SignInEvent string
	Details     string // decrypted (Report and CustomerReport only)
	Status      string
	AssignedTo  string
	Outcome     string
	IncidentID  string
	ClosedAt    time.Time
	Thread      []Message // oldest first (Report and CustomerReport only)
}

// OutcomeText is the outcome in the words the customer was told.
func (r Report) OutcomeText() string { return Outcomes[r.Outcome] }

// Message is one entry of a report's thread.
type Message struct {
	ID        string
	Author    string // opaque account ID
	Kind      string
	Body      string
	CreatedAt time.Time
}

// ReportFilter selects reports for the triage queue.
type ReportFilter struct {
	States []string // empty: every state but closed
	Limit  int
}

const reportColumns = `id, account_id, created_at, source, COALESCE(sign_in_event_id, ''), status, COALESCE(assigned_to, ''),
	COALESCE(outcome, ''), COALESCE(incident_id, ''), closed_at`

func scanReport(row interface{ Scan(...any) error }, enc *[]byte) (Report, error) {
	var r Report
	var closed sql.NullTime
	dest := []any{&r.ID, &r.AccountID, &r.CreatedAt, &r.Source, &r.SignInEvent, &r.Status, &r.AssignedTo, &r.Outcome, &r.IncidentID, &closed}
	if enc != nil {
		dest = append(dest, enc)
	}
	err := row.Scan(dest...)
	r.ClosedAt = closed.Time
	return r, err
}

// Reports lists suspicious-activity reports, the oldest first: the one
// waiting longest is worked first. Details stay encrypted here.
//
// Enforces CP-7.3, CP-3.2: every report a customer files, or support files
// for them, reaches the security team's queue.
func (s *Service) Reports(ctx context.Context, f ReportFilter) ([]Report, error) {
	states := f.States
	if len(states) == 0 {
		states = []string{ReportOpen, ReportWaiting, ReportEscalated}
	}
	q := `SELECT ` + reportColumns + ` FROM security_reports WHERE status IN (`
	var args []any
	for i, st := range states {
		if i > 0 {
			q += ", "
		}
		args = append(args, st)
		q += "$" + strconv.Itoa(len(args))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 200
	}
	args = append(args, f.Limit)
	q += ") ORDER BY created_at, id LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.d.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		r, err := scanReport(rows, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReportCounts returns the number of reports in each state.
func (s *Service) ReportCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.d.DB.QueryContext(ctx, `SELECT status, COUNT(*) FROM security_reports GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// ErrNoReport is the answer for a report that does not exist, or that is
// not the asking customer's.
var ErrNoReport = apperr.New(apperr.NotFound, "There is no such report.")

// Report returns one report for the security team, with its details and
// its whole thread (internal notes included) decrypted.
func (s *Service) Report(ctx context.Context, id string) (Report, error) {
	return s.report(ctx, id, "", true)
}

// CustomerReport returns one of the customer's own reports as they see
// it: the details they gave, the questions, their answers and the outcome,
// never the security team's internal notes. Another account's report is
// ErrNoReport.
//
// Enforces CP-7.3, CP-3.1: the customer follows their report in the portal.
func (s *Service) CustomerReport(ctx context.Context, accountID, id string) (Report, error) {
	if accountID == "" {
		return Report{}, ErrNoReport
	}
	return s.report(ctx, id, accountID, false)
}

func (s *Service) report(ctx context.Context, id, owner string, notes bool) (Report, error) {
	var enc []byte
	r, err := scanReport(s.d.DB.QueryRowContext(ctx, `SELECT `+reportColumns+`, details_enc FROM security_reports WHERE id = $1`, id), &enc)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != "" && r.AccountID != owner) {
		return Report{}, ErrNoReport
	}
	if err != nil {
		return Report{}, err
	}
	q := `SELECT id, author, kind, body_enc, created_at FROM report_messages WHERE report_id = $1`
	if !notes {
		q += ` AND kind <> 'note'`
	}
	rows, err := s.d.DB.QueryContext(ctx, q+` ORDER BY seq`, id)
	if err != nil {
		return Report{}, err
	}
	defer rows.Close()
	var sealed []crypto.Sealed
	for rows.Next() {
		var m Message
		var body []byte
		if err := rows.Scan(&m.ID, &m.Author, &m.Kind, &body, &m.CreatedAt); err != nil {
			return Report{}, err
		}
		r.Thread = append(r.Thread, m)
		sealed = append(sealed, crypto.Sealed{Field: messageField(m.ID), Ciphertext: body})
	}
	if err := rows.Err(); err != nil {
		return Report{}, err
	}
	rows.Close()
	if enc != nil {
		sealed = append(sealed, crypto.Sealed{Field: crypto.Field{Table: "security_reports", Column: "details_enc", Row: r.ID}, Ciphertext: enc})
	}
	if len(sealed) == 0 {
		return r, nil
	}
	// One read of the customer's key for the details and the thread.
	plain, err := s.d.Keys.DecryptAll(ctx, s.d.DB, r.AccountID, sealed)
	if err != nil {
		return Report{}, err
	}
	for i := range r.Thread {
		r.Thread[i].Body = string(plain[i])
	}
	if enc != nil {
		r.Details = string(plain[len(plain)-1])
	}
	return r, nil
}

func messageField(id string) crypto.Field {
	return crypto.Field{Table: "report_messages", Column: "body_enc", Row: id}
}

// maxMessage bounds a note, question, answer or closing message.
const maxMessage = 4000

func messageText(s, what string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.Errorf(apperr.Invalid, "Write the %s first.", what)
	}
	if utf8.RuneCountInString(s) > maxMessage {
		return "", apperr.Errorf(apperr.Invalid, "Please keep the %s under 4,000 characters.", what)
	}
	return s, nil
}

// lockReport reads a report's owner and state inside tx, taking the
// report's row for the rest of the transaction (a no-op write), so that
// two actions on one report are made one after the other.
func lockReport(ctx context.Context, tx *db.Tx, id string) (owner, status string, err error) {
	err = tx.QueryRowContext(ctx, `UPDATE security_reports SET status = status WHERE id = $1 RETURNING account_id, status`, id).Scan(&owner, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNoReport
	}
	return owner, status, err
}

// setStatus moves a report from one state to another, or fails when
// someone else moved it in between.
func setStatus(ctx context.Context, tx *db.Tx, id, from, to string) error {
	res, err := tx.ExecContext(ctx, `UPDATE security_reports SET status = $1 WHERE id = $2 AND status = $3`, to, id, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Someone else changed this report at the same moment: reload it.")
	}
	return nil
}

// addMessage appends to a report's thread, encrypted under the customer's
// key.
func (s *Service) addMessage(ctx context.Context, tx *db.Tx, reportID, owner, author, kind, body string) (string, error) {
	id := newID()
	enc, err := s.d.Keys.Encrypt(ctx, tx, owner, messageField(id), []byte(body))
	if err != nil {
		return "", err
	}
	// The report's row is locked (lockReport), so seq cannot be taken twice.
	_, err = tx.ExecContext(ctx, `INSERT INTO report_messages (id, report_id, author, kind, body_enc, created_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM report_messages WHERE report_id = $2))`,
		id, reportID, author, kind, enc, tx.Now())
	return id, err
}

func (s *Service) tell(ctx context.Context, tx *db.Tx, accountID, title, body string) error {
	if s.d.TellCustomer == nil {
		return nil
	}
	return s.d.TellCustomer(ctx, tx, accountID, title, body)
}

func (s *Service) reportLink(id string) string { return s.d.PublicURL + "/account/reports/" + id }

func errClosed(what string) error {
	return apperr.Errorf(apperr.Conflict, "This report is closed: it cannot be %s.", what)
}

// AssignReport gives a report that is not closed to a member of the
// security team.
//
// Enforces CP-3.2: each report has someone working it, on record.
func (s *Service) AssignReport(ctx context.Context, id, to string) error {
	to = strings.TrimSpace(to)
	if to == "" {
		return apperr.New(apperr.Invalid, "Say who the report is assigned to.")
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		_, status, err := lockReport(ctx, tx, id)
		if err != nil {
			return err
		}
		if status == ReportClosed {
			return errClosed("assigned")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE security_reports SET assigned_to = $1 WHERE id = $2`, to, id); err != nil {
			return err
		}
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "report.assign", Target: "report:" + id, Outcome: audit.Success,
			Details: map[string]any{"to": to}})
		return err
	})
}

// NoteReport adds an internal note by the security team: kept with the
// report, encrypted under the customer's key, never shown to the customer.
func (s *Service) NoteReport(ctx context.Context, id, body, by string) error {
	body, err := messageText(body, "note")
	if err != nil {
		return err
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		owner, _, err := lockReport(ctx, tx, id)
		if err != nil {
			return err
		}
		mid, err := s.addMessage(ctx, tx, id, owner, by, MessageNote, body)
		if err != nil {
			return err
		}
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "report.note", Target: "report:" + id, Outcome: audit.Success,
			Details: map[string]any{"message": mid}})
		return err
	})
}

// AskCustomer puts a question to the report's customer: they see it on
// the report's page in the portal and are told by a notice (inbox and
// email); the report waits for their answer.
//
// Enforces CP-3.1, CP-7.3: the security team reaches the customer who
// reported, through the portal's own channel.
func (s *Service) AskCustomer(ctx context.Context, id, question, by string) error {
	question, err := messageText(question, "question")
	if err != nil {
		return err
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		owner, status, err := lockReport(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != ReportOpen && status != ReportWaiting {
			return apperr.Errorf(apperr.Conflict, "This report is %s: only an open report can put a question to the customer.", status)
		}
		if err := setStatus(ctx, tx, id, status, ReportWaiting); err != nil {
			return err
		}
		mid, err := s.addMessage(ctx, tx, id, owner, by, MessageQuestion, question)
		if err != nil {
			return err
		}
		if _, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "report.ask", Target: "report:" + id, Outcome: audit.Success,
			Details: map[string]any{"message": mid, "from": status}}); err != nil {
			return err
		}
		return s.tell(ctx, tx, owner, "Our security team has a question about your report",
			"You told us about activity on your account that may not have been yours. Our security team is looking into it and has a question for you.\n\n"+
				"Read it and answer at "+s.reportLink(id)+" (sign in first). We never ask for your password or your codes.")
	})
}

// AnswerReport records the customer's answer to the security team's
// question; the report is back with the team. Only the report's owner can
// answer: another account's report is ErrNoReport.
//
// Enforces CP-3.1, CP-7.3: the customer answers in the portal.
func (s *Service) AnswerReport(ctx context.Context, accountID, id, answer string) error {
	answer, err := messageText(answer, "answer")
	if err != nil {
		return err
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		owner, status, err := lockReport(ctx, tx, id)
		if err != nil {
			return err
		}
		if owner != accountID || accountID == "" {
			return ErrNoReport
		}
		if status != ReportWaiting {
			return apperr.New(apperr.Conflict, "There is no question on this report waiting for your answer.")
		}
		if err := setStatus(ctx, tx, id, status, ReportOpen); err != nil {
			return err
		}
		mid, err := s.addMessage(ctx, tx, id, owner, accountID, MessageAnswer, answer)
		if err != nil {
			return err
		}
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "report.answer", Target: "report:" + id, Outcome: audit.Success,
			Details: map[string]any{"message": mid}})
		return err
	})
}

// ErrReportClosed is the answer for closing a report twice.
var ErrReportClosed = apperr.New(apperr.Conflict, "This report is closed already.")

// CloseReport closes a report with an outcome (one of OutcomeCodes) and
// an optional message to the customer. The customer is told the outcome in
// plain words, in the portal and by a notice. closed_at is set, from
// which the retention period for closed reports counts.
//
// Enforces CP-7.3, CP-3.1: every report ends with an outcome its customer
// is told. Enforces CP-5.2: closing is what lets the retention rule for
// closed reports ever apply.
func (s *Service) CloseReport(ctx context.Context, id, outcome, message, by string) error {
	outcome = strings.TrimSpace(outcome)
	words, ok := Outcomes[outcome]
	if !ok {
		return apperr.New(apperr.Invalid, "Choose the outcome: confirmed compromise, no evidence, the customer's own activity, or a duplicate.")
	}
	message = strings.TrimSpace(message)
	if utf8.RuneCountInString(message) > maxMessage {
		return apperr.New(apperr.Invalid, "Please keep the message under 4,000 characters.")
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		owner, status, err := lockReport(ctx, tx, id)
		if err != nil {
			return err
		}
		if status == ReportClosed {
			return ErrReportClosed
		}
		res, err := tx.ExecContext(ctx, `UPDATE security_reports SET status = 'closed', outcome = $1, closed_at = $2 WHERE id = $3 AND status = $4`,
			outcome, tx.Now(), id, status)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrReportClosed
		}
		told := words
		if message != "" {
			told += "\n\n" + message
		}
		mid, err := s.addMessage(ctx, tx, id, owner, by, MessageOutcome, told)
		if err != nil {
			return err
		}
		if _, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "report.close", Target: "report:" + id, Outcome: audit.Success,
			Details: map[string]any{"from": status, "outcome": outcome, "message": mid}}); err != nil {
			return err
		}
		return s.tell(ctx, tx, owner, "Our security team has finished looking into your report",
			told+"\n\nThe report and what we found are at "+s.reportLink(id)+" (sign in first).")
	})
}

// EscalateReport hands a report that is open or waiting to the incident
// process, with the incident's reference when there is one already. The
// report stays in the queue until it is closed with its outcome.
//
// Enforces CP-3.2, CP-7.3: a report that points to an incident becomes
// one, on record.
func (s *Service) EscalateReport(ctx context.Context, id, incidentID string) error {
	incidentID = strings.TrimSpace(incidentID)
	if len(incidentID) > 64 || strings.ContainsFunc(incidentID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return apperr.New(apperr.Invalid, "An incident reference is up to 64 letters, digits, dashes or underscores.")
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error { return s.escalateReport(ctx, tx, id, incidentID) })
}

func (s *Service) escalateReport(ctx context.Context, tx *db.Tx, id, incidentID string) error {
	_, status, err := lockReport(ctx, tx, id)
	if err != nil {
		return err
	}
	if status != ReportOpen && status != ReportWaiting {
		return apperr.Errorf(apperr.Conflict, "This report is %s: only an open report can be escalated.", status)
	}
	res, err := tx.ExecContext(ctx, `UPDATE security_reports SET status = 'escalated', incident_id = $1 WHERE id = $2 AND status = $3`,
		nullIfEmpty(incidentID), id, status)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Someone else changed this report at the same moment: reload it.")
	}
	_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "report.escalate", Target: "report:" + id, Outcome: audit.Success,
		Details: map[string]any{"from": status, "incident": incidentID}})
	return err
}

// EscalateTo marks the alert or report an incident was opened from
// ("alert:ID", "report:ID") as escalated to it, inside the caller's
// transaction, so the incident and the escalation commit together. An
// alert or report already escalated, dismissed or closed is left as it is.
//
// Enforces CP-7.3: an alert or report that becomes an incident says so.
func (s *Service) EscalateTo(ctx context.Context, tx *db.Tx, source, incidentID, by string) error {
	kind, id, _ := strings.Cut(source, ":")
	switch kind {
	case "report":
		err := s.escalateReport(ctx, tx, id, incidentID)
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil
		}
		return err
	case "alert":
		err := s.setState(ctx, tx, id, StateEscalated, "", by, map[string]any{"incident": incidentID})
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil
		}
		return err
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
