package detect

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/portico/portico/internal/policy"
)

// Reasons a sign-in's risk rises, with their weights. A level is reached
// when the weights of its reasons add up to the profile's score for it
// (medium 30, high 60 by default): a new country alone asks for the
// second factor; impossible travel alone does too (a VPN does that), and
// blocks with anything else.
const (
	ReasonNewDevice        = "new_device"
	ReasonNewCountry       = "new_country"
	ReasonImpossibleTravel = "impossible_travel"
	ReasonSuspectNetwork   = "suspicious_network"
	ReasonUnderAttack      = "account_under_attack"
	ReasonBreachedPassword = "breached_password"
	ReasonAfterReset       = "reset_then_new_country"
	ReasonUnusualHour      = "unusual_hour"
)

var weights = map[string]int{
	ReasonNewDevice:        10,
	ReasonUnusualHour:      10,
	ReasonAfterReset:       20,
	ReasonNewCountry:       30,
	ReasonBreachedPassword: 40,
	ReasonSuspectNetwork:   40,
	ReasonUnderAttack:      40,
	ReasonImpossibleTravel: 50,
}

// Explain is each reason in plain words, for the owner and the security
// team.
var Explain = map[string]string{
	ReasonNewDevice:        "a device this account has not signed in from before",
	ReasonNewCountry:       "a country this account has not signed in from before",
	ReasonImpossibleTravel: "too far from the last sign-in for the time between them",
	ReasonSuspectNetwork:   "a network that was just trying many accounts",
	ReasonUnderAttack:      "the account was under attack from many networks",
	ReasonBreachedPassword: "a password that appears in a known data breach",
	ReasonAfterReset:       "soon after a password reset, from a new country",
	ReasonUnusualHour:      "an hour of the day this account never signs in at",
}

// Levels of risk.
const (
	LevelLow    = "low"
	LevelMedium = "medium"
	LevelHigh   = "high"
)

// SignInContext is what the risk of a sign-in is assessed from.
type SignInContext struct {
	AccountID         string
	IP, Device        string // Device: session.Device of the user agent
	Country           string
	Breached          bool
	PasswordChangedAt time.Time
	Now               time.Time
	// Review marks a sign-in scored again when it completes (it was
	// scored at its password step): not counted in the metrics.
	Review bool
}

// Assessment is a sign-in's risk: its level, why, and what the profile
// says to do.
type Assessment struct {
	Level   string
	Score   int
	Reasons []string
	Action  string // policy.RiskAllow, RiskChallenge or RiskBlock
}

// Querier reads rows: *db.DB and *db.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// history is how many past sign-ins an assessment reads: enough for the
// hours of a month of daily use, and a bounded cost per sign-in however
// old the account.
const history = 60

// Assess scores a sign-in attempt whose password (or passkey) was right,
// from the account's recent sign-ins and what the rules know of its
// network, and maps the level to the profile's action.
//
// Enforces CP-8.2: every sign-in is scored low, medium or high with its
// reasons, and the profile's action for the level is taken.
func (s *Service) Assess(ctx context.Context, q Querier, c SignInContext) (Assessment, error) {
	cfg := s.d.Profile.Detection
	var reasons []string
	add := func(r string) {
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	rows, err := q.QueryContext(ctx,
		`SELECT at, device, country FROM sign_in_events WHERE account_id = $1 AND outcome = 'success' ORDER BY at DESC LIMIT $2`,
		c.AccountID, history)
	if err != nil {
		return Assessment{}, err
	}
	var hours [24]int
	var devices, countries []string
	var last struct {
		at      time.Time
		country string
	}
	n := 0
	for rows.Next() {
		var at time.Time
		var device, country string
		if err := rows.Scan(&at, &device, &country); err != nil {
			rows.Close()
			return Assessment{}, err
		}
		if n == 0 {
			last.at, last.country = at, country
		}
		n++
		hours[at.UTC().Hour()]++
		devices, countries = appendNew(devices, device), appendNew(countries, country)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Assessment{}, err
	}
	if n > 0 {
		if !slices.Contains(devices, c.Device) {
			add(ReasonNewDevice)
		}
		if c.Country != "" && !slices.Contains(countries, c.Country) {
			add(ReasonNewCountry)
			if !c.PasswordChangedAt.IsZero() && c.Now.Sub(c.PasswordChangedAt) <= cfg.Risk.AfterReset.Duration {
				add(ReasonAfterReset)
			}
		}
		if p, ok := s.d.Geo.(interface {
			TravelFromCountry(country, to string, dt time.Duration, maxKmh float64) (float64, bool)
		}); ok && last.country != "" && c.Country != "" && last.country != c.Country {
			if _, bad := p.TravelFromCountry(last.country, c.IP, c.Now.Sub(last.at), float64(cfg.ImpossibleTravel.Threshold)); bad {
				add(ReasonImpossibleTravel)
			}
		}
		if h := c.Now.UTC().Hour(); n >= cfg.Risk.UnusualHourHistory && hours[(h+23)%24]+hours[h]+hours[(h+1)%24] == 0 {
			add(ReasonUnusualHour)
		}
	}
	if c.Breached {
		add(ReasonBreachedPassword)
	}
	// An open alert on the network for stuffing or spraying, or a
	// "challenge" response on the account: one round trip for both.
	net := Network(c.IP)
	var suspect, attacked bool
	if err := q.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM alerts WHERE group_key IN ($1, $2) AND state IN ('new', 'acknowledged')),
		        EXISTS (SELECT 1 FROM detect_responses WHERE subject = $3 AND action = $4 AND undone_at IS NULL AND until > $5)`,
		RuleCredentialStuffing+"|"+net, RulePasswordSpraying+"|"+net, c.AccountID, policy.RespondChallenge, c.Now).Scan(&suspect, &attacked); err != nil {
		return Assessment{}, err
	}
	if suspect {
		add(ReasonSuspectNetwork)
	}
	if attacked {
		add(ReasonUnderAttack)
	}
	a := s.level(reasons)
	if !c.Review && s.d.Metrics != nil {
		s.d.Metrics.Risk.WithLabelValues(a.Level).Inc()
	}
	return a, nil
}

// level maps reasons to a level and the profile's action for it.
func (s *Service) level(reasons []string) Assessment {
	r := s.d.Profile.Detection.Risk
	a := Assessment{Reasons: reasons, Level: LevelLow, Action: r.LowAction}
	if a.Reasons == nil {
		a.Reasons = []string{}
	}
	for _, x := range reasons {
		a.Score += weights[x]
	}
	switch {
	case a.Score >= r.High:
		a.Level, a.Action = LevelHigh, r.HighAction
	case a.Score >= r.Medium:
		a.Level, a.Action = LevelMedium, r.MediumAction
	}
	return a
}

func appendNew(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
