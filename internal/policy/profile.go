// Package policy holds Portico's security policy as data: the profile of
// tunables that the policy clauses set (MFA mode, password rules, timeouts,
// lockout, retention, deadlines, review intervals) and the registry of the
// clauses themselves.
//
// Two built-in profiles follow the two policies that Portico implements:
// "customer-portal" (the default, the Customer Portal Policy) and
// "1642mtl-web" (the 1642MTL webpage Security Policy). They differ where the
// policies differ (MFA required or encouraged, and with it the minimum
// password length; password expiry) and nowhere else. An operator changes single values with a TOML override file; Load
// applies it and Validate refuses a profile that would break a clause or a
// bound of current guidance.
//
// Each tunable names the clauses that set it, in its doc comment and in its
// `clause` struct tag; Settings and WriteTOML report those IDs next to the
// values so that the compliance report and `portico policy show` can show
// them side by side.
//
// Controls register against clause IDs through Control values that each
// domain package returns from its own Controls function; Coverage lists, per
// clause, the controls that enforce it. There is no global mutable registry.
package policy

// Names of the built-in profiles.
const (
	CustomerPortal = "customer-portal" // the Customer Portal Policy
	MTLWeb         = "1642mtl-web"     // the 1642MTL webpage Security Policy
	Default        = CustomerPortal    // used when no profile is named
)

// MFAMode says whether a second factor is required or encouraged.
type MFAMode string

// MFA modes. CP-4.1 requires a second factor; MTL-3.1.2 only encourages it.
const (
	MFARequired   MFAMode = "required"   // no session reaches customer data without a second factor
	MFAEncouraged MFAMode = "encouraged" // offered and promoted, not enforced
)

// Profile is the effective security policy: every tunable that a clause
// sets, grouped by the domain that reads it. Obtain one from Builtin or Load;
// the zero value is not valid.
//
// Every leaf field carries a `toml` key, a `json` key and a `clause` tag with
// the IDs of the clauses that set it. Durations are Duration values, written
// as text ("30m", "12h", "90d").
type Profile struct {
	// Name is the built-in profile that this one starts from.
	Name string `toml:"name" json:"name"`

	MFA        MFA        `toml:"mfa" json:"mfa"`
	Password   Password   `toml:"password" json:"password"`
	Session    Session    `toml:"session" json:"session"`
	Lockout    Lockout    `toml:"lockout" json:"lockout"`
	RateLimit  RateLimit  `toml:"rate_limit" json:"rate_limit"`
	Access     Access     `toml:"access" json:"access"`
	Retention  Retention  `toml:"retention" json:"retention"`
	Incident   Incident   `toml:"incident" json:"incident"`
	Privacy    Privacy    `toml:"privacy" json:"privacy"`
	Governance Governance `toml:"governance" json:"governance"`
	Detection  Detection  `toml:"detection" json:"detection"`
}

// MFA is the second-factor policy.
type MFA struct {
	// Mode: CP-4.1 requires MFA; MTL-3.1.2 encourages it. With
	// MFAEncouraged the password may be the only factor, so Validate asks
	// for longer passwords.
	Mode MFAMode `toml:"mode" json:"mode" clause:"CP-4.1 MTL-3.1.2" weak:"mfa"`
	// RecoveryCodes is how many single-use recovery codes an enrolment
	// issues: MTL-3.1.2 names recovery codes so that a lost device does not
	// lock a customer out of a factor the policy may require.
	RecoveryCodes int `toml:"recovery_codes" json:"recovery_codes" clause:"MTL-3.1.2"`
}

