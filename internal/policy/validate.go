package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"
)

// SettingError is one invalid setting of a profile, named by its TOML key
// path so that the operator can find it in the policy file.
type SettingError struct {
	File   string // the override file, or "" for a profile built in code
	Key    string // TOML key path, e.g. "password.min_length"
	Reason string // what is wrong and, where it comes from one, the source of the bound
}

// Error reads "policy file F: key: reason", or "key: reason" without a file.
func (e *SettingError) Error() string {
	if e.File == "" {
		return e.Key + ": " + e.Reason
	}
	return "policy file " + e.File + ": " + e.Key + ": " + e.Reason
}

// Validate checks every bound that Portico holds a profile to, whatever
// the operator's override file says, and reports every problem at once
// (errors.Join of *SettingError). The bounds come from the clauses and
// from the guidance the clauses are read by (NIST SP 800-63B, GDPR); where a
// clause says "regular", Portico reads it as at least once a year.
//
// The argon2 cost is deliberately bounded only from below by argon2's own
// minimum, so that tests can make hashing cheap through the same override
// file; Advisories reports values too cheap for production.
func (p Profile) Validate() error {
	return join(p.check(), "")
}

// join records file in each problem and joins them; nil when there are none.
func join(errs []*SettingError, file string) error {
	all := make([]error, len(errs))
	for i, e := range errs {
		e.File = file
		all[i] = e
	}
	return errors.Join(all...)
}

