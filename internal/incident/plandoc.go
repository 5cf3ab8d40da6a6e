package incident

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"golang.org/x/text/unicode/norm"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/markdown"
	"github.com/portico/portico/internal/policy"
)

// The response plan as versioned documents (MTL-5.2.1).
//
// A version is Markdown. Its phases' checklists are read from it: a
// level-two heading naming a phase (## Detected, ## Triaged,
// ## Contained, ## Eradicated, ## Recovered; the case does not matter)
// starts that phase's section, which runs to the next level-one or
// level-two heading. Every task-list item ("- [ ] text") of the lists at
// the top level of the section is an item of the phase's checklist, in
// order; other list items, nested lists, paragraphs, tables and code are
// prose and ignored. Whether the box is ticked in the document does not
// matter.
//
// An item's code (what incident_checks and the audit trail record) is
// the text's slug: lower case ASCII letters and digits, the rest turned
// into single hyphens, accents dropped ("Name the owner" is
// "name-the-owner"). An explicit code at the end of the item,
// "- [ ] Name the owner {#owner}", takes precedence: it keeps the code
// stable when the words are reworded, and is needed when the words have
// no ASCII letter or digit. Codes are [a-z0-9-], at most 64 characters,
// unique within a phase.
//
// A version that lacks a phase, has a phase with an empty checklist, a
// phase twice, or a "## Closed" section with items (closing ends the
// incident: there is nothing left to do) is refused, saying which.

// maxPlanBytes bounds a plan document.
const maxPlanBytes = 256 << 10

// maxCode bounds an item's code.
const maxCode = 64

// PlanDoc is one version of the plan document.
type PlanDoc struct {
	Version   int
	Body      string // Markdown
	Owner     string // account ID of the plan's owner in the security team
	CreatedAt time.Time
	CreatedBy string
	// ApprovedAt is zero for a draft. An approved version never changes.
	ApprovedAt time.Time
	ApprovedBy string
	// ReviewDue is when the approved version must be reviewed: its
	// approval plus governance.policy_review_interval (the profile's
	// field for CP-11.2 and MTL-5.2.1, a year by default). A review is
	// the approval of a new version, unchanged or not.
	ReviewDue time.Time
	// InForce is set on the version in force by PlanVersions.
	InForce bool
}

// Approved reports whether the version was approved.
func (d PlanDoc) Approved() bool { return !d.ApprovedAt.IsZero() }

// planVersion is the name an incident records for a plan version
// (incidents.plan_version): the number in decimal. The built-in plan is
// BuiltinPlan.Version.
func planVersion(n int) string { return strconv.Itoa(n) }

// BuiltinPlanMarkdown is BuiltinPlan as a plan document: the text the
// first version starts from. ParsePlan gives BuiltinPlan's checklists
// back.
func BuiltinPlanMarkdown() string {
	var b strings.Builder
	b.WriteString(`# Incident response plan

This plan says what the security team does when an incident is detected, phase by phase, after NIST SP 800-61.
Portico moves an incident to its next phase only when every item of the phase's checklist below is ticked.
Replace this text with your own: who is on call and how to reach them, which authority you report to,
where the evidence is kept. The checklists are the task lists under the phases' headings; the code in
braces at the end of an item keeps it the same item when you reword it.

`)
	titles := map[string]string{
		PhaseDetected:   "Detected",
		PhaseTriaged:    "Triaged",
		PhaseContained:  "Contained",
		PhaseEradicated: "Eradicated",
		PhaseRecovered:  "Recovered",
	}
	for _, phase := range Phases[:len(Phases)-1] {
		fmt.Fprintf(&b, "## %s\n\n", titles[phase])
		for _, it := range BuiltinPlan.Checklists[phase] {
			fmt.Fprintf(&b, "- [ ] %s {#%s}\n", it.Text, it.Code)
		}
		b.WriteString("\n")
	}
	b.WriteString(`## Closed

The incident is closed once it has recovered. Write the post-incident review: what happened, what worked,
what did not, and the actions with their owners and dates.
`)
	return b.String()
}

