package thirdparty

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Kinds of question.
const (
	KindYesNo = "yesno"
	KindText  = "text"
)

// Outcomes of a scored assessment.
const (
	OutcomeSatisfactory   = "satisfactory"   // every scored answer is good
	OutcomeConcerns       = "concerns"       // three quarters or more are
	OutcomeUnsatisfactory = "unsatisfactory" // fewer
)

// States of an assessment.
const (
	AssessOpen      = "open"
	AssessSubmitted = "submitted"
	AssessApproved  = "approved"
)

// LinkTTL is how long a vendor's assessment link lasts.
const LinkTTL = 14 * 24 * time.Hour

// ByVendorLink is who submitted an assessment answered through its link.
const ByVendorLink = "vendor-link"

const maxAnswer = 2000

// Question is one question of the assessment.
type Question struct {
	ID, Section, Text string
	// Kind is KindYesNo or KindText.
	Kind string
	// Good is the good answer: "yes" or "no" for a yes/no question; for a
	// text question "max:N" (a number no greater than N), "any" (an
	// answer) or "" (not scored).
	Good string
}

// Scored reports whether the question counts towards the score.
func (q Question) Scored() bool { return q.Good != "" }

// GoodAnswer reports whether a is the good answer to q.
func (q Question) GoodAnswer(a string) bool {
	a = strings.TrimSpace(a)
	switch {
	case q.Kind == KindYesNo:
		return a == q.Good
	case q.Good == "any":
		return a != ""
	case strings.HasPrefix(q.Good, "max:"):
		limit, err1 := strconv.ParseFloat(strings.TrimPrefix(q.Good, "max:"), 64)
		n, err2 := strconv.ParseFloat(a, 64)
		return err1 == nil && err2 == nil && n >= 0 && n <= limit
	}
	return true
}

// QuestionSet is a version of the questions.
type QuestionSet struct {
	Version   string
	Questions []Question
}

//go:embed questions.json
var questionsJSON []byte

// Questions is the question set in use, parsed on first use.
var Questions = sync.OnceValue(func() QuestionSet {
	var qs QuestionSet
	if err := json.Unmarshal(questionsJSON, &qs); err != nil {
		panic("vendor: questions.json: " + err.Error())
	}
	return qs
})

// Score scores answers against qs: how many scored questions were
// answered well, out of how many, and the outcome.
//
// Enforces MTL-6.1: each answer is judged against the question's good
// answer, and the outcome follows.
func Score(qs QuestionSet, answers map[string]string) (good, of int, outcome string) {
	for _, q := range qs.Questions {
		if !q.Scored() {
			continue
		}
		of++
		if q.GoodAnswer(answers[q.ID]) {
			good++
		}
	}
	switch {
	case good == of:
		outcome = OutcomeSatisfactory
	case 4*good >= 3*of:
		outcome = OutcomeConcerns
	default:
		outcome = OutcomeUnsatisfactory
	}
	return good, of, outcome
}

// Assessment is one assessment of a vendor.
type Assessment struct {
	ID, VendorID, QuestionsVersion, State string
	Answers                               map[string]string
	Score                                 int
	Outcome                               string
	LinkExpiresAt, LinkUsedAt             time.Time
	CreatedAt                             time.Time
	CreatedBy                             string
	SubmittedAt                           time.Time
	SubmittedBy                           string
	ApprovedAt                            time.Time
	ApprovedBy                            string
	ReviewDue                             time.Time
}

// HasLink reports whether a vendor link was issued.
func (a Assessment) HasLink() bool { return !a.LinkExpiresAt.IsZero() }

// cleanAnswers keeps the answers to the set's questions, and refuses a
// yes/no answered otherwise, a missing answer to a scored question or
// one too long.
func cleanAnswers(qs QuestionSet, in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, q := range qs.Questions {
		a := strings.TrimSpace(in[q.ID])
		switch {
		case q.Kind == KindYesNo && a != "yes" && a != "no":
			return nil, fieldErr(q.ID, "Answer yes or no: "+q.Text)
		case q.Scored() && a == "":
			return nil, fieldErr(q.ID, "Answer the question: "+q.Text)
		case utf8.RuneCountInString(a) > maxAnswer:
			return nil, fieldErr(q.ID, "Answer in up to 2000 characters: "+q.Text)
		}
		if a != "" {
			out[q.ID] = a
		}
	}
	return out, nil
}