// check returns the problems that Validate reports.
func (p Profile) check() []*SettingError {
	var c checker
	if p.Name == "" {
		c.fail("name", "must name the built-in profile this one starts from")
	}

	// MFA.
	if p.MFA.Mode != MFARequired && p.MFA.Mode != MFAEncouraged {
		c.fail("mfa.mode", "must be %q (CP-4.1) or %q (MTL-3.1.2), not %q", MFARequired, MFAEncouraged, p.MFA.Mode)
	}
	c.intRange("mfa.recovery_codes", p.MFA.RecoveryCodes, 1, 20,
		"with none a lost device locks the user out; each code is a standing credential")

	// Password.
	pw := p.Password
	switch {
	case pw.MinLength < 8:
		c.fail("password.min_length", "must be at least 8 (NIST SP 800-63B)")
	case p.MFA.Mode == MFAEncouraged && pw.MinLength < 15:
		// No opt-out: an operator who wants shorter passwords can require MFA.
		c.fail("password.min_length", "must be at least 15 while mfa.mode is %q, since the password may be the only factor (NIST SP 800-63B-4)", MFAEncouraged)
	}
	switch {
	case pw.MaxLength < 64:
		c.fail("password.max_length", "must be at least 64 (NIST SP 800-63B)")
	case pw.MaxLength < pw.MinLength:
		c.fail("password.max_length", "must not be less than password.min_length (%d)", pw.MinLength)
	case pw.MaxLength > 1024:
		c.fail("password.max_length", "must be at most 1024: the strength estimate's cost grows faster than the length")
	}
	c.intRange("password.min_strength", pw.MinStrength, 0, 4, "the zxcvbn score scale")
	c.intRange("password.history", pw.History, 1, 24, "MTL-3.1.1 asks for unique passwords; each entry costs a hash comparison at every change")
	if pw.ExpiryDays < 0 {
		c.fail("password.expiry_days", "must not be negative; 0 turns expiry off")
	}
	switch {
	case pw.ExpiryWarningDays < 0:
		c.fail("password.expiry_warning_days", "must not be negative")
	case pw.ExpiryDays > 0 && pw.ExpiryWarningDays >= pw.ExpiryDays:
		c.fail("password.expiry_warning_days", "must be less than password.expiry_days (%d)", pw.ExpiryDays)
	}
	c.intRange("password.required_classes", pw.RequiredClasses, 0, 4, "lower case, upper case, digits and symbols")
	a := pw.Argon2
	if a.Parallelism < 1 {
		c.fail("password.argon2.parallelism", "must be at least 1")
	}
	switch {
	case a.MemoryKiB < 8*uint32(max(a.Parallelism, 1)):
		c.fail("password.argon2.memory_kib", "must be at least 8 per lane of password.argon2.parallelism (the argon2 minimum)")
	case a.MemoryKiB > 1<<20:
		c.fail("password.argon2.memory_kib", "must be at most 1048576 (1 GiB): every sign-in allocates it")
	}
	if a.Iterations < 1 {
		c.fail("password.argon2.iterations", "must be at least 1")
	}

	// Session.
	s := p.Session
	if c.positive("session.idle_timeout", s.IdleTimeout) {
		c.atMost("session.idle_timeout", s.IdleTimeout, time.Hour, "NIST SP 800-63B-4 AAL2")
		c.notAfter("session.idle_timeout", s.IdleTimeout, "session.absolute_timeout", s.AbsoluteTimeout, "")
	}
	if c.positive("session.absolute_timeout", s.AbsoluteTimeout) {
		c.atMost("session.absolute_timeout", s.AbsoluteTimeout, 24*time.Hour, "NIST SP 800-63B-4 AAL2")
	}
	if c.positive("session.step_up_window", s.StepUpWindow) {
		c.notAfter("session.step_up_window", s.StepUpWindow, "session.idle_timeout", s.IdleTimeout,
			"a re-authentication older than that proves no more than the session does")
	}

	// Lockout.
	l := p.Lockout
	c.intRange("lockout.threshold", l.Threshold, 1, 100, "NIST SP 800-63B allows at most 100 failed attempts")
	c.positive("lockout.window", l.Window)
	c.positive("lockout.lock_duration", l.LockDuration)
	if l.BackoffBase < 1 {
		c.fail("lockout.backoff_base", "must be at least 1 (1 keeps every lock at lockout.lock_duration)")
	}
	if l.MaxLockDuration.Duration < l.LockDuration.Duration {
		c.fail("lockout.max_lock_duration", "must not be shorter than lockout.lock_duration (%s)", l.LockDuration)
	}

	// Rate limits.
	rl := p.RateLimit
	c.positive("rate_limit.window", rl.Window)
	c.intRange("rate_limit.login_per_ip", rl.LoginPerIP, 1, 1_000_000, "a limit of 0 would refuse every sign-in")
	c.intRange("rate_limit.login_per_network", rl.LoginPerNetwork, 1, 1_000_000, "a limit of 0 would refuse every sign-in")
	if rl.LoginPerNetwork < rl.LoginPerIP {
		c.fail("rate_limit.login_per_network", "must not be less than rate_limit.login_per_ip (%d): a network holds the address", rl.LoginPerIP)
	}
	c.intRange("rate_limit.signup_per_ip", rl.SignupPerIP, 1, 1_000_000, "a limit of 0 would refuse every sign-up")
	c.intRange("rate_limit.reset_per_ip", rl.ResetPerIP, 1, 1_000_000, "a limit of 0 would refuse every reset")
	c.intRange("rate_limit.mfa_per_ip", rl.MFAPerIP, 1, 1_000_000, "a limit of 0 would refuse every second factor")

	// Access.
	if c.positive("access.reveal_grant", p.Access.RevealGrant) {
		c.notAfter("access.reveal_grant", p.Access.RevealGrant, "session.absolute_timeout", s.AbsoluteTimeout,
			"a grant does not outlive the session that asked for it (MTL-3.2.2)")
	}
	if c.positive("access.api_token_max_lifetime", p.Access.APITokenMaxLifetime) {
		c.atMost("access.api_token_max_lifetime", p.Access.APITokenMaxLifetime, Year, "tokens must expire (CP-6.3)")
	}
	for _, n := range p.Access.BlockedNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			c.fail("access.blocked_networks", "%q is not a network in CIDR notation (e.g. 203.0.113.0/24)", n)
		}
	}

	// Retention (CP-5.2: every category has a defined, finite period).
	r := p.Retention
	c.positive("retention.sign_in_history", r.SignInHistory)
	c.positive("retention.closed_tickets", r.ClosedTickets)
	c.positive("retention.unverified_signups", r.UnverifiedSignups)
	c.positive("retention.inactive_accounts", r.InactiveAccounts)
	if c.positive("retention.inactive_account_warning", r.InactiveAccountWarning) {
		c.before("retention.inactive_account_warning", r.InactiveAccountWarning, "retention.inactive_accounts", r.InactiveAccounts, "")
	}
	c.positive("retention.security_reports", r.SecurityReports)
	c.positive("retention.notices", r.Notices)
	c.positive("retention.audit_events", r.AuditEvents)
	// Enforces CP-5.2, CP-5.3, MTL-7.2: the evidence categories keep at
	// least their floor (the `floor` tags), so that no administrator can
	// purge the trail of their own actions by shortening its retention.
	for _, f := range fields(reflect.ValueOf(p), "") {
		if f.floor == "" {
			continue
		}
		floor, err := ParseDuration(f.floor)
		if err != nil {
			panic("policy: bad floor tag on " + f.key() + ": " + f.floor) // a programming error, caught by every test
		}
		if d := f.v.Interface().(Duration); d.Duration > 0 && d.Duration < floor.Duration {
			c.fail(f.key(), "must be at least %s: it is evidence for audits and investigations (CP-5.2, CP-5.3, MTL-7.2), and no administrator may shorten it away", floor)
		}
	}

	// Incident.
	in := p.Incident
	if c.positive("incident.customer_notification", in.CustomerNotification) {
		c.atMost("incident.customer_notification", in.CustomerNotification, 24*time.Hour, "CP-7.1")
		c.notAfter("incident.customer_notification", in.CustomerNotification, "incident.regulator_notification", in.RegulatorNotification, "")
	}
	if c.positive("incident.regulator_notification", in.RegulatorNotification) {
		c.atMost("incident.regulator_notification", in.RegulatorNotification, 72*time.Hour, "GDPR Art. 33(1), MTL-5.1.1")
	}
	c.regular("incident.exercise_interval", in.ExerciseInterval, "MTL-5.2.2")
	c.regimes(in.Regimes)

	// Privacy.
	pr := p.Privacy
	if c.positive("privacy.request_deadline", pr.RequestDeadline) {
		c.atMost("privacy.request_deadline", pr.RequestDeadline, 28*Day,
			"GDPR Art. 12(3) gives one month, and the shortest month has 28 days")
	}
	if pr.ErasureGrace.Duration < 0 {
		c.fail("privacy.erasure_grace", "must not be negative; 0 erases at once")
	} else {
		c.before("privacy.erasure_grace", pr.ErasureGrace, "privacy.request_deadline", pr.RequestDeadline,
			"the erasure is due within it")
	}

	// Governance.
	g := p.Governance
	c.regular("governance.policy_review_interval", g.PolicyReviewInterval, "CP-11.2")
	c.regular("governance.training_interval", g.TrainingInterval, "MTL-8.1")
	if g.TrainingGrace.Duration < 0 {
		c.fail("governance.training_grace", "must not be negative; 0 gates access on training from the first day")
	} else {
		c.before("governance.training_grace", g.TrainingGrace, "governance.training_interval", g.TrainingInterval, "")
	}
	c.regular("governance.vendor_review_interval", g.VendorReviewInterval, "CP-10.1, MTL-6.1")
	if c.positive("governance.vendor_check_interval", g.VendorCheckInterval) {
		c.atMost("governance.vendor_check_interval", g.VendorCheckInterval, 7*Day, "CP-10.2 asks for continuous monitoring")
	}
	c.positive("governance.contract_expiry_warning", g.ContractExpiryWarning)
	c.regular("governance.assessment_interval", g.AssessmentInterval, "CP-6.2, MTL-4.3.1")
	if c.positive("governance.evidence_interval", g.EvidenceInterval) {
		c.atMost("governance.evidence_interval", g.EvidenceInterval, Day, "MTL-7.2: the report must show the system as it is, at most a day old")
	}
	// Less severe findings may not be due sooner than more severe ones.
	rem := g.Remediation
	prevKey, prev := "", Duration{}
	for _, r := range []struct {
		key string
		d   Duration
	}{
		{"governance.remediation.critical", rem.Critical},
		{"governance.remediation.high", rem.High},
		{"governance.remediation.medium", rem.Medium},
		{"governance.remediation.low", rem.Low},
	} {
		if c.positive(r.key, r.d) && r.d.Duration < prev.Duration {
			c.fail(r.key, "must not be shorter than %s (%s)", prevKey, prev)
		}
		prevKey, prev = r.key, r.d
	}
	c.detection(p.Detection)
	return c.errs
}

