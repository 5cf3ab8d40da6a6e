// Package training is Portico's security-awareness training (MTL-8.1,
// CP-12): modules with a lesson and a quiz, assigned to staff by role;
// passing every module assigned records the training that the sign-in
// gate checks (identity.TrainingOverdue), which lifts the restricted mode
// of overdue training at once. A leased pass reminds staff before their
// training falls due and raises an alert once it is overdue.
package training

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// Service is the training modules, the staff's attempts and the reminders.
type Service struct {
	db       *db.DB
	audit    *audit.Log
	profile  policy.Profile
	identity *identity.Service
}

// New returns the training service. Identity records a completed training
// (identity.CompleteTraining), says when each member of staff's next one
// is due and carries the reminders.
func New(d *db.DB, a *audit.Log, p policy.Profile, id *identity.Service) *Service {
	return &Service{db: d, audit: a, profile: p, identity: id}
}

// Module is one version of a training module.
type Module struct {
	Slug    string
	Version int
	Title   string
	// Lesson is Markdown (markdown.Render shows it).
	Lesson string
	// QuizText is the quiz in the text format (format.go), right answers
	// included: for the server and the administrators' edit form only.
	QuizText  string
	Questions []Question
	// PassMark is the score (percent) that passes.
	PassMark int
	// Audience are the staff roles the module is assigned to;
	// contractors are staff accounts and take their role's modules.
	Audience  []access.Role
	Active    bool
	Builtin   bool
	CreatedAt time.Time
	CreatedBy string
}

// For reports whether the module is assigned to role.
func (m Module) For(role access.Role) bool { return slices.Contains(m.Audience, role) }

