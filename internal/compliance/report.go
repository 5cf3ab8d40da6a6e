package compliance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/policy"
)

// Report is the compliance report: every clause of both policies with its
// status, controls, evidence and history. The page, the offline report
// (HTML, JSON, PDF) and the evidence bundle all render this one value.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Version     string    `json:"version"`  // Portico's version
	Database    string    `json:"database"` // sqlite or postgres
	// Profile is the policy profile's name and ProfileDigest the SHA-256
	// of its effective settings as `portico policy show` writes them.
	Profile       string `json:"profile"`
	ProfileDigest string `json:"profile_digest"`
	// Run is the evidence run the statuses come from (nil when evidence
	// was never taken: every clause with checks is then partial).
	Run *Run `json:"run,omitempty"`
	// HistorySince is the start of the period the history covers.
	HistorySince time.Time `json:"history_since"`
	// SigningKey is the fingerprint of the key that signs evidence
	// bundles, and PublicKeyURL where it is published ("" when unknown).
	SigningKey   string `json:"signing_key,omitempty"`
	PublicKeyURL string `json:"public_key_url,omitempty"`

	Counts   Counts          `json:"counts"`
	Policies []PolicySection `json:"policies"`
}

// Counts are the clauses in each state.
type Counts struct {
	Enforced int `json:"enforced"`
	Partial  int `json:"partial"`
	Failing  int `json:"failing"`
	NotYet   int `json:"not_yet"`
	All      int `json:"all"`
}

// PolicySection is one policy's clauses in document order.
type PolicySection struct {
	Name    string         `json:"name"`
	Clauses []ClauseReport `json:"clauses"`
}

// ClauseReport is one clause in the report.
type ClauseReport struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Requirement string           `json:"requirement"`
	Status      ClauseState      `json:"status"`
	Reasons     []string         `json:"reasons,omitempty"` // why it is not enforced
	Controls    []policy.Control `json:"controls"`
	Evidence    []Evidence       `json:"evidence,omitempty"`
	// NoLiveEvidence is the reviewed reason why the running system cannot
	// give evidence of this clause ("" when it has evidence checks).
	NoLiveEvidence string `json:"no_live_evidence,omitempty"`
	// History is the clause's evidence status in each run of the period,
	// oldest first: the worst of its checks' results in that run.
	History []HistoryPoint `json:"history,omitempty"`
	// Failures are the periods in which an evidence check failed.
	Failures []Period `json:"failures,omitempty"`
}

// Evidence is one check of a clause with its latest result.
type Evidence struct {
	Check       string  `json:"check"`
	Description string  `json:"description"`
	Result      *Result `json:"result,omitempty"` // nil: not taken yet
}

// HistoryPoint is a clause's evidence status in one run.
type HistoryPoint struct {
	Run    string    `json:"run"`
	At     time.Time `json:"at"`
	Status Status    `json:"status"`
}

// Period is a stretch of runs in which a clause's evidence failed: from
// the first failing run to the first run after it that did not fail
// (Ongoing when the latest run still fails).
type Period struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to,omitzero"`
	Ongoing bool      `json:"ongoing,omitempty"`
}

// DefaultHistory is how far back the report's history goes.
const DefaultHistory = 90 * 24 * time.Hour

// ProfileDigest returns the SHA-256 (hex) of the profile's effective
// settings in the TOML that `portico policy show` prints, and that TOML.
func ProfileDigest(p policy.Profile) (string, []byte, error) {
	var b bytes.Buffer
	if err := p.WriteTOML(&b); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:]), b.Bytes(), nil
}