// detection checks the sign-in risk levels and the detection rules.
func (c *checker) detection(d Detection) {
	r := d.Risk
	if r.Medium <= 0 || r.High <= r.Medium {
		c.fail("detection.risk", "needs 0 < medium (%d) < high (%d)", r.Medium, r.High)
	}
	prev := -1
	for _, a := range []struct{ key, v string }{
		{"detection.risk.low_action", r.LowAction}, {"detection.risk.medium_action", r.MediumAction}, {"detection.risk.high_action", r.HighAction},
	} {
		switch a.v {
		case RiskAllow, RiskChallenge, RiskBlock:
		default:
			c.fail(a.key, "must be %q, %q or %q, not %q", RiskAllow, RiskChallenge, RiskBlock, a.v)
			continue
		}
		if actionRank(a.v) < prev {
			c.fail(a.key, "must not be milder than the action of a lower level")
		}
		prev = actionRank(a.v)
	}
	if r.HighAction == RiskAllow {
		c.fail("detection.risk.high_action", "must challenge or block: CP-8.2 asks that suspicious sign-ins be acted on")
	}
	if r.UnusualHourHistory <= 0 {
		c.fail("detection.risk.unusual_hour_history", "must be positive")
	}
	c.positive("detection.risk.after_reset", r.AfterReset)
	c.positive("detection.throttle_for", d.ThrottleFor)
	if d.StuffingFailurePercent <= 0 || d.StuffingFailurePercent > 100 {
		c.fail("detection.stuffing_failure_percent", "must be between 1 and 100")
	}
	if d.SprayingMaxPerAccount <= 0 {
		c.fail("detection.spraying_max_per_account", "must be positive")
	}
	for key, rule := range d.Rules() {
		k := "detection." + key
		if rule.Threshold <= 0 {
			c.fail(k+".threshold", "must be positive")
		}
		c.positive(k+".window", rule.Window)
		for _, resp := range rule.Responses {
			switch resp {
			case RespondAlert, RespondThrottle, RespondChallenge, RespondLock, RespondEndSessions, RespondForcePassword:
			default:
				c.fail(k+".responses", "%q is not a response: use throttle, challenge, lock, end_sessions or force_password_change", resp)
			}
		}
	}
	for _, r := range []struct {
		key, what string
		rule      Rule
	}{
		{"incident_overdue", "an overdue incident", d.IncidentOverdue},
		{"governance_overdue", "an overdue governance duty", d.GovernanceOverdue},
		{"vendor_degraded", "a third party's endpoint", d.VendorDegraded},
		{"compliance_failing", "a compliance evidence check", d.ComplianceFailing},
	} {
		for _, resp := range r.rule.Responses {
			if resp != RespondAlert {
				c.fail("detection."+r.key+".responses", "%s has no account or network to act on: the rule only alerts", r.what)
			}
		}
	}
}

