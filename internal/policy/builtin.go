package policy

import (
	"fmt"
	"strings"
	"time"
)

// Names returns the names of the built-in profiles, the default first.
func Names() []string {
	return []string{CustomerPortal, MTLWeb}
}

// Builtin returns the built-in profile with the given name; "" selects
// Default. Each call returns a fresh value that the caller may change.
func Builtin(name string) (Profile, error) {
	switch name {
	case CustomerPortal, "":
		return customerPortal(), nil
	case MTLWeb:
		return mtlWeb(), nil
	}
	return Profile{}, fmt.Errorf("policy profile %q: unknown; the built-in profiles are %s", name, strings.Join(Names(), ", "))
}

// customerPortal is the profile of the Customer Portal Policy. The values
// that no clause fixes follow current guidance (NIST SP 800-63B, OWASP) and
// are the same in both profiles; the comments say where each comes from.
func customerPortal() Profile {
	return Profile{
		Name: CustomerPortal,
		MFA: MFA{
			Mode:          MFARequired, // CP-4.1
			RecoveryCodes: 10,          // the common count; each is single-use
		},
		Password: Password{
			MinLength:         12,              // behind a required second factor; NIST allows 8
			MaxLength:         128,             // NIST's 64, doubled for generated passphrases
			MinStrength:       3,               // zxcvbn "safely unguessable" (MTL-3.1.1)
			History:           5,               // MTL-3.1.1 "unique"
			ExpiryDays:        90,              // CP-4.3 "expire periodically": a quarter
			ExpiryWarningDays: 14,              // two weeks to change it at leisure
			RequiredClasses:   0,               // strength, not composition (NIST SP 800-63B)
			Argon2:            owaspArgon2id(), // CP-5.1, MTL-3.1.1
		},
		Session: Session{
			IdleTimeout:     Duration{30 * time.Minute}, // NIST SP 800-63B rev. 3 AAL2
			AbsoluteTimeout: Duration{12 * time.Hour},   // NIST SP 800-63B rev. 3 AAL2
			StepUpWindow:    Duration{5 * time.Minute},  // one sensitive task, not a work session
		},
		Lockout: Lockout{
			Threshold:       10,                         // 10 failures in the window: a typist never gets there
			Window:          Duration{15 * time.Minute}, // as long as the first lock
			LockDuration:    Duration{15 * time.Minute}, // OWASP's usual temporary lock
			BackoffBase:     2,                          // 15m, 30m, 1h, 2h, ...
			MaxLockDuration: Duration{24 * time.Hour},   // at most a day locked out
		},
		RateLimit: RateLimit{
			Window:          Duration{15 * time.Minute}, // as the lockout window
			LoginPerIP:      50,                         // a household or office behind one address
			LoginPerNetwork: 200,                        // a larger site behind one /24
			SignupPerIP:     10,                         // nobody opens ten accounts in a quarter hour
			ResetPerIP:      10,                         // each sends a mail: keep it from being a spam relay
			MFAPerIP:        50,                         // 10^6 codes are out of reach at this rate
		},
		Access: Access{
			RevealGrant:         Duration{15 * time.Minute}, // MTL-3.2.2: one support call
			APITokenMaxLifetime: Days(90),                   // a quarter; renewable by the owner
			BlockedNetworks:     []string{},                 // none: the operator lists them
		},
		Retention: Retention{
			SignInHistory:          Days(395), // 13 months
			ClosedTickets:          years(3),  // 3 years after closing
			UnverifiedSignups:      Days(7),   // a week to confirm the address
			InactiveAccounts:       years(3),  // 3 years without a sign-in
			InactiveAccountWarning: Days(30),  // a month to sign in and keep it
			SecurityReports:        years(3),  // as closed tickets: same complaint horizon
			Notices:                years(3),  // proof of notification outlives the complaint horizon
			AuditEvents:            years(2),  // two yearly audit cycles
		},
		Incident: Incident{
			CustomerNotification:  Duration{24 * time.Hour}, // CP-7.1
			RegulatorNotification: Duration{72 * time.Hour}, // MTL-5.1.1, GDPR Art. 33(1)
			ExerciseInterval:      years(1),                 // MTL-5.2.2: at least once a year
			// MTL-5.1.1, MTL-7.1: the GDPR, which the Customer Portal
			// Policy names; an operator in Quebec or elsewhere in Canada
			// adds "quebec" or "pipeda".
			Regimes: []string{RegimeGDPR},
		},
		Privacy: Privacy{
			RequestDeadline: Days(28), // GDPR Art. 12(3) "one month", never later
			ErasureGrace:    Days(7),  // time to cancel before crypto-shredding
		},
		Governance: Governance{
			PolicyReviewInterval:  years(1),                 // CP-11.2 "annually"
			TrainingInterval:      years(1),                 // MTL-8.1, the usual yearly refresher
			TrainingGrace:         Days(14),                 // first two weeks of a new starter
			VendorReviewInterval:  years(1),                 // CP-10.1, MTL-6.1
			VendorCheckInterval:   Duration{24 * time.Hour}, // CP-10.2 "continuous": daily
			ContractExpiryWarning: Days(60),                 // time to renegotiate a contract or DPA
			AssessmentInterval:    years(1),                 // CP-6.2, MTL-4.3.1: yearly penetration test
			EvidenceInterval:      Duration{time.Hour},      // MTL-7.2: hourly, as continuous control monitoring does
			Remediation: Remediation{
				Critical: Days(15),  // CISA BOD 19-02
				High:     Days(30),  // CISA BOD 19-02
				Medium:   Days(90),  // within the quarter
				Low:      Days(180), // within two quarters
			},
		},
		Detection: defaultDetection(),
	}
}