// Password is the password policy and the cost of the stored hash.
type Password struct {
	// MinLength in characters: CP-4.3 sets length criteria; NIST SP
	// 800-63B-4 asks for 15 when the password is the only factor and allows
	// 8 behind a second factor.
	MinLength int `toml:"min_length" json:"min_length" clause:"CP-4.3 MTL-3.1.1" weak:"down"`
	// MaxLength in characters: NIST SP 800-63B asks to accept at least 64
	// so that passphrases and password managers work (CP-4.3, MTL-3.1.1).
	MaxLength int `toml:"max_length" json:"max_length" clause:"CP-4.3 MTL-3.1.1" weak:"down"`
	// MinStrength is the lowest zxcvbn score (0..4) accepted: MTL-3.1.1
	// "strong passwords" and CP-4.3 "complexity", measured as guessability
	// rather than by composition rules, which NIST SP 800-63B advises against.
	MinStrength int `toml:"min_strength" json:"min_strength" clause:"CP-4.3 MTL-3.1.1" weak:"down"`
	// History is how many previous passwords may not be reused: MTL-3.1.1
	// asks for unique passwords.
	History int `toml:"history" json:"history" clause:"MTL-3.1.1" weak:"down"`
	// ExpiryDays is the age in days at which a password must be changed, 0
	// for never: CP-4.3 asks that passwords expire periodically; NIST SP
	// 800-63B and OWASP ASVS advise against it, so the 1642MTL profile
	// leaves it off. Whole days, because users are told it in days.
	ExpiryDays int `toml:"expiry_days" json:"expiry_days" clause:"CP-4.3" weak:"expiry"`
	// ExpiryWarningDays is how many days before expiry the user is warned
	// (CP-4.3: "expiry with warnings"). It has no effect while ExpiryDays
	// is 0.
	ExpiryWarningDays int `toml:"expiry_warning_days" json:"expiry_warning_days" clause:"CP-4.3"`
	// RequiredClasses is how many character classes (lower case, upper
	// case, digits, symbols) a password must mix, 0 for no composition
	// rule: CP-4.3 names "complexity", which Portico measures by strength
	// (MinStrength) as NIST SP 800-63B advises; a profile whose auditors
	// ask for composition rules sets this too.
	RequiredClasses int `toml:"required_classes" json:"required_classes" clause:"CP-4.3" weak:"down"`
	// Argon2 is the cost of the password hash.
	Argon2 Argon2 `toml:"argon2" json:"argon2"`
}

// Argon2 holds the argon2id parameters of the password hash, in the types
// that golang.org/x/crypto/argon2.IDKey takes. Stored hashes record their own
// parameters, so raising these applies to new and rehashed passwords.
type Argon2 struct {
	// MemoryKiB is the memory cost in KiB: CP-5.1 and MTL-3.1.1 ask that
	// stored credentials resist offline guessing; the OWASP baseline is
	// 19456 (19 MiB). Tests may set it as low as 8 per lane.
	MemoryKiB uint32 `toml:"memory_kib" json:"memory_kib" clause:"CP-5.1 MTL-3.1.1" weak:"down"`
	// Iterations is the time cost: OWASP baseline 2 (CP-5.1, MTL-3.1.1).
	Iterations uint32 `toml:"iterations" json:"iterations" clause:"CP-5.1 MTL-3.1.1" weak:"down"`
	// Parallelism is the number of lanes: OWASP baseline 1 (CP-5.1, MTL-3.1.1).
	Parallelism uint8 `toml:"parallelism" json:"parallelism" clause:"CP-5.1 MTL-3.1.1"`
}

// Session is the lifetime of a signed-in session.
type Session struct {
	// IdleTimeout ends a session after this long without a request: CP-6.3
	// (zero trust) does not let a forgotten browser keep access. 30 minutes
	// is NIST SP 800-63B (rev. 3) AAL2.
	IdleTimeout Duration `toml:"idle_timeout" json:"idle_timeout" clause:"CP-6.3" weak:"up"`
	// AbsoluteTimeout ends a session this long after sign-in whatever its
	// activity, so that the factors of CP-4.1 are asked again. 12 hours is
	// NIST SP 800-63B (rev. 3) AAL2.
	AbsoluteTimeout Duration `toml:"absolute_timeout" json:"absolute_timeout" clause:"CP-6.3 CP-4.1" weak:"up"`
	// StepUpWindow is how long a fresh re-authentication authorises
	// sensitive actions (changing factors, revealing data, configuration):
	// MTL-3.2.2 restricts those to the authorised person, now, not to
	// whoever finds an open session (CP-6.3).
	StepUpWindow Duration `toml:"step_up_window" json:"step_up_window" clause:"MTL-3.2.2 CP-6.3" weak:"up"`
}