var (
	// taskPrefix is a task-list item's box at the start of its text.
	taskPrefix = regexp.MustCompile(`^\[[ xX]\][ \t]+`)
	// codeSuffix is an explicit code at the end of an item.
	codeSuffix = regexp.MustCompile(`[ \t]*\{#([^}]*)\}[ \t]*$`)
	validCode  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// planParser reads plan documents; it has no extension, so a task box is
// plain text at the start of the item.
// planParser is built on first use, like markdown and sanitizer below: a
// server that never opens the plan pays nothing for them (idle memory).
var planParser = sync.OnceValue(func() parser.Parser { return goldmark.New().Parser() })

// ParsePlan reads the phases' checklists from a plan document (the
// format is described at the top of this file). The Plan's Version is
// left empty.
func ParsePlan(body string) (Plan, error) {
	if len(body) > maxPlanBytes {
		return Plan{}, apperr.Errorf(apperr.Invalid, "The plan is longer than %d KiB.", maxPlanBytes>>10)
	}
	src := []byte(body)
	doc := planParser().Parse(text.NewReader(src))
	plan := Plan{Checklists: map[string][]Item{}}
	seen := map[string]bool{}
	section := "" // the phase whose section we are in, "" outside any
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Heading:
			if n.Level > 2 {
				continue
			}
			section = ""
			name := strings.ToLower(strings.TrimSpace(lines(n, src)))
			if !isPhase(name) || n.Level != 2 {
				continue
			}
			if seen[name] {
				return Plan{}, apperr.Errorf(apperr.Invalid, "The plan has the %s phase twice: give each phase one \"## %s\" section.", name, title(name))
			}
			seen[name] = true
			section = name
		case *ast.List:
			if section == "" {
				continue
			}
			for li := n.FirstChild(); li != nil; li = li.NextSibling() {
				first := li.FirstChild()
				if first == nil {
					continue
				}
				raw := strings.Join(strings.Fields(lines(first, src)), " ")
				box := taskPrefix.FindString(raw)
				if box == "" {
					continue // a list item without a box is prose
				}
				if section == PhaseClosed {
					return Plan{}, apperr.New(apperr.Invalid, "The Closed section has a checklist: closing ends the incident, so put those items in the Recovered phase.")
				}
				it, err := parseItem(strings.TrimPrefix(raw, box))
				if err != nil {
					return Plan{}, apperr.Errorf(apperr.Invalid, "In the %s phase: %s", title(section), apperr.MessageOf(err))
				}
				for _, other := range plan.Checklists[section] {
					if other.Code == it.Code {
						return Plan{}, apperr.Errorf(apperr.Invalid, "In the %s phase, two items have the code %q: give one of them its own code with {#code} at the end.", title(section), it.Code)
					}
				}
				plan.Checklists[section] = append(plan.Checklists[section], it)
			}
		}
	}
	var missing, empty []string
	for _, phase := range Phases[:len(Phases)-1] {
		switch {
		case !seen[phase]:
			missing = append(missing, "## "+title(phase))
		case len(plan.Checklists[phase]) == 0:
			empty = append(empty, title(phase))
		}
	}
	if len(missing) > 0 {
		return Plan{}, apperr.Errorf(apperr.Invalid, "The plan lacks a section for each phase: add %s, each with a task list (\"- [ ] what to do\").", strings.Join(missing, ", "))
	}
	if len(empty) > 0 {
		return Plan{}, apperr.Errorf(apperr.Invalid, "The checklist of %s is empty: list what must be done as a task list (\"- [ ] what to do\") under the heading.", strings.Join(empty, ", "))
	}
	delete(plan.Checklists, PhaseClosed)
	return plan, nil
}

// parseItem reads one item's words and code.
func parseItem(raw string) (Item, error) {
	code := ""
	if m := codeSuffix.FindStringSubmatchIndex(raw); m != nil {
		code = raw[m[2]:m[3]]
		raw = raw[:m[0]]
		if !validCode.MatchString(code) || len(code) > maxCode {
			return Item{}, apperr.Errorf(apperr.Invalid, "the code {#%s} is not lower-case letters, digits and single hyphens of at most %d characters.", code, maxCode)
		}
	}
	words := strings.TrimSpace(raw)
	if words == "" {
		return Item{}, apperr.New(apperr.Invalid, "an item has no words: say what must be done.")
	}
	if code == "" {
		code = slug(words)
		if code == "" {
			return Item{}, apperr.Errorf(apperr.Invalid, "the item %q has no letter or digit to make its code from: end it with {#a-code}.", words)
		}
	}
	return Item{Code: code, Text: words}, nil
}