// defaultDetection is the customer-portal's detection: thresholds that an
// office behind one address, a traveller or a typist does not reach (the
// synthetic traffic of bench/detectgen measures it: docs/performance.md),
// and responses that stop an attack without locking customers out for long.
func defaultDetection() Detection {
	alert := []string{}
	return Detection{
		Risk: Risk{
			Medium:       30, // a new country alone, or a new device at an odd hour and more
			High:         60, // impossible travel alone, or two strong reasons together
			LowAction:    RiskAllow,
			MediumAction: RiskChallenge, // the second factor (or an emailed code) proves the owner
			HighAction:   RiskBlock,     // Cognito's "block": refused, and the owner is told why
			// A month of daily sign-ins before an hour can be called odd.
			UnusualHourHistory: 20,
			AfterReset:         Duration{24 * time.Hour},
		},
		ThrottleFor: Duration{time.Hour},
		// Ten wrong passwords in 15 minutes: the lockout's own threshold,
		// so the alert names what the lock stopped.
		BruteForce: Rule{Threshold: 10, Window: Duration{15 * time.Minute}, Responses: alert},
		// Twenty accounts from one network in 10 minutes, 80% failing; the
		// network is refused for ThrottleFor (Auth0's suspicious-IP
		// throttling, counted per network).
		CredentialStuffing:     Rule{Threshold: 20, Window: Duration{10 * time.Minute}, Responses: []string{RespondThrottle}},
		StuffingFailurePercent: 80,
		// Thirty accounts failing without success from one network in a
		// day, each tried at most twice: slow spraying.
		PasswordSpraying:      Rule{Threshold: 30, Window: Duration{24 * time.Hour}, Responses: []string{RespondThrottle}},
		SprayingMaxPerAccount: 2,
		// Failures on one account from five networks in an hour.
		DistributedAttack: Rule{Threshold: 5, Window: Duration{time.Hour}, Responses: []string{RespondChallenge}},
		// Faster than an airliner (km/h) between two successful sign-ins;
		// the window bounds how far back the previous sign-in is looked for.
		ImpossibleTravel: Rule{Threshold: 1000, Window: Duration{24 * time.Hour}, Responses: alert},
		// Any risk sign-out (country or browser changed mid-session); the
		// session ended already.
		SessionHijack: Rule{Threshold: 1, Window: Duration{time.Hour}, Responses: alert},
		// Five wrong codes after a right password: the password is known
		// to someone, so it must change.
		MFAGuessing: Rule{Threshold: 5, Window: Duration{15 * time.Minute}, Responses: []string{RespondForcePassword}},
		// A recovery code used within the window after a sign-in from a
		// country new to the account.
		RecoveryNewCountry: Rule{Threshold: 1, Window: Duration{time.Hour}, Responses: []string{RespondEndSessions}},
		// Twenty sign-ups from one network in an hour.
		MassSignup: Rule{Threshold: 20, Window: Duration{time.Hour}, Responses: []string{RespondThrottle}},
		// One agent revealing ten customers' data in an hour.
		InsiderReveal: Rule{Threshold: 10, Window: Duration{time.Hour}, Responses: alert},
		// An audit export of 10,000 events or more.
		AuditExport: Rule{Threshold: 10000, Window: Duration{24 * time.Hour}, Responses: alert},
		// A staff action at an hour of day the person has not acted at in
		// their last Threshold actions (window: how far back they count).
		StaffOddHour: Rule{Threshold: 50, Window: Duration{90 * 24 * time.Hour}, Responses: alert},
		// An API token used from a network it was not used from before.
		TokenNewNetwork: Rule{Threshold: 1, Window: Duration{90 * 24 * time.Hour}, Responses: alert},
		// Every "this wasn't me" (the report itself ends the account's
		// other sessions and tokens).
		CustomerReport: Rule{Threshold: 1, Window: Duration{24 * time.Hour}, Responses: alert},
		// Every incident deadline passed (one warning per incident and
		// clock: the threshold and window change nothing).
		IncidentOverdue: Rule{Threshold: 1, Window: Duration{24 * time.Hour}, Responses: alert},
		// Every governance duty overdue and every vendor check that got
		// worse (each recorded once: the threshold and window change
		// nothing).
		GovernanceOverdue: Rule{Threshold: 1, Window: Duration{24 * time.Hour}, Responses: alert},
		VendorDegraded:    Rule{Threshold: 1, Window: Duration{24 * time.Hour}, Responses: alert},
		// Every evidence check that begins to fail (recorded once per
		// failing period).
		ComplianceFailing: Rule{Threshold: 1, Window: Duration{24 * time.Hour}, Responses: alert},
	}
}

// mtlWeb is the profile of the 1642MTL webpage Security Policy. It differs
// from customerPortal only where the two policies differ (CLAUSES.md).
func mtlWeb() Profile {
	p := customerPortal()
	p.Name = MTLWeb
	// MTL-3.1.2 encourages a second factor rather than requiring it.
	p.MFA.Mode = MFAEncouraged
	// The password may then be the only factor: NIST SP 800-63B-4 asks for
	// 15 characters for single-factor passwords.
	p.Password.MinLength = 15
	// The 1642MTL policy does not ask for expiry, and NIST SP 800-63B
	// advises against it. ExpiryWarningDays stays set so that turning expiry on
	// in an override file needs one line.
	p.Password.ExpiryDays = 0
	return p
}

// owaspArgon2id is the OWASP Password Storage Cheat Sheet's argon2id
// baseline: m=19 MiB, t=2, p=1.
func owaspArgon2id() Argon2 {
	return Argon2{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}
}

// years returns n Years as a Duration.
func years(n int) Duration { return Duration{time.Duration(n) * Year} }