// StartAssessment opens an assessment of a vendor against the question
// set in use, for staff to answer or to send to the vendor (IssueLink).
//
// Enforces CP-10.1, MTL-6.1: every vendor is assessed against the
// versioned question set.
func (s *Service) StartAssessment(ctx context.Context, vendorID, by string) (Assessment, error) {
	var a Assessment
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		v, err := s.get(ctx, tx, vendorID)
		if err != nil {
			return err
		}
		if v.Status == StatusRetired {
			return apperr.New(apperr.Conflict, "The vendor is retired: it is no longer assessed.")
		}
		a = Assessment{ID: strings.ToLower(rand.Text()), VendorID: vendorID, QuestionsVersion: Questions().Version, State: AssessOpen,
			Answers: map[string]string{}, CreatedAt: tx.Now(), CreatedBy: by}
		if _, err := tx.ExecContext(ctx, `INSERT INTO vendor_assessments (id, vendor_id, questions_version, state, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6)`, a.ID, vendorID, a.QuestionsVersion, a.State, a.CreatedAt, by); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.assessment_start", Target: "vendor:" + vendorID, Outcome: audit.Success,
			Details: map[string]any{"assessment": a.ID, "questions": a.QuestionsVersion}})
		return err
	})
	return a, err
}

// AnswerAssessment records staff's answers to an open assessment and
// scores it.
func (s *Service) AnswerAssessment(ctx context.Context, id string, answers map[string]string, by string) error {
	qs := Questions()
	clean, err := cleanAnswers(qs, answers)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		a, err := s.assessment(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.State != AssessOpen {
			return apperr.New(apperr.Conflict, "The assessment was already answered.")
		}
		return s.submit(ctx, tx, a, qs, clean, by)
	})
}

// submit stores the answers and the score, and audits it.
func (s *Service) submit(ctx context.Context, tx *db.Tx, a Assessment, qs QuestionSet, answers map[string]string, by string) error {
	if a.QuestionsVersion != qs.Version {
		return apperr.New(apperr.Conflict, "The questions changed since the assessment started: start a new one.")
	}
	good, of, outcome := Score(qs, answers)
	b, _ := json.Marshal(answers)
	res, err := tx.ExecContext(ctx, `UPDATE vendor_assessments SET state = $1, answers = $2, score = $3, outcome = $4, submitted_at = $5, submitted_by = $6
		WHERE id = $7 AND state = $8`, AssessSubmitted, string(b), good, outcome, tx.Now(), by, a.ID, AssessOpen)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "The assessment was already answered.")
	}
	actor := by
	if by == ByVendorLink {
		actor = audit.ActorAnonymous
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Actor: actor, Action: "vendor.assessment_submit", Target: "vendor:" + a.VendorID, Outcome: audit.Success,
		Details: map[string]any{"assessment": a.ID, "score": good, "of": of, "outcome": outcome, "via": map[bool]string{true: "link", false: "staff"}[by == ByVendorLink]}})
	return err
}