// Lockout throttles password guessing against one account.
type Lockout struct {
	// Threshold is the number of failed sign-ins within Window that locks
	// the account: CP-8.2 names brute force as a signal to act on; NIST SP
	// 800-63B allows at most 100.
	Threshold int `toml:"threshold" json:"threshold" clause:"CP-8.2" weak:"up"`
	// Window is how long a failed attempt counts towards Threshold (CP-8.2).
	Window Duration `toml:"window" json:"window" clause:"CP-8.2" weak:"down"`
	// LockDuration is the first temporary lock: temporary so that an
	// attacker cannot lock a customer out for good by guessing (CP-8.2).
	LockDuration Duration `toml:"lock_duration" json:"lock_duration" clause:"CP-8.2" weak:"down"`
	// BackoffBase multiplies the lock each time the account locks again
	// before a successful sign-in (lock n lasts
	// LockDuration*BackoffBase^(n-1)), so that a slow, persistent guesser
	// gets exponentially fewer tries (CP-8.2). 1 keeps every lock equal.
	BackoffBase int `toml:"backoff_base" json:"backoff_base" clause:"CP-8.2" weak:"down"`
	// MaxLockDuration caps the growing lock, which would otherwise turn
	// into the permanent lock-out that LockDuration avoids (CP-8.2).
	MaxLockDuration Duration `toml:"max_lock_duration" json:"max_lock_duration" clause:"CP-8.2" weak:"down"`
}

// RateLimit throttles the unauthenticated endpoints per client address and
// per network, whatever account they aim at: CP-8.2 names brute force and
// credential stuffing (many accounts, one source) as signals to act on.
// An operator, or a load benchmark, changes them here.
type RateLimit struct {
	// Window is the period over which each limit below counts (CP-8.2).
	Window Duration `toml:"window" json:"window" clause:"CP-8.2" weak:"down"`
	// LoginPerIP is how many sign-in attempts one IP address may make in
	// Window (CP-8.2).
	LoginPerIP int `toml:"login_per_ip" json:"login_per_ip" clause:"CP-8.2" weak:"up"`
	// LoginPerNetwork is how many sign-in attempts one network (an IPv4
	// /24 or an IPv6 /56) may make in Window: credential stuffing rotates
	// addresses inside a network (CP-8.2).
	LoginPerNetwork int `toml:"login_per_network" json:"login_per_network" clause:"CP-8.2" weak:"up"`
	// SignupPerIP is how many sign-ups one IP address may make in Window
	// (CP-8.2).
	SignupPerIP int `toml:"signup_per_ip" json:"signup_per_ip" clause:"CP-8.2" weak:"up"`
	// ResetPerIP is how many password-reset requests one IP address may
	// make in Window (CP-8.2).
	ResetPerIP int `toml:"reset_per_ip" json:"reset_per_ip" clause:"CP-8.2" weak:"up"`
	// MFAPerIP is how many second-factor attempts one IP address may make
	// in Window: a 6-digit code falls to about a million guesses (CP-4.1,
	// CP-8.2).
	MFAPerIP int `toml:"mfa_per_ip" json:"mfa_per_ip" clause:"CP-4.1 CP-8.2" weak:"up"`
}

// Access holds the time limits of access that is granted for a while.
type Access struct {
	// RevealGrant is how long a reason-backed reveal of masked personal
	// data lasts: MTL-3.2.2 asks that it be time-bound.
	RevealGrant Duration `toml:"reveal_grant" json:"reveal_grant" clause:"MTL-3.2.2 MTL-3.2.1" weak:"up"`
	// APITokenMaxLifetime is the longest lifetime a personal access token
	// may be given: under CP-6.3 no credential is trusted forever.
	APITokenMaxLifetime Duration `toml:"api_token_max_lifetime" json:"api_token_max_lifetime" clause:"CP-6.3" weak:"up"`
	// BlockedNetworks are client networks (CIDR, e.g. "203.0.113.0/24")
	// that may not use Portico at all: a session seen from one is ended
	// and recorded as a risk signal, and sign-in from one is refused
	// (CP-6.3: trust is never granted by network, but it can be withheld).
	BlockedNetworks []string `toml:"blocked_networks" json:"blocked_networks" clause:"CP-6.3" weak:"list"`
}