// regimes checks incident.regimes: at least one (MTL-5.1.1 asks for the
// reports that the law requires, so some law must be named), each known,
// none twice.
func (c *checker) regimes(codes []string) {
	const key = "incident.regimes"
	if len(codes) == 0 {
		c.fail(key, "must name at least one data-protection regime (%s): MTL-5.1.1 asks for the reports the applicable law requires",
			strings.Join(KnownRegimes(), ", "))
	}
	seen := map[string]bool{}
	for _, code := range codes {
		switch {
		case !slices.Contains(KnownRegimes(), code):
			c.fail(key, "%q is not a regime Portico knows: use %s", code, strings.Join(KnownRegimes(), ", "))
		case seen[code]:
			c.fail(key, "%q is listed twice", code)
		}
		seen[code] = true
	}
}

// checker collects the problems of one profile.
type checker struct {
	errs []*SettingError
}

func (c *checker) fail(key, format string, args ...any) {
	c.errs = append(c.errs, &SettingError{Key: key, Reason: fmt.Sprintf(format, args...)})
}

// positive reports d unless it is above zero, and says whether it is, so
// that the caller checks bounds and relations only of meaningful values.
func (c *checker) positive(key string, d Duration) bool {
	if d.Duration <= 0 {
		c.fail(key, "must be positive")
		return false
	}
	return true
}