// slug makes an item's code from its words: accents dropped, lower-case
// ASCII letters and digits kept, every other run of characters one
// hyphen, at most maxCode characters cut at a hyphen.
func slug(s string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		default:
			hyphen = b.Len() > 0
			continue
		}
		if hyphen {
			b.WriteByte('-')
			hyphen = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > maxCode {
		out = out[:maxCode]
		if i := strings.LastIndexByte(out, '-'); i > 0 {
			out = out[:i]
		}
		out = strings.TrimSuffix(out, "-")
	}
	return out
}

// lines is a block's source text, its lines joined by newlines.
func lines(n ast.Node, src []byte) string {
	var b strings.Builder
	ls := n.Lines()
	for i := 0; i < ls.Len(); i++ {
		seg := ls.At(i)
		if i > 0 {
			b.WriteByte('\n')
		}
		b.Write(bytes.TrimRight(seg.Value(src), "\n"))
	}
	return b.String()
}

func isPhase(name string) bool {
	for _, p := range Phases {
		if p == name {
			return true
		}
	}
	return false
}

// title is a phase's name as a heading has it.
func title(phase string) string {
	if phase == "" {
		return ""
	}
	return strings.ToUpper(phase[:1]) + phase[1:]
}

// taskCode is an explicit code at the end of a task-list line, left out
// of the rendering (it is for Portico, not for the reader).
var taskCode = regexp.MustCompile(`(?m)^([ \t]*(?:[-*+]|\d+[.)])[ \t]+\[[ xX]\][ \t].*?)[ \t]*\{#[a-z0-9-]*\}[ \t]*$`)

// RenderMarkdown renders a plan or a review for a page (markdown.Render),
// leaving the checklist items' explicit codes out.
func RenderMarkdown(md string) template.HTML {
	return markdown.Render(taskCode.ReplaceAllString(md, "$1"))
}

// DraftPlan stores a new version of the plan, not yet in force: it must
// parse (every phase with its checklist), and owner must be an active
// member of the security team. The version is the next number.
//
// Enforces MTL-5.2.1: the plan is a versioned document, and a version
// without a checklist for every phase is refused.
func (s *Service) DraftPlan(ctx context.Context, body, owner, by string) (PlanDoc, error) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if strings.TrimSpace(body) == "" {
		return PlanDoc{}, apperr.InField("body", apperr.New(apperr.Invalid, "Paste the plan's Markdown."))
	}
	if _, err := ParsePlan(body); err != nil {
		return PlanDoc{}, apperr.InField("body", err)
	}
	var doc PlanDoc
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if ok, err := s.securityMember(ctx, tx, owner); err != nil {
			return err
		} else if !ok {
			return apperr.InField("owner", apperr.New(apperr.Invalid, "The plan's owner must be an active member of the security team."))
		}
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM incident_plans`).Scan(&last); err != nil {
			return err
		}
		doc = PlanDoc{Version: int(last.Int64) + 1, Body: body, Owner: owner, CreatedAt: tx.Now(), CreatedBy: by}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_plans (version, body, owner, created_at, created_by) VALUES ($1, $2, $3, $4, $5)`,
			doc.Version, body, owner, doc.CreatedAt, by); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "Someone saved a version at the same moment: send yours again.")
			}
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.plan_draft", Target: "incident_plan:" + planVersion(doc.Version), Outcome: audit.Success,
			Details: map[string]any{"version": doc.Version, "owner": owner, "sha256": bodyHash(body)}})
		return err
	})
	return doc, err
}