// Retention is the retention schedule per data category: CP-5.2 asks for
// defined periods and secure deletion after them; storage limitation (GDPR
// Art. 5(1)(e), MTL-2.1.2) keeps each period no longer than its purpose
// needs. Each field says from when its period counts.
//
// The evidence categories (the audit trail, sign-in history, security
// reports, notices) carry a `floor` tag: Validate refuses a shorter
// period, and `portico policy show` states the floor next to the value, so
// that no administrator can shorten the evidence of their own actions away
// (CP-5.2, CP-5.3, MTL-7.2).
type Retention struct {
	// SignInHistory keeps sign-in records, from the sign-in, that
	// customers review ("recent sign-ins") and detection compares against
	// (CP-8.2): 13 months, so that a yearly pattern is visible, and no more.
	//
	// Floor 180 days: sign-ins are the evidence an investigation reads
	// back through, and breaches are typically found months after they
	// begin.
	SignInHistory Duration `toml:"sign_in_history" json:"sign_in_history" clause:"CP-5.2 CP-8.2" floor:"180d" weak:"down"`
	// ClosedTickets keeps support tickets this long after closing: 3
	// years covers a follow-up complaint or claim (common civil limitation
	// periods run 3 years).
	ClosedTickets Duration `toml:"closed_tickets" json:"closed_tickets" clause:"CP-5.2" weak:"down"`
	// UnverifiedSignups deletes sign-ups whose e-mail address was never
	// confirmed, counted from the sign-up: they serve no purpose once the
	// confirmation link has expired.
	UnverifiedSignups Duration `toml:"unverified_signups" json:"unverified_signups" clause:"CP-5.2 MTL-2.1.2" weak:"down"`
	// InactiveAccounts deletes accounts this long after their last
	// sign-in: the customer relationship has ended in practice.
	InactiveAccounts Duration `toml:"inactive_accounts" json:"inactive_accounts" clause:"CP-5.2 MTL-2.1.2" weak:"down"`
	// InactiveAccountWarning tells the customer this long before deleting
	// an inactive account, so that they can keep it by signing in.
	InactiveAccountWarning Duration `toml:"inactive_account_warning" json:"inactive_account_warning" clause:"CP-5.2 MTL-2.1.2" weak:"down"`
	// SecurityReports keeps suspicious-activity reports (CP-7.3) this
	// long after closing: they are incident evidence that a regulator may
	// ask about (GDPR Art. 33(5)) and that later detection learns from.
	// Floor one year: a report may only be understood at the next yearly
	// review.
	SecurityReports Duration `toml:"security_reports" json:"security_reports" clause:"CP-5.2 CP-7.3" floor:"365d" weak:"down"`
	// Notices keeps security and breach notices, from sending: they are
	// the proof of notification under CP-9.1, CP-9.2 and GDPR Art. 34.
	// Floor one year, as the audit trail's.
	Notices Duration `toml:"notices" json:"notices" clause:"CP-5.2 CP-9.1 CP-9.2" floor:"365d" weak:"down"`
	// AuditEvents keeps audit events (CP-5.3), from the event: long
	// enough to span two yearly reviews and audits (CP-11.2, MTL-7.2), and
	// beyond PCI DSS's one year.
	// Floor one year (PCI DSS 10.5.1; one yearly review cycle).
	AuditEvents Duration `toml:"audit_events" json:"audit_events" clause:"CP-5.2 CP-5.3 MTL-7.2" floor:"365d" weak:"down"`
}

// Incident holds the clocks of incident response, counted from detection.
type Incident struct {
	// CustomerNotification is the deadline to tell affected customers of
	// an incident: CP-7.1 says within 24 hours of detection (MTL-5.1.2:
	// "promptly").
	CustomerNotification Duration `toml:"customer_notification" json:"customer_notification" clause:"CP-7.1 MTL-5.1.2" weak:"up"`
	// RegulatorNotification is the deadline to report a personal-data
	// breach to the supervisory authority: MTL-5.1.1 asks for reports as
	// the law requires, and GDPR Art. 33(1) gives 72 hours.
	RegulatorNotification Duration `toml:"regulator_notification" json:"regulator_notification" clause:"MTL-5.1.1" weak:"up"`
	// ExerciseInterval is how often the response procedures are exercised
	// (tabletop or drill): MTL-5.2.2 asks for regular tests.
	ExerciseInterval Duration `toml:"exercise_interval" json:"exercise_interval" clause:"MTL-5.2.2" weak:"up"`
	// Regimes are the data-protection laws whose breach rules apply to
	// the operator, by code (KnownRegimes): MTL-5.1.1 asks for reports
	// "as required by applicable laws" and MTL-7.1 for compliance with
	// them, and which laws apply depends on where the operator and its
	// customers are. Each incident shows, per regime, whether the
	// authority and the people must be told, its clock and the content
	// its report needs, and the breach register exports each regime's
	// fields (internal/incident). Dropping one is a weakening.
	Regimes []string `toml:"regimes" json:"regimes" clause:"MTL-5.1.1 MTL-7.1" weak:"list"`
}

