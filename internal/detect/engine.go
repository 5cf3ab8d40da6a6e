package detect

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/portico/portico/internal/policy"
)

// Severities of an alert.
const (
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// Rule names: the keys of policy.Detection.Rules.
const (
	RuleBruteForce         = "brute_force"
	RuleCredentialStuffing = "credential_stuffing"
	RulePasswordSpraying   = "password_spraying"
	RuleDistributedAttack  = "distributed_attack"
	RuleImpossibleTravel   = "impossible_travel"
	RuleSessionHijack      = "session_hijack"
	RuleMFAGuessing        = "mfa_guessing"
	RuleRecoveryNewCountry = "recovery_new_country"
	RuleMassSignup         = "mass_signup"
	RuleInsiderReveal      = "insider_reveal"
	RuleAuditExport        = "audit_export"
	RuleStaffOddHour       = "staff_odd_hour"
	RuleTokenNewNetwork    = "token_new_network"
	RuleCustomerReport     = "customer_report"
	RuleIncidentOverdue    = "incident_overdue"
	RuleGovernanceOverdue  = "governance_overdue"
	RuleVendorDegraded     = "vendor_degraded"
	RuleComplianceFailing  = "compliance_failing"
)

// severity is each rule's alert severity.
var severity = map[string]string{
	RuleBruteForce:         SeverityMedium,
	RuleCredentialStuffing: SeverityHigh,
	RulePasswordSpraying:   SeverityHigh,
	RuleDistributedAttack:  SeverityHigh,
	RuleImpossibleTravel:   SeverityMedium,
	RuleSessionHijack:      SeverityMedium,
	RuleMFAGuessing:        SeverityHigh,
	RuleRecoveryNewCountry: SeverityHigh,
	RuleMassSignup:         SeverityMedium,
	RuleInsiderReveal:      SeverityHigh,
	RuleAuditExport:        SeverityMedium,
	RuleStaffOddHour:       SeverityLow,
	RuleTokenNewNetwork:    SeverityMedium,
	RuleCustomerReport:     SeverityHigh,
	RuleIncidentOverdue:    SeverityHigh,
	RuleGovernanceOverdue:  SeverityHigh,
	RuleVendorDegraded:     SeverityMedium,
	RuleComplianceFailing:  SeverityHigh,
}

// Kinds of alert subject: what the responses act on.
const (
	SubjectAccount  = "account"
	SubjectNetwork  = "network"
	SubjectActor    = "actor"
	SubjectToken    = "token"
	SubjectIncident = "incident" // no response acts on it
	// SubjectExercises is the incident response plan's exercises
	// (MTL-5.2.2): no response acts on it.
	SubjectExercises = "exercises"
	// SubjectGovernance is a governance record (a finding, a vendor, a
	// policy document, an agreement, a training): no response acts on it.
	SubjectGovernance = "governance"
)

// Alert is what a rule raises.
type Alert struct {
	Time        time.Time
	Rule        string
	Severity    string
	Key         string // rule and subject: repeats of one alert share it
	SubjectKind string // SubjectAccount, SubjectNetwork, ...
	Subject     string // the account, network, actor or token the responses act on
	Accounts    []string
	IPs         []string
	Networks    []string
	Summary     string  // in plain words, for the security team
	Evidence    []int64 // sequence numbers of the audit events behind it
	Responses   []string
}

// Geo places addresses for the travel rule and the sign-in risk.
type Geo interface {
	// Country is the ISO 3166-1 code of the address's country, or "".
	Country(ip string) string
	// Travel is the distance in km between where two addresses are, and
	// whether covering it in dt needs more than maxKmh (allowing for
	// where in a country each one may be).
	Travel(from, to string, dt time.Duration, maxKmh float64) (km float64, impossible bool)
}

// Caps on what one alert lists and on per-subject memory.
const (
	maxListed   = 50
	maxEvidence = 100
)

// Engine runs the rules over events given in time order. It is not safe
// for concurrent use: one goroutine feeds it.
type Engine struct {
	cfg      policy.Detection
	geo      Geo
	accounts map[string]*accountState
	networks map[string]*networkState
	actors   map[string]*actorState
	quiet    map[string]time.Time // alert key -> repeats are grouped until then
	unknown  int                  // numbers unknown accounts apart
	swept    time.Time
}

// NewEngine returns an engine with the profile's rules and thresholds.
func NewEngine(cfg policy.Detection, geo Geo) *Engine {
	return &Engine{cfg: cfg, geo: geo,
		accounts: map[string]*accountState{}, networks: map[string]*networkState{},
		actors: map[string]*actorState{}, quiet: map[string]time.Time{}}
}

// stamp is one event remembered in a window.
type stamp struct {
	t       time.Time
	seq     int64
	ip      string
	account string
	failed  bool
}

// window is a time-ordered list of stamps.
type window []stamp

// since drops stamps older than from.
func (w *window) since(from time.Time) {
	i := 0
	for i < len(*w) && (*w)[i].t.Before(from) {
		i++
	}
	if i > 0 {
		*w = append((*w)[:0], (*w)[i:]...)
	}
}

type accountState struct {
	seen       time.Time
	failures   window // wrong passwords and attempts on the locked account
	codes      window // wrong second-factor codes
	lastOK     stamp  // the last completed sign-in
	countries  []string
	newCountry time.Time // the password step passed from a country new to the account
}

type networkState struct {
	seen     time.Time
	attempts window         // every attempt, for stuffing
	perAcct  map[string]int // accounts in attempts -> attempts
	failing  int            // failed attempts in attempts
	spray    map[string]*sprayed
	sprayed  int // accounts in spray tried at most SprayingMaxPerAccount times, never with success
	pruned   time.Time
	stuffed  time.Time // when stuffing last fired for this network
	signups  window
}

type sprayed struct {
	first time.Time
	fails int
	ok    bool
	ips   string
	seq   int64
}

type actorState struct {
	seen    time.Time
	reveals window
	hours   [24]int
	actions int
}

// Observe runs the rules over one event and returns the alerts it raises.
func (e *Engine) Observe(ev Event) []Alert {
	var out []Alert
	fire := func(a Alert) {
		if until, ok := e.quiet[a.Key]; ok && ev.Time.Before(until) {
			return
		}
		e.quiet[a.Key] = ev.Time.Add(e.cooldown(a.Rule))
		a.Time = ev.Time
		a.Severity = severity[a.Rule]
		a.Responses = e.cfg.Rules()[a.Rule].Responses
		out = append(out, a)
	}
	switch ev.Kind {
	case SignIn, SignInFailure, PasswordOK:
		e.signIn(ev, fire)
	case RiskSignOut:
		e.count(ev, RuleSessionHijack, fire)
	case Signup:
		e.signup(ev, fire)
	case Reveal, AuditExport, StaffAction:
		e.staff(ev, fire)
	case CustomerReport:
		if ev.Account == "" {
			break
		}
		what := "The account's owner reported activity on it as not theirs."
		if ev.Reason != "" {
			what = "The account's owner reported a sign-in as not theirs; Portico had scored that sign-in " + ev.Reason + " risk."
		}
		fire(Alert{Rule: RuleCustomerReport, Key: RuleCustomerReport + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
			Accounts: []string{ev.Account}, IPs: nonEmpty(ev.IP), Networks: nonEmpty(Network(ev.IP)), Evidence: seqs(ev.Seq), Summary: what})
	case TokenNewNetwork:
		fire(Alert{Rule: RuleTokenNewNetwork, Key: RuleTokenNewNetwork + "|" + ev.Target, SubjectKind: SubjectToken, Subject: ev.Target,
			Accounts: nonEmpty(ev.Account), IPs: nonEmpty(ev.IP), Networks: nonEmpty(Network(ev.IP)), Evidence: seqs(ev.Seq),
			Summary: "An API token was used from a network it had not been used from."})
	case IncidentOverdue:
		// One alert per incident and clock: the warning it comes from is
		// recorded once.
		if ev.Reason == "exercise" {
			fire(Alert{Rule: RuleIncidentOverdue, Key: RuleIncidentOverdue + "|exercise", SubjectKind: SubjectExercises, Subject: ev.Target,
				Evidence: seqs(ev.Seq), Summary: "The incident response plan's exercise is overdue: none was held within incident.exercise_interval."})
			break
		}
		fire(Alert{Rule: RuleIncidentOverdue, Key: RuleIncidentOverdue + "|" + ev.Target + "|" + ev.Reason, SubjectKind: SubjectIncident,
			Subject: ev.Target, Evidence: seqs(ev.Seq),
			Summary: "An incident's " + ev.Reason + " notification deadline passed with no notification recorded."})
	case GovernanceOverdue:
		// One alert per record and kind: the domain records each
		// lapse once (per due date).
		fire(Alert{Rule: RuleGovernanceOverdue, Key: RuleGovernanceOverdue + "|" + ev.Target + "|" + ev.Reason, SubjectKind: SubjectGovernance,
			Subject: ev.Target, Evidence: seqs(ev.Seq), Summary: orDefault(ev.Summary, "A governance duty ("+ev.Reason+") is overdue.")})
	case VendorDegraded:
		fire(Alert{Rule: RuleVendorDegraded, Key: RuleVendorDegraded + "|" + ev.Target + "|" + ev.Reason, SubjectKind: SubjectGovernance,
			Subject: ev.Target, Evidence: seqs(ev.Seq), Summary: orDefault(ev.Summary, "A third party's endpoint check got worse: "+ev.Reason+".")})
	case ComplianceFailing:
		// One alert per check and failing period: the compliance
		// service records the change from passing to failing once.
		fire(Alert{Rule: RuleComplianceFailing, Key: RuleComplianceFailing + "|" + ev.Target, SubjectKind: SubjectGovernance,
			Subject: ev.Target, Evidence: seqs(ev.Seq), Summary: orDefault(ev.Summary, "A compliance evidence check of "+ev.Reason+" began to fail.")})
	}
	e.sweep(ev.Time)
	return out
}

// cooldown is how long repeats of an alert are grouped into it instead of
// raising it again: the rule's window, at most a day.
func (e *Engine) cooldown(rule string) time.Duration {
	return min(e.cfg.Rules()[rule].Window.Duration, 24*time.Hour)
}

func (e *Engine) account(key string, t time.Time) *accountState {
	a := e.accounts[key]
	if a == nil {
		a = &accountState{}
		e.accounts[key] = a
	}
	a.seen = t
	return a
}

func (e *Engine) network(key string, t time.Time) *networkState {
	n := e.networks[key]
	if n == nil {
		n = &networkState{perAcct: map[string]int{}, spray: map[string]*sprayed{}}
		e.networks[key] = n
	}
	n.seen = t
	return n
}

// signIn runs the sign-in rules.
func (e *Engine) signIn(ev Event, fire func(Alert)) {
	cfg := e.cfg
	net := Network(ev.IP)
	acctKey := ev.Account
	if acctKey == "" {
		// An unknown address (the server does not know which): each
		// attempt counts as another account.
		e.unknown++
		acctKey = "?" + strconv.Itoa(e.unknown)
	}
	failed := ev.Kind == SignInFailure
	st := stamp{t: ev.Time, seq: ev.Seq, ip: ev.IP, account: acctKey, failed: failed}

	// Per network: credential stuffing and password spraying.
	if ev.IP != "" && (ev.Kind != SignInFailure || ev.Reason != ReasonBadSecondFactor) {
		n := e.network(net, ev.Time)
		e.stuffing(n, net, st, fire)
		if ev.Kind != PasswordOK {
			e.spraying(n, net, st, fire)
		}
	}
	if ev.Account == "" {
		return
	}
	a := e.account(ev.Account, ev.Time)
	switch {
	case failed && (ev.Reason == ReasonBadPassword || ev.Reason == ReasonLocked):
		// Brute force (from few networks) and a distributed attack (from
		// many) on one account.
		bf, da := cfg.BruteForce, cfg.DistributedAttack
		a.failures = append(a.failures, st)
		a.failures.since(ev.Time.Add(-max(bf.Window.Duration, da.Window.Duration)))
		nets := map[string]int{}
		var inBF window
		for _, s := range a.failures {
			if !s.t.Before(ev.Time.Add(-bf.Window.Duration)) {
				inBF = append(inBF, s)
			}
		}
		top := 0
		for _, s := range inBF {
			nets[Network(s.ip)]++
			top = max(top, nets[Network(s.ip)])
		}
		if len(inBF) >= bf.Threshold && 2*top >= len(inBF) {
			fire(Alert{Rule: RuleBruteForce, Key: RuleBruteForce + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
				Accounts: []string{ev.Account}, IPs: ipsOf(inBF), Networks: netsOf(inBF), Evidence: seqsOf(inBF),
				Summary: fmt.Sprintf("%d wrong passwords for one account within %s, mostly from one network.", len(inBF), bf.Window)})
		}
		clear(nets)
		var inDA window
		for _, s := range a.failures {
			if !s.t.Before(ev.Time.Add(-da.Window.Duration)) {
				inDA = append(inDA, s)
				nets[Network(s.ip)]++
			}
		}
		if len(nets) >= da.Threshold {
			fire(Alert{Rule: RuleDistributedAttack, Key: RuleDistributedAttack + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
				Accounts: []string{ev.Account}, IPs: ipsOf(inDA), Networks: netsOf(inDA), Evidence: seqsOf(inDA),
				Summary: fmt.Sprintf("Wrong passwords for one account from %d different networks within %s.", len(nets), da.Window)})
		}
	case failed && ev.Reason == ReasonBadSecondFactor:
		r := cfg.MFAGuessing
		a.codes = append(a.codes, st)
		a.codes.since(ev.Time.Add(-r.Window.Duration))
		if len(a.codes) >= r.Threshold {
			fire(Alert{Rule: RuleMFAGuessing, Key: RuleMFAGuessing + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
				Accounts: []string{ev.Account}, IPs: ipsOf(a.codes), Networks: netsOf(a.codes), Evidence: seqsOf(a.codes),
				Summary: fmt.Sprintf("%d wrong second-factor codes within %s after the right password: the password is known to whoever tries.", len(a.codes), r.Window)})
		}
	case ev.Kind == PasswordOK:
		if c := e.country(ev.IP); c != "" && len(a.countries) > 0 && !slices.Contains(a.countries, c) {
			a.newCountry = ev.Time
		}
	case ev.Kind == SignIn:
		r := cfg.ImpossibleTravel
		if prev := a.lastOK; !prev.t.IsZero() && e.geo != nil && ev.Time.Sub(prev.t) <= r.Window.Duration {
			if km, bad := e.geo.Travel(prev.ip, ev.IP, ev.Time.Sub(prev.t), float64(r.Threshold)); bad {
				both := window{prev, st}
				fire(Alert{Rule: RuleImpossibleTravel, Key: RuleImpossibleTravel + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
					Accounts: []string{ev.Account}, IPs: ipsOf(both), Networks: netsOf(both), Evidence: seqsOf(both),
					Summary: fmt.Sprintf("Two sign-ins %.0f km apart within %s (%s to %s): faster than %d km/h.",
						km, ev.Time.Sub(prev.t).Round(time.Minute), orUnknown(e.country(prev.ip)), orUnknown(e.country(ev.IP)), r.Threshold)})
			}
		}
		rc := cfg.RecoveryNewCountry
		if ev.Method == MethodRecovery && !a.newCountry.IsZero() && ev.Time.Sub(a.newCountry) <= rc.Window.Duration {
			fire(Alert{Rule: RuleRecoveryNewCountry, Key: RuleRecoveryNewCountry + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
				Accounts: []string{ev.Account}, IPs: nonEmpty(ev.IP), Networks: nonEmpty(net), Evidence: seqs(ev.Seq),
				Summary: "A recovery code completed a sign-in whose password came from a country new to the account."})
		}
		a.newCountry = time.Time{}
		if c := e.country(ev.IP); c != "" && !slices.Contains(a.countries, c) && len(a.countries) < 16 {
			a.countries = append(a.countries, c)
		}
		a.lastOK = st
	}
}

// stuffing: one network, many accounts, mostly failing, quickly.
func (e *Engine) stuffing(n *networkState, net string, st stamp, fire func(Alert)) {
	r := e.cfg.CredentialStuffing
	n.attempts = append(n.attempts, st)
	n.perAcct[st.account]++
	if st.failed {
		n.failing++
	}
	from := st.t.Add(-r.Window.Duration)
	i := 0
	for i < len(n.attempts) && n.attempts[i].t.Before(from) {
		old := n.attempts[i]
		if n.perAcct[old.account]--; n.perAcct[old.account] <= 0 {
			delete(n.perAcct, old.account)
		}
		if old.failed {
			n.failing--
		}
		i++
	}
	if i > 0 {
		n.attempts = append(n.attempts[:0], n.attempts[i:]...)
	}
	if len(n.perAcct) >= r.Threshold && n.failing*100 >= e.cfg.StuffingFailurePercent*len(n.attempts) {
		n.stuffed = st.t
		fire(Alert{Rule: RuleCredentialStuffing, Key: RuleCredentialStuffing + "|" + net, SubjectKind: SubjectNetwork, Subject: net,
			Accounts: accountsOf(n.attempts), IPs: ipsOf(n.attempts), Networks: []string{net}, Evidence: seqsOf(n.attempts),
			Summary: fmt.Sprintf("%d accounts tried from one network within %s, %d%% of %d attempts failing.",
				len(n.perAcct), r.Window, n.failing*100/len(n.attempts), len(n.attempts))})
	}
}

// spraying: one network, many accounts each tried once or twice without
// success, slowly.
func (e *Engine) spraying(n *networkState, net string, st stamp, fire func(Alert)) {
	r, most := e.cfg.PasswordSpraying, e.cfg.SprayingMaxPerAccount
	counts := func(s *sprayed) bool { return !s.ok && s.fails > 0 && s.fails <= most }
	from := st.t.Add(-r.Window.Duration)
	// Pruned once every 24th of the window: an account may count up to
	// that much longer than the window, and a busy network is not walked
	// on every attempt.
	if st.t.Sub(n.pruned) > r.Window.Duration/24 {
		n.pruned = st.t
		for k, s := range n.spray {
			if s.first.Before(from) {
				if counts(s) {
					n.sprayed--
				}
				delete(n.spray, k)
			}
		}
	}
	s := n.spray[st.account]
	if s == nil && !st.failed {
		return // a success with no failure before it: nothing to spray
	}
	if s == nil {
		s = &sprayed{first: st.t, ips: st.ip, seq: st.seq}
		n.spray[st.account] = s
	}
	before := counts(s)
	if st.failed {
		s.fails++
	} else {
		s.ok = true
	}
	if after := counts(s); after != before {
		if after {
			n.sprayed++
		} else {
			n.sprayed--
		}
	}
	// A fast burst is stuffing, already raised: spraying is what stays
	// under the stuffing rule's rate.
	if n.sprayed >= r.Threshold && (n.stuffed.IsZero() || st.t.Sub(n.stuffed) > r.Window.Duration) {
		var ws window
		for k, s := range n.spray {
			if counts(s) {
				ws = append(ws, stamp{t: s.first, seq: s.seq, ip: s.ips, account: k, failed: true})
			}
		}
		slices.SortFunc(ws, func(a, b stamp) int { return a.t.Compare(b.t) })
		fire(Alert{Rule: RulePasswordSpraying, Key: RulePasswordSpraying + "|" + net, SubjectKind: SubjectNetwork, Subject: net,
			Accounts: accountsOf(ws), IPs: ipsOf(ws), Networks: []string{net}, Evidence: seqsOf(ws),
			Summary: fmt.Sprintf("%d accounts each tried at most %d times from one network within %s, none successfully.", n.sprayed, most, r.Window)})
	}
}

// count fires a rule whose threshold counts the account's events of one
// kind in its window (session hijack).
func (e *Engine) count(ev Event, rule string, fire func(Alert)) {
	if ev.Account == "" {
		return
	}
	fire(Alert{Rule: rule, Key: rule + "|" + ev.Account, SubjectKind: SubjectAccount, Subject: ev.Account,
		Accounts: []string{ev.Account}, IPs: nonEmpty(ev.IP), Networks: nonEmpty(Network(ev.IP)), Evidence: seqs(ev.Seq),
		Summary: "A session was ended because its " + hijackWhat(ev.Reason) + " changed while it was in use: it may have been stolen."})
}

func hijackWhat(reason string) string {
	switch reason {
	case "country_change":
		return "country"
	case "user_agent_change":
		return "browser"
	}
	return "context"
}

// signup: many new accounts from one network.
func (e *Engine) signup(ev Event, fire func(Alert)) {
	if ev.IP == "" {
		return
	}
	r := e.cfg.MassSignup
	net := Network(ev.IP)
	n := e.network(net, ev.Time)
	n.signups = append(n.signups, stamp{t: ev.Time, seq: ev.Seq, ip: ev.IP, account: ev.Account})
	n.signups.since(ev.Time.Add(-r.Window.Duration))
	if len(n.signups) >= r.Threshold {
		fire(Alert{Rule: RuleMassSignup, Key: RuleMassSignup + "|" + net, SubjectKind: SubjectNetwork, Subject: net,
			Accounts: accountsOf(n.signups), IPs: ipsOf(n.signups), Networks: []string{net}, Evidence: seqsOf(n.signups),
			Summary: fmt.Sprintf("%d sign-ups from one network within %s.", len(n.signups), r.Window)})
	}
}

// staff runs the insider rules over a staff member's actions.
func (e *Engine) staff(ev Event, fire func(Alert)) {
	if ev.Actor == "" {
		return
	}
	a := e.actors[ev.Actor]
	if a == nil {
		a = &actorState{}
		e.actors[ev.Actor] = a
	}
	a.seen = ev.Time
	st := stamp{t: ev.Time, seq: ev.Seq, ip: ev.IP, account: ev.Target}
	switch ev.Kind {
	case Reveal:
		r := e.cfg.InsiderReveal
		a.reveals = append(a.reveals, st)
		a.reveals.since(ev.Time.Add(-r.Window.Duration))
		customers := accountsOf(a.reveals)
		if len(customers) >= r.Threshold {
			fire(Alert{Rule: RuleInsiderReveal, Key: RuleInsiderReveal + "|" + ev.Actor, SubjectKind: SubjectActor, Subject: ev.Actor,
				Accounts: append([]string{ev.Actor}, customers...), IPs: ipsOf(a.reveals), Networks: netsOf(a.reveals), Evidence: seqsOf(a.reveals),
				Summary: fmt.Sprintf("One staff member revealed the personal data of %d customers within %s.", len(customers), r.Window)})
		}
	case AuditExport:
		if r := e.cfg.AuditExport; ev.Count >= r.Threshold {
			fire(Alert{Rule: RuleAuditExport, Key: RuleAuditExport + "|" + ev.Actor, SubjectKind: SubjectActor, Subject: ev.Actor,
				Accounts: []string{ev.Actor}, IPs: nonEmpty(ev.IP), Networks: nonEmpty(Network(ev.IP)), Evidence: seqs(ev.Seq),
				Summary: fmt.Sprintf("An audit export of %d events.", ev.Count)})
		}
	}
	// An hour of the day (UTC) at which this person has not acted in
	// their history, once there is enough of it.
	h := ev.Time.UTC().Hour()
	r := e.cfg.StaffOddHour
	if a.actions >= r.Threshold && a.hours[(h+23)%24]+a.hours[h]+a.hours[(h+1)%24] == 0 {
		fire(Alert{Rule: RuleStaffOddHour, Key: RuleStaffOddHour + "|" + ev.Actor, SubjectKind: SubjectActor, Subject: ev.Actor,
			Accounts: []string{ev.Actor}, IPs: nonEmpty(ev.IP), Networks: nonEmpty(Network(ev.IP)), Evidence: seqs(ev.Seq),
			Summary: fmt.Sprintf("A staff member acted at %02d:00 UTC, an hour they have not worked at in their last %d actions.", h, a.actions)})
	}
	a.hours[h]++
	a.actions++
}

// sweep forgets accounts and networks idle for longer than any window,
// once an hour of event time.
func (e *Engine) sweep(now time.Time) {
	if now.Sub(e.swept) < time.Hour {
		return
	}
	e.swept = now
	keep := 24 * time.Hour
	for _, r := range []policy.Rule{e.cfg.BruteForce, e.cfg.CredentialStuffing, e.cfg.PasswordSpraying, e.cfg.DistributedAttack,
		e.cfg.ImpossibleTravel, e.cfg.MFAGuessing, e.cfg.RecoveryNewCountry, e.cfg.MassSignup} {
		keep = max(keep, r.Window.Duration)
	}
	for k, a := range e.accounts {
		if now.Sub(a.seen) > keep {
			delete(e.accounts, k)
		}
	}
	for k, n := range e.networks {
		if now.Sub(n.seen) > keep {
			delete(e.networks, k)
		}
	}
	for k, until := range e.quiet {
		if now.After(until) {
			delete(e.quiet, k)
		}
	}
	staffKeep := max(e.cfg.StaffOddHour.Window.Duration, e.cfg.InsiderReveal.Window.Duration)
	for k, a := range e.actors {
		if now.Sub(a.seen) > staffKeep {
			delete(e.actors, k)
		}
	}
}

func (e *Engine) country(ip string) string {
	if e.geo == nil || ip == "" {
		return ""
	}
	return e.geo.Country(ip)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func seqs(seq int64) []int64 {
	if seq == 0 {
		return nil
	}
	return []int64{seq}
}

// distinct lists the distinct non-empty values of f over w, in order of
// first appearance, at most maxListed.
func distinct(w window, f func(stamp) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range w {
		v := f(s)
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		if out = append(out, v); len(out) == maxListed {
			break
		}
	}
	return out
}

func ipsOf(w window) []string { return distinct(w, func(s stamp) string { return s.ip }) }

func netsOf(w window) []string {
	return distinct(w, func(s stamp) string {
		if s.ip == "" {
			return ""
		}
		return Network(s.ip)
	})
}

// accountsOf lists the known accounts of w (unknown ones are "?n").
func accountsOf(w window) []string {
	return distinct(w, func(s stamp) string {
		if len(s.account) > 0 && s.account[0] == '?' {
			return ""
		}
		return s.account
	})
}

func seqsOf(w window) []int64 {
	var out []int64
	for _, s := range w {
		if s.seq != 0 {
			if out = append(out, s.seq); len(out) == maxEvidence {
				break
			}
		}
	}
	return out
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