// ApprovePlan puts a draft in force. The approver must be an active
// member of the security team other than the draft's author (four eyes),
// and the draft must be newer than the version in force. The review is
// due governance.policy_review_interval after the approval.
//
// Enforces MTL-5.2.1: the plan in force is approved by a second member of
// the security team, and its review falls due.
func (s *Service) ApprovePlan(ctx context.Context, version int, by string) (PlanDoc, error) {
	var doc PlanDoc
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		doc, err = s.planDoc(ctx, tx, version)
		if err != nil {
			return err
		}
		switch {
		case doc.Approved():
			return apperr.Errorf(apperr.Conflict, "Version %d is already approved.", version)
		case doc.CreatedBy == by:
			return apperr.New(apperr.Forbidden, "You wrote this version: another member of the security team must approve it (four eyes).")
		}
		if ok, err := s.securityMember(ctx, tx, by); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Forbidden, "Only an active member of the security team approves the plan.")
		}
		var inForce sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM incident_plans WHERE approved_at IS NOT NULL`).Scan(&inForce); err != nil {
			return err
		}
		if inForce.Valid && int(inForce.Int64) > version {
			return apperr.Errorf(apperr.Conflict, "Version %d is already in force, and it is newer: draft a new version from it instead.", inForce.Int64)
		}
		if _, err := ParsePlan(doc.Body); err != nil {
			return err
		}
		now := tx.Now()
		doc.ApprovedAt, doc.ApprovedBy = now, by
		doc.ReviewDue = db.Time(now.Add(s.profile.Governance.PolicyReviewInterval.Duration))
		res, err := tx.ExecContext(ctx, `UPDATE incident_plans SET approved_at = $1, approved_by = $2, review_due = $3 WHERE version = $4 AND approved_at IS NULL`,
			now, by, doc.ReviewDue, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return apperr.Errorf(apperr.Conflict, "Version %d was approved at the same moment by someone else.", version)
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.plan_approve", Target: "incident_plan:" + planVersion(version), Outcome: audit.Success,
			Details: map[string]any{"version": version, "author": doc.CreatedBy, "review_due": doc.ReviewDue.Format(time.RFC3339), "sha256": bodyHash(doc.Body)}})
		return err
	})
	return doc, err
}

// PlanVersions lists every version, newest first, with the one in force
// marked.
func (s *Service) PlanVersions(ctx context.Context) ([]PlanDoc, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+planCols+` FROM incident_plans ORDER BY version DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PlanDoc
	inForce := false
	for rows.Next() {
		d, err := scanPlan(rows)
		if err != nil {
			return nil, err
		}
		if d.Approved() && !inForce {
			d.InForce, inForce = true, true
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ErrNoPlanVersion answers for a version that does not exist.
var ErrNoPlanVersion = apperr.New(apperr.NotFound, "There is no such version of the plan.")

// PlanDoc returns one version of the plan document.
func (s *Service) PlanDoc(ctx context.Context, version int) (PlanDoc, error) {
	return s.planDoc(ctx, s.db, version)
}

// PlanInForce is the plan new incidents follow: the latest approved
// version, or BuiltinPlan while none is.
func (s *Service) PlanInForce(ctx context.Context) (Plan, error) {
	return s.planInForce(ctx, s.db)
}

func (s *Service) planInForce(ctx context.Context, q querier) (Plan, error) {
	var version int
	var body string
	err := q.QueryRowContext(ctx, `SELECT version, body FROM incident_plans WHERE approved_at IS NOT NULL ORDER BY version DESC LIMIT 1`).Scan(&version, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return s.plan, nil
	}
	if err != nil {
		return Plan{}, err
	}
	p, err := ParsePlan(body)
	if err != nil {
		return Plan{}, fmt.Errorf("incident: plan version %d in force does not parse: %w", version, err)
	}
	p.Version = planVersion(version)
	return p, nil
}

// planFor is the plan an incident recorded when it was opened: the
// built-in plan or an approved version. An incident keeps its version
// to the end, whatever is approved meanwhile.
func (s *Service) planFor(ctx context.Context, q querier, version string) (Plan, error) {
	if version == s.plan.Version {
		return s.plan, nil
	}
	n, err := strconv.Atoi(version)
	if err != nil {
		return Plan{}, fmt.Errorf("incident: unknown plan version %q", version)
	}
	var body string
	if err := q.QueryRowContext(ctx, `SELECT body FROM incident_plans WHERE version = $1 AND approved_at IS NOT NULL`, n).Scan(&body); err != nil {
		return Plan{}, fmt.Errorf("incident: plan version %d: %w", n, err)
	}
	p, err := ParsePlan(body)
	if err != nil {
		return Plan{}, fmt.Errorf("incident: plan version %d does not parse: %w", n, err)
	}
	p.Version = version
	return p, nil
}

// incidentPlan returns the incident's phase and the plan it follows.
func (s *Service) incidentPlan(ctx context.Context, q querier, id string, lock bool) (string, Plan, error) {
	query := `SELECT phase, plan_version FROM incidents WHERE id = $1`
	if tx, ok := q.(*db.Tx); ok && lock && tx.Dialect() == db.Postgres {
		query += ` FOR UPDATE`
	}
	var phase, version string
	if err := q.QueryRowContext(ctx, query, id).Scan(&phase, &version); err != nil {
		return "", Plan{}, notFound(err)
	}
	plan, err := s.planFor(ctx, q, version)
	return phase, plan, err
}

const planCols = `version, body, owner, created_at, created_by, approved_at, approved_by, review_due`

func scanPlan(row interface{ Scan(...any) error }) (PlanDoc, error) {
	var d PlanDoc
	var approvedAt, reviewDue sql.NullTime
	var approvedBy sql.NullString
	err := row.Scan(&d.Version, &d.Body, &d.Owner, &d.CreatedAt, &d.CreatedBy, &approvedAt, &approvedBy, &reviewDue)
	d.ApprovedAt, d.ApprovedBy, d.ReviewDue = approvedAt.Time, approvedBy.String, reviewDue.Time
	return d, err
}

func (s *Service) planDoc(ctx context.Context, q querier, version int) (PlanDoc, error) {
	d, err := scanPlan(q.QueryRowContext(ctx, `SELECT `+planCols+` FROM incident_plans WHERE version = $1`, version))
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNoPlanVersion
	}
	return d, err
}

// securityMember reports whether id is an active account of the
// security team.
func (s *Service) securityMember(ctx context.Context, q db.Reader, id string) (bool, error) {
	return identity.ActiveStaffMember(ctx, q, id, access.RoleSecurity)
}

// querier and reader are what reads run on: the database, or a
// transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type reader interface {
	querier
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// bodyHash pins a version's text in the audit trail.
func bodyHash(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

// planControls are the controls of the plan documents, their exercises
// and the post-incident review, for the compliance map.
func planControls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-5.2.1", Name: "incident.plan-versions",
			Description: "The response plan is a versioned Markdown document; a version is in force only once approved by a member of the security team other than its author (four eyes), and its review falls due governance.policy_review_interval after; drafts and approvals are audited with the text's SHA-256.",
			Test:        "internal/incident: TestPlanVersionsDriveThePhases"},
		{Clause: "MTL-5.2.1", Name: "incident.plan-checklists",
			Description: "The phases' checklists are read from the approved plan's task lists; a version lacking a phase or with an empty checklist is refused; each incident keeps the version in force when it was opened to its end, and cannot move on without that version's items.",
			Test:        "internal/incident: TestPlanVersionsDriveThePhases"},
		{Clause: "MTL-5.2.1", Name: "incident.plan-approval-four-eyes",
			Description: "On the plan page, the author of a version cannot approve it; auditors read the plan, exercises and reviews but change nothing.",
			Test:        "internal/web: TestPlanApprovalFourEyes"},
		{Clause: "MTL-5.2.2", Name: "incident.exercises",
			Description: "Tabletop exercises and drills are recorded with their scenario, date, participants and findings; each finding is filed in the shared findings register (source exercise, the exercise's ID) in the exercise's transaction, with a staff owner, a severity and a due date (the severity's governance.remediation deadline or an agreed earlier one, never later nor in the past), tracked to closure there (resolved with evidence) and raised by the register's overdue pass; the next exercise is due incident.exercise_interval after the last, and overdue after.",
			Test:        "internal/incident: TestExercisesAndFindings"},
		{Clause: "MTL-5.2.2", Name: "incident.drills",
			Description: "A drill opens a real incident marked as an exercise from the transaction that opens it (so its notices go only to staff test accounts) and is timed phase by phase from the audit trail.",
			Test:        "internal/incident: TestDrill"},
		{Clause: "CP-7.2", Name: "incident.post-incident-review",
			Description: "Once an incident has recovered, the review records what happened, what worked, what did not and the actions with owners and due dates, audited; the incident's facts, timeline from the audit trail, checklist ticks and review export as one Markdown document.",
			Test:        "internal/incident: TestReviewAndExport"},
	}
}