func (c *checker) atMost(key string, d Duration, limit time.Duration, source string) {
	if d.Duration > limit {
		c.fail(key, "must be at most %s (%s)", Duration{limit}, source)
	}
}

// notAfter reports key unless d <= other. An unset other is reported
// under its own key, so it is not compared here.
func (c *checker) notAfter(key string, d Duration, otherKey string, other Duration, why string) {
	if other.Duration > 0 && d.Duration > other.Duration {
		c.fail(key, "must not be longer than %s (%s)%s", otherKey, other, because(why))
	}
}

// before reports key unless d < other, for a lead time inside a period.
func (c *checker) before(key string, d Duration, otherKey string, other Duration, why string) {
	if other.Duration > 0 && d.Duration >= other.Duration {
		c.fail(key, "must be shorter than %s (%s)%s", otherKey, other, because(why))
	}
}

func because(why string) string {
	if why == "" {
		return ""
	}
	return ": " + why
}

// regular checks an interval that a clause calls "regular" or "annual":
// Portico reads both as at least once a year.
func (c *checker) regular(key string, d Duration, clause string) {
	if c.positive(key, d) {
		c.atMost(key, d, Year, clause+": at least once a year")
	}
}

func (c *checker) intRange(key string, v, lo, hi int, why string) {
	if v < lo || v > hi {
		c.fail(key, "must be from %d to %d (%s)", lo, hi, why)
	}
}

// Advisories lists settings that Validate accepts but that are too weak
// for production: they exist so that tests can run cheaply. `portico
// serve` should log them and the compliance report show them. Each entry
// reads "key: advice".
func (p Profile) Advisories() []string {
	var out []string
	a := p.Password.Argon2
	// OWASP lists equivalent argon2id settings from m=47104 KiB, t=1 to
	// m=7168 KiB, t=5; all spend at least m*t = 35840 KiB-passes.
	if a.MemoryKiB < 7168 || uint64(a.MemoryKiB)*uint64(a.Iterations) < 35840 {
		out = append(out, fmt.Sprintf("password.argon2: m=%d KiB, t=%d is cheaper than the OWASP baseline (m=19456 KiB, t=2, p=1); fine for tests, weak in production (CP-5.1)",
			a.MemoryKiB, a.Iterations))
	}
	if p.Password.MinStrength < 3 {
		out = append(out, fmt.Sprintf("password.min_strength: %d accepts passwords that zxcvbn rates guessable; 3 or more meets MTL-3.1.1 \"strong passwords\"",
			p.Password.MinStrength))
	}
	return out
}