// Codes of the data-protection regimes that incident response knows; the
// definitions (authority, trigger, deadline, content, record keeping) are
// internal/incident's, which checks that it defines exactly these.
const (
	RegimeGDPR   = "gdpr"   // the EU/UK GDPR, Art. 33 and 34
	RegimeQuebec = "quebec" // Quebec's private-sector Act as amended by Law 25
	RegimePIPEDA = "pipeda" // Canada's PIPEDA, Part 1, Division 1.1
)

// KnownRegimes returns the codes that incident.regimes may name.
func KnownRegimes() []string {
	return []string{RegimeGDPR, RegimeQuebec, RegimePIPEDA}
}

// Privacy holds the clocks of data-subject rights.
type Privacy struct {
	// RequestDeadline is the time to answer a data-subject request
	// (access, export, rectification, erasure; CP-11.1, MTL-7.1): GDPR Art.
	// 12(3) gives one month, and 28 days is never later than a calendar
	// month (the UK ICO's advice for a fixed number of days).
	RequestDeadline Duration `toml:"request_deadline" json:"request_deadline" clause:"CP-11.1 MTL-7.1" weak:"up"`
	// ErasureGrace delays an erasure the customer asked for, so that a
	// mistaken or hijacked request can be cancelled before the data key is
	// destroyed (CP-11.1, CP-5.2).
	ErasureGrace Duration `toml:"erasure_grace" json:"erasure_grace" clause:"CP-11.1 CP-5.2"`
}

// Governance holds the intervals of the organisational clauses.
type Governance struct {
	// PolicyReviewInterval: CP-11.2 asks for a review every year (and on
	// significant change, which is an event, not a tunable).
	PolicyReviewInterval Duration `toml:"policy_review_interval" json:"policy_review_interval" clause:"CP-11.2 MTL-5.2.1" weak:"up"`
	// TrainingInterval is how often staff repeat security awareness
	// training (MTL-8.1: "regular").
	TrainingInterval Duration `toml:"training_interval" json:"training_interval" clause:"MTL-8.1 CP-12" weak:"up"`
	// TrainingGrace is how long new staff may work before their first
	// training is due; after it, access is restricted (MTL-8.1, CP-12).
	TrainingGrace Duration `toml:"training_grace" json:"training_grace" clause:"MTL-8.1 CP-12" weak:"up"`
	// VendorReviewInterval is how often each vendor's assessment is
	// renewed (CP-10.1, MTL-6.1).
	VendorReviewInterval Duration `toml:"vendor_review_interval" json:"vendor_review_interval" clause:"CP-10.1 MTL-6.1" weak:"up"`
	// VendorCheckInterval is how often vendors' endpoints and the expiry of
	// assessments and contracts are checked: CP-10.2 asks for continuous
	// monitoring.
	VendorCheckInterval Duration `toml:"vendor_check_interval" json:"vendor_check_interval" clause:"CP-10.2" weak:"up"`
	// ContractExpiryWarning is how long before a vendor contract or DPA
	// expires that the owner is alerted (MTL-6.2, CP-10.2).
	ContractExpiryWarning Duration `toml:"contract_expiry_warning" json:"contract_expiry_warning" clause:"MTL-6.2 CP-10.2" weak:"down"`
	// AssessmentInterval is how often a vulnerability assessment or
	// penetration test is due (CP-6.2, MTL-4.3.1: "regular").
	AssessmentInterval Duration `toml:"assessment_interval" json:"assessment_interval" clause:"CP-6.2 MTL-4.3.1" weak:"up"`
	// EvidenceInterval is how often the compliance evidence of every clause
	// is taken (MTL-7.2: "regular audits"; the live report shows it).
	EvidenceInterval Duration `toml:"evidence_interval" json:"evidence_interval" clause:"MTL-7.2" weak:"up"`
	// Remediation sets the deadlines of findings by severity.
	Remediation Remediation `toml:"remediation" json:"remediation"`
}