// AudienceText is the audience for people: "support, security".
func (m Module) AudienceText() string {
	s := make([]string, len(m.Audience))
	for i, r := range m.Audience {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Bounds on a module.
const (
	maxTitle  = 200
	maxLesson = 64 << 10
)

// validSlug reports whether s is lower-case ASCII letters and digits in
// words joined by single hyphens (no regexp: nothing is compiled at start).
func validSlug(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// check refuses a module that is not whole, saying which field to fix.
func (m Module) check() error {
	switch {
	case !validSlug(m.Slug) || len(m.Slug) > 64 || m.Slug == "new":
		return apperr.InField("slug", apperr.New(apperr.Invalid, "Give the module a short name for its address: lower-case letters, digits and hyphens, such as \"phishing\"."))
	case strings.TrimSpace(m.Title) == "" || utf8.RuneCountInString(m.Title) > maxTitle:
		return apperr.InField("title", apperr.Errorf(apperr.Invalid, "Give the module a title of at most %d characters.", maxTitle))
	case strings.TrimSpace(m.Lesson) == "":
		return apperr.InField("lesson", apperr.New(apperr.Invalid, "Write the lesson, in Markdown."))
	case len(m.Lesson) > maxLesson:
		return apperr.InField("lesson", apperr.Errorf(apperr.Invalid, "The lesson is longer than %d KiB.", maxLesson>>10))
	case m.PassMark < 1 || m.PassMark > 100:
		return apperr.InField("pass_mark", apperr.New(apperr.Invalid, "The pass mark is a percentage from 1 to 100."))
	case len(m.Audience) == 0:
		return apperr.InField("audience", apperr.New(apperr.Invalid, "Choose at least one role the module is for."))
	}
	return nil
}

// ParseAudience reads role names (staff roles only), in the order of
// access.Roles, without repeats.
func ParseAudience(names []string) ([]access.Role, error) {
	var out []access.Role
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		r, err := access.ParseRole(n)
		if err != nil || !r.IsStaff() {
			return nil, apperr.InField("audience", apperr.Errorf(apperr.Invalid, "%q is not a staff role: choose among support, security, admin and auditor.", n))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b access.Role) int { return slices.Index(access.Roles(), a) - slices.Index(access.Roles(), b) })
	return out, nil
}

//go:embed defaults/*.md
var defaultFiles embed.FS

// Defaults are the built-in modules, written for Portico's staff, read
// from the embedded files on first use (no work at start-up).
var Defaults = sync.OnceValues(func() ([]Module, error) {
	names, err := defaultFiles.ReadDir("defaults")
	if err != nil {
		return nil, err
	}
	var out []Module
	for _, n := range names {
		b, err := defaultFiles.ReadFile(path.Join("defaults", n.Name()))
		if err != nil {
			return nil, err
		}
		m, err := parseModuleFile(strings.TrimSuffix(n.Name(), ".md"), string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
})

// InstallDefaults installs the built-in modules that are not installed
// yet, as version 1 of their slug, and reports how many it installed.
// Safe to run on every start and on several nodes at once: the primary
// key (slug, version) keeps one copy, and only the node that wrote it
// audits it (training.module_install, as the system).
//
// Enforces MTL-8.1: every installation has the training modules.
func (s *Service) InstallDefaults(ctx context.Context) (int, error) {
	mods, err := Defaults()
	if err != nil {
		return 0, err
	}
	ctx = audit.WithActor(ctx, audit.ActorSystem)
	n := 0
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		n = 0
		for _, m := range mods {
			res, err := tx.ExecContext(ctx, `INSERT INTO training_modules (slug, version, title, lesson, quiz, pass_mark, audience, active, builtin, created_at, created_by)
				VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, 'system') ON CONFLICT (slug, version) DO NOTHING`,
				m.Slug, m.Title, m.Lesson, m.QuizText, m.PassMark, m.AudienceText(), true, true, tx.Now())
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				continue
			}
			n++
			if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "training.module_install", Target: "training_module:" + m.Slug, Outcome: audit.Success,
				Details: map[string]any{"version": 1, "pass_mark": m.PassMark, "audience": m.AudienceText()}}); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// ErrNoModule answers for a module that does not exist (or, to a member
// of staff, is not assigned to them).
var ErrNoModule = apperr.New(apperr.NotFound, "There is no such training module.")

const moduleCols = `slug, version, title, lesson, quiz, pass_mark, audience, active, builtin, created_at, created_by`

// latest is the condition that picks each slug's version in use.
const latest = `version = (SELECT MAX(version) FROM training_modules l WHERE l.slug = training_modules.slug)`

func scanModule(row interface{ Scan(...any) error }) (Module, error) {
	var m Module
	var audience string
	if err := row.Scan(&m.Slug, &m.Version, &m.Title, &m.Lesson, &m.QuizText, &m.PassMark, &audience, &m.Active, &m.Builtin, &m.CreatedAt, &m.CreatedBy); err != nil {
		return m, err
	}
	var err error
	if m.Audience, err = ParseAudience(strings.Split(audience, ",")); err != nil {
		return m, fmt.Errorf("training: module %s version %d: %w", m.Slug, m.Version, err)
	}
	if m.Questions, err = ParseQuiz(m.QuizText); err != nil {
		return m, fmt.Errorf("training: module %s version %d: %w", m.Slug, m.Version, err)
	}
	return m, nil
}

type reader interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Modules lists every module's version in use, active or not, by title.
func (s *Service) Modules(ctx context.Context) ([]Module, error) {
	return s.modules(ctx, s.db)
}

func (s *Service) modules(ctx context.Context, q reader) ([]Module, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+moduleCols+` FROM training_modules WHERE `+latest+` ORDER BY title, slug`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Module
	for rows.Next() {
		m, err := scanModule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Module returns a module's version in use.
func (s *Service) Module(ctx context.Context, slug string) (Module, error) {
	return s.module(ctx, s.db, slug)
}

func (s *Service) module(ctx context.Context, q reader, slug string) (Module, error) {
	m, err := scanModule(q.QueryRowContext(ctx, `SELECT `+moduleCols+` FROM training_modules WHERE slug = $1 AND `+latest, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrNoModule
	}
	return m, err
}

// assigned are the active modules assigned to role.
func (s *Service) assigned(ctx context.Context, q reader, role access.Role) ([]Module, error) {
	all, err := s.modules(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []Module
	for _, m := range all {
		if m.Active && m.For(role) {
			out = append(out, m)
		}
	}
	return out, nil
}

func newID() string { return strings.ToLower(rand.Text()) }