// Report builds the report from the latest evidence run and the history of
// the period (DefaultHistory when history is 0).
func (s *Service) Report(ctx context.Context, history time.Duration) (Report, error) {
	if history <= 0 {
		history = DefaultHistory
	}
	now := s.db.Now()
	digest, _, err := ProfileDigest(s.profile)
	if err != nil {
		return Report{}, err
	}
	rep := Report{
		GeneratedAt: now, Version: buildinfo.Read().Version, Database: string(s.db.Dialect()),
		Profile: s.profile.Name, ProfileDigest: digest, HistorySince: now.Add(-history),
	}
	// The key that signs bundles, read (never created) for the header.
	if s.keys != nil {
		keys, err := s.SigningKeys(ctx)
		if err != nil {
			return Report{}, err
		}
		for _, k := range keys {
			if k.Current() {
				rep.SigningKey = k.Fingerprint
				break
			}
		}
	}
	if s.publicURL != "" {
		rep.PublicKeyURL = strings.TrimSuffix(s.publicURL, "/") + PublicKeysPath
	}
	latest := map[string]Result{}
	if run, ok, err := s.LatestRun(ctx); err != nil {
		return Report{}, err
	} else if ok {
		for _, r := range run.Results {
			latest[r.Check] = r
		}
		rep.Run = &run
	}
	hist, err := s.history(ctx, rep.HistorySince)
	if err != nil {
		return Report{}, err
	}
	cov, _ := policy.Coverage(s.controls)
	byCheck := map[string]Check{}
	for _, c := range s.checks {
		byCheck[c.Name] = c
	}
	for _, c := range cov {
		id := c.Clause.ID
		names := ChecksOf(s.checks, id)
		cr := ClauseReport{ID: id, Title: c.Clause.Title, Requirement: c.Clause.Requirement,
			Controls: c.Controls, NoLiveEvidence: noLiveEvidence[id]}
		cr.Status, cr.Reasons = ClauseStatus(id, len(c.Controls), names, latest)
		for _, n := range names {
			e := Evidence{Check: n, Description: byCheck[n].Description}
			if r, ok := latest[n]; ok {
				e.Result = &r
			}
			cr.Evidence = append(cr.Evidence, e)
		}
		cr.History, cr.Failures = clauseHistory(hist, names)
		switch cr.Status {
		case Enforced:
			rep.Counts.Enforced++
		case Partial:
			rep.Counts.Partial++
		case Failing:
			rep.Counts.Failing++
		default:
			rep.Counts.NotYet++
		}
		rep.Counts.All++
		if n := len(rep.Policies); n == 0 || rep.Policies[n-1].Name != c.Clause.Policy {
			rep.Policies = append(rep.Policies, PolicySection{Name: c.Clause.Policy})
		}
		p := &rep.Policies[len(rep.Policies)-1]
		p.Clauses = append(p.Clauses, cr)
	}
	return rep, nil
}

// clauseHistory folds the stored statuses (oldest first) into one point per
// run for the named checks (a run without any of them is left out), and
// the periods in which one of them failed.
func clauseHistory(hist []runStatuses, checks []string) ([]HistoryPoint, []Period) {
	if len(checks) == 0 {
		return nil, nil
	}
	var points []HistoryPoint
	for _, run := range hist {
		var (
			worst Status
			found bool
		)
		for _, c := range checks {
			st, ok := run.checks[c]
			if !ok {
				continue
			}
			if !found || worse(st, worst) {
				worst = st
			}
			found = true
		}
		if found {
			points = append(points, HistoryPoint{Run: run.id, At: run.at, Status: worst})
		}
	}
	var periods []Period
	for _, p := range points {
		n := len(periods)
		open := n > 0 && periods[n-1].Ongoing
		switch {
		case p.Status == Fail && !open:
			periods = append(periods, Period{From: p.At, Ongoing: true})
		case p.Status != Fail && open:
			periods[n-1].To, periods[n-1].Ongoing = p.At, false
		}
	}
	return points, periods
}

// PublicKeysPath is where a server publishes the keys that sign evidence
// bundles (internal/web/evidencekeys.go serves it).
const PublicKeysPath = "/.well-known/portico-evidence-keys.json"

// SetPublicURL tells the service the portal's public URL, for the address
// of the published keys in the report.
func (s *Service) SetPublicURL(u string) { s.publicURL = u }