// IssueLink issues the vendor a link to answer an open assessment
// themselves, without an account, and returns its token (only its SHA-256
// is kept) and when it expires. A new link replaces the previous one.
//
// Enforces MTL-6.1: the vendor answers through a single-use link that
// expires after LinkTTL, its token random and stored only as a hash.
func (s *Service) IssueLink(ctx context.Context, id, by string) (token string, expires time.Time, err error) {
	token = rand.Text()
	sum := sha256.Sum256([]byte(token))
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		a, err := s.assessment(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.State != AssessOpen {
			return apperr.New(apperr.Conflict, "The assessment was already answered: start a new one to send a link.")
		}
		expires = tx.Now().Add(LinkTTL)
		if _, err := tx.ExecContext(ctx, `UPDATE vendor_assessments SET link_hash = $1, link_expires_at = $2, link_used_at = NULL WHERE id = $3`,
			sum[:], expires, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.assessment_link", Target: "vendor:" + a.VendorID, Outcome: audit.Success,
			Details: map[string]any{"assessment": id, "expires": expires.UTC().Format(time.RFC3339)}})
		return err
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// Errors of a vendor's link.
var (
	ErrLinkInvalid = apperr.New(apperr.NotFound, "This assessment link is not valid. Ask your contact for a new one.")
	ErrLinkExpired = apperr.New(apperr.Forbidden, "This assessment link has expired. Ask your contact for a new one.")
	ErrLinkUsed    = apperr.New(apperr.Conflict, "This assessment has already been answered through this link; it cannot be answered twice.")
)

// LinkedAssessment is what a vendor's link shows: the vendor's name and
// the questions.
type LinkedAssessment struct {
	VendorName string
	Questions  QuestionSet
	Expires    time.Time
}

// ByLink returns the assessment a vendor's link opens, or why it cannot
// be used.
func (s *Service) ByLink(ctx context.Context, token string) (LinkedAssessment, error) {
	a, name, err := s.byLink(ctx, s.db, token)
	if err != nil {
		return LinkedAssessment{}, err
	}
	if err := s.linkUsable(a, s.db.Now()); err != nil {
		return LinkedAssessment{}, err
	}
	return LinkedAssessment{VendorName: name, Questions: Questions(), Expires: a.LinkExpiresAt}, nil
}

func (s *Service) linkUsable(a Assessment, now time.Time) error {
	switch {
	case !a.LinkUsedAt.IsZero() || a.State != AssessOpen:
		return ErrLinkUsed
	case !now.Before(a.LinkExpiresAt):
		return ErrLinkExpired
	}
	return nil
}

func (s *Service) byLink(ctx context.Context, q querier, token string) (Assessment, string, error) {
	if token == "" || len(token) > 64 {
		return Assessment{}, "", ErrLinkInvalid
	}
	sum := sha256.Sum256([]byte(token))
	var id, name string
	var stored []byte
	err := q.QueryRowContext(ctx, `SELECT a.id, v.name, a.link_hash FROM vendor_assessments a JOIN vendors v ON v.id = a.vendor_id
		WHERE a.link_hash = $1`, sum[:]).Scan(&id, &name, &stored)
	if errors.Is(err, sql.ErrNoRows) || err == nil && subtle.ConstantTimeCompare(stored, sum[:]) != 1 {
		return Assessment{}, "", ErrLinkInvalid
	}
	if err != nil {
		return Assessment{}, "", err
	}
	a, err := s.assessment(ctx, q, id)
	return a, name, err
}

// AnswerByLink records the vendor's answers through their link, once: a
// used or expired link is refused, and the refusal audited.
func (s *Service) AnswerByLink(ctx context.Context, token string, answers map[string]string) error {
	qs := Questions()
	var refused error
	var target string
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		refused = nil
		a, _, err := s.byLink(ctx, tx, token)
		if err != nil {
			return err
		}
		target = "vendor:" + a.VendorID
		if err := s.linkUsable(a, tx.Now()); err != nil {
			refused = err
			return nil
		}
		clean, err := cleanAnswers(qs, answers)
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(token))
		res, err := tx.ExecContext(ctx, `UPDATE vendor_assessments SET link_used_at = $1 WHERE id = $2 AND link_hash = $3 AND link_used_at IS NULL`,
			tx.Now(), a.ID, sum[:])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			refused = ErrLinkUsed
			return nil
		}
		return s.submit(ctx, tx, a, qs, clean, ByVendorLink)
	})
	if err != nil {
		return err
	}
	if refused != nil {
		reason := "used"
		if errors.Is(refused, ErrLinkExpired) {
			reason = "expired"
		}
		if _, err := s.audit.Record(ctx, audit.Event{Actor: audit.ActorAnonymous, Action: "vendor.assessment_link_refused", Target: target,
			Outcome: audit.Denied, Details: map[string]any{"reason": reason}}); err != nil {
			return err
		}
		return refused
	}
	return nil
}