// Remediation is the time allowed to fix a finding, by severity, counted
// from the finding: MTL-4.3.2 asks that patches be applied promptly and
// MTL-4.1.2 that known vulnerabilities be patched.
type Remediation struct {
	// Critical findings: CISA BOD 19-02 allows 15 days.
	Critical Duration `toml:"critical" json:"critical" clause:"MTL-4.3.2 MTL-4.1.2" weak:"up"`
	// High findings: CISA BOD 19-02 allows 30 days.
	High Duration `toml:"high" json:"high" clause:"MTL-4.3.2 MTL-4.1.2" weak:"up"`
	// Medium findings.
	Medium Duration `toml:"medium" json:"medium" clause:"MTL-4.3.2 MTL-4.1.2" weak:"up"`
	// Low findings.
	Low Duration `toml:"low" json:"low" clause:"MTL-4.3.2 MTL-4.1.2" weak:"up"`
}

// Sign-in risk actions, from the mildest (RiskAllow) to the strictest.
const (
	RiskAllow     = "allow"     // sign in as usual
	RiskChallenge = "challenge" // a second factor, or an emailed code for an account without one
	RiskBlock     = "block"     // refuse this sign-in and tell the owner
)

// Responses a detection rule may take, besides recording its alert.
const (
	RespondAlert         = "alert"                 // raise an alert for the security team (always)
	RespondThrottle      = "throttle"              // refuse sign-ins from the network for ThrottleFor
	RespondChallenge     = "challenge"             // the account's next sign-ins are high risk
	RespondLock          = "lock"                  // lock the account (the lockout's lock)
	RespondEndSessions   = "end_sessions"          // end every session and API token of the account
	RespondForcePassword = "force_password_change" // the account must change its password at next sign-in
)

// Detection holds the thresholds of behavioural analytics (internal/detect):
// the risk of each sign-in and the rules run over the event stream. CP-8.2
// names brute force, credential stuffing and suspicious patterns as signals
// to act on; CP-5.3 asks that unauthorised access be detected from the
// records.
type Detection struct {
	Risk Risk `toml:"risk" json:"risk"`
	// ThrottleFor is how long a "throttle" response refuses sign-ins from a
	// network (CP-8.2).
	ThrottleFor Duration `toml:"throttle_for" json:"throttle_for" clause:"CP-8.2" weak:"down"`

	BruteForce         Rule `toml:"brute_force" json:"brute_force"`
	CredentialStuffing Rule `toml:"credential_stuffing" json:"credential_stuffing"`
	// StuffingFailurePercent is the share of failed attempts, among a
	// network's attempts at credential stuffing's threshold of accounts,
	// above which it is stuffing and not an office signing in (CP-8.2).
	StuffingFailurePercent int  `toml:"stuffing_failure_percent" json:"stuffing_failure_percent" clause:"CP-8.2" weak:"up"`
	PasswordSpraying       Rule `toml:"password_spraying" json:"password_spraying"`
	// SprayingMaxPerAccount: a spray tries each account this many times at
	// most (more is brute force) (CP-8.2).
	SprayingMaxPerAccount int  `toml:"spraying_max_per_account" json:"spraying_max_per_account" clause:"CP-8.2" weak:"down"`
	DistributedAttack     Rule `toml:"distributed_attack" json:"distributed_attack"`
	ImpossibleTravel      Rule `toml:"impossible_travel" json:"impossible_travel"`
	SessionHijack         Rule `toml:"session_hijack" json:"session_hijack"`
	MFAGuessing           Rule `toml:"mfa_guessing" json:"mfa_guessing"`
	RecoveryNewCountry    Rule `toml:"recovery_new_country" json:"recovery_new_country"`
	MassSignup            Rule `toml:"mass_signup" json:"mass_signup"`
	InsiderReveal         Rule `toml:"insider_reveal" json:"insider_reveal"`
	AuditExport           Rule `toml:"audit_export" json:"audit_export"`
	StaffOddHour          Rule `toml:"staff_odd_hour" json:"staff_odd_hour"`
	TokenNewNetwork       Rule `toml:"token_new_network" json:"token_new_network"`
	// CustomerReport: a customer says activity on their account was not
	// theirs ("this wasn't me"); CP-7.3 asks that such reports reach the
	// security team, here as an alert beside the rules' own.
	CustomerReport Rule `toml:"customer_report" json:"customer_report"`
	// IncidentOverdue: an incident's customer or regulator deadline passed
	// with nothing recorded (CP-7.1, MTL-5.1.1), an alert beside the
	// warnings by email. Its subject is an incident, so it only alerts.
	IncidentOverdue Rule `toml:"incident_overdue" json:"incident_overdue"`
	// GovernanceOverdue: a governance duty passed its date: a finding's
	// remediation, a vendor's reassessment or agreement, a policy review,
	// a training (CP-6.2, CP-10.1, CP-11.2, MTL-4.3.2, MTL-6.1, MTL-8.1).
	// Its subject is a record, so it only alerts.
	GovernanceOverdue Rule `toml:"governance_overdue" json:"governance_overdue"`
	// VendorDegraded: a scheduled check of a third party's endpoint got
	// worse (CP-10.2): unreachable, an old TLS version or a weak suite, a
	// certificate expired or near expiry, HSTS or security.txt gone. It
	// only alerts.
	VendorDegraded Rule `toml:"vendor_degraded" json:"vendor_degraded"`
	// ComplianceFailing: an evidence check of the live compliance report
	// began to fail (MTL-7.2): a clause is no longer shown to hold. It
	// only alerts.
	ComplianceFailing Rule `toml:"compliance_failing" json:"compliance_failing"`
}