// ApproveAssessment approves a submitted assessment: only a member of the
// security team may, and not the one who answered it. The vendor's next
// review is then due governance.vendor_review_interval later, and its
// tier follows the outcome.
//
// Enforces CP-10.1, MTL-6.1: an assessment counts once a second person
// of the security team approved it; reassessment falls due after
// governance.vendor_review_interval.
func (s *Service) ApproveAssessment(ctx context.Context, id, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if ok, err := securityMember(ctx, tx, by); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Forbidden, "Only a member of the security team approves an assessment.")
		}
		a, err := s.assessment(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case a.State == AssessOpen:
			return apperr.New(apperr.Invalid, "The assessment has not been answered yet.")
		case a.State == AssessApproved:
			return apperr.New(apperr.Conflict, "The assessment is already approved.")
		case a.SubmittedBy == by:
			return apperr.New(apperr.Forbidden, "You answered this assessment: another member of the security team approves it.")
		}
		now := tx.Now()
		due := now.Add(s.profile.Governance.VendorReviewInterval.Duration)
		if _, err := tx.ExecContext(ctx, `UPDATE vendor_assessments SET state = $1, approved_at = $2, approved_by = $3, review_due = $4 WHERE id = $5`,
			AssessApproved, now, by, due, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vendors SET review_due = $1 WHERE id = $2`, due, a.VendorID); err != nil {
			return err
		}
		v, err := s.get(ctx, tx, a.VendorID)
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Actor: by, Action: "vendor.assessment_approve", Target: "vendor:" + a.VendorID, Outcome: audit.Success,
			Details: map[string]any{"assessment": id, "outcome": a.Outcome, "tier": v.Tier, "review_due": due.UTC().Format(time.RFC3339)}})
		return err
	})
}

// Assessments lists a vendor's assessments, the newest first.
func (s *Service) Assessments(ctx context.Context, vendorID string) ([]Assessment, error) {
	ids, err := db.Strings(ctx, s.db, `SELECT id FROM vendor_assessments WHERE vendor_id = $1 ORDER BY created_at DESC, id`, vendorID)
	if err != nil {
		return nil, err
	}
	var out []Assessment
	for _, id := range ids {
		a, err := s.assessment(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Assessment returns one assessment.
func (s *Service) Assessment(ctx context.Context, id string) (Assessment, error) {
	return s.assessment(ctx, s.db, id)
}

func (s *Service) assessment(ctx context.Context, q querier, id string) (Assessment, error) {
	var a Assessment
	var answers string
	var linkExp, linkUsed, sub, appr, due sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT id, vendor_id, questions_version, state, answers, score, outcome, link_expires_at, link_used_at,
		created_at, created_by, submitted_at, COALESCE(submitted_by, ''), approved_at, COALESCE(approved_by, ''), review_due
		FROM vendor_assessments WHERE id = $1`, id).Scan(&a.ID, &a.VendorID, &a.QuestionsVersion, &a.State, &answers, &a.Score, &a.Outcome,
		&linkExp, &linkUsed, &a.CreatedAt, &a.CreatedBy, &sub, &a.SubmittedBy, &appr, &a.ApprovedBy, &due)
	if errors.Is(err, sql.ErrNoRows) {
		return Assessment{}, ErrNotFound
	}
	if err != nil {
		return Assessment{}, err
	}
	if err := json.Unmarshal([]byte(answers), &a.Answers); err != nil {
		return Assessment{}, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	a.LinkExpiresAt, a.LinkUsedAt, a.SubmittedAt, a.ApprovedAt, a.ReviewDue = nullTime(linkExp), nullTime(linkUsed), nullTime(sub), nullTime(appr), nullTime(due)
	return a, nil
}