// Rule is one detection rule's threshold, window and responses. What the
// threshold counts is the rule's own (failures, accounts, networks, km/h);
// docs/detection.md says it for each.
type Rule struct {
	// Threshold is the count at which the rule fires (CP-8.2).
	Threshold int `toml:"threshold" json:"threshold" clause:"CP-8.2" weak:"up"`
	// Window is the period the count is taken over (CP-8.2).
	Window Duration `toml:"window" json:"window" clause:"CP-8.2" weak:"down"`
	// Responses are what Portico does when the rule fires, besides the
	// alert: throttle, challenge, lock, end_sessions, force_password_change
	// (CP-8.2, CP-3.2).
	Responses []string `toml:"responses" json:"responses" clause:"CP-8.2 CP-3.2" weak:"list"`
}

// Risk scores each sign-in low, medium or high from its reasons (new
// device, new country, impossible travel, a network under suspicion, a
// breached password, a reset followed by a sign-in from elsewhere, an
// unusual hour) and maps each level to an action (CP-8.2).
type Risk struct {
	// Medium is the score at which a sign-in is medium risk (CP-8.2).
	Medium int `toml:"medium" json:"medium" clause:"CP-8.2" weak:"up"`
	// High is the score at which a sign-in is high risk (CP-8.2).
	High int `toml:"high" json:"high" clause:"CP-8.2" weak:"up"`
	// LowAction, MediumAction and HighAction: allow, challenge or block
	// (CP-8.2).
	LowAction    string `toml:"low_action" json:"low_action" clause:"CP-8.2" weak:"action"`
	MediumAction string `toml:"medium_action" json:"medium_action" clause:"CP-8.2" weak:"action"`
	HighAction   string `toml:"high_action" json:"high_action" clause:"CP-8.2" weak:"action"`
	// UnusualHourHistory is how many past sign-ins an account needs before
	// a sign-in at an hour it never uses counts as unusual (CP-8.2).
	UnusualHourHistory int `toml:"unusual_hour_history" json:"unusual_hour_history" clause:"CP-8.2" weak:"up"`
	// AfterReset is how long after a password reset a sign-in from a
	// country the account has not used is a reason (CP-8.2).
	AfterReset Duration `toml:"after_reset" json:"after_reset" clause:"CP-8.2" weak:"down"`
}

// Rules returns every detection rule by its TOML key, which is also the
// rule's name in alerts and in `portico detect replay`.
func (d Detection) Rules() map[string]Rule {
	return map[string]Rule{
		"brute_force":          d.BruteForce,
		"credential_stuffing":  d.CredentialStuffing,
		"password_spraying":    d.PasswordSpraying,
		"distributed_attack":   d.DistributedAttack,
		"impossible_travel":    d.ImpossibleTravel,
		"session_hijack":       d.SessionHijack,
		"mfa_guessing":         d.MFAGuessing,
		"recovery_new_country": d.RecoveryNewCountry,
		"mass_signup":          d.MassSignup,
		"insider_reveal":       d.InsiderReveal,
		"audit_export":         d.AuditExport,
		"staff_odd_hour":       d.StaffOddHour,
		"token_new_network":    d.TokenNewNetwork,
		"customer_report":      d.CustomerReport,
		"incident_overdue":     d.IncidentOverdue,
		"governance_overdue":   d.GovernanceOverdue,
		"vendor_degraded":      d.VendorDegraded,
		"compliance_failing":   d.ComplianceFailing,
	}
}
