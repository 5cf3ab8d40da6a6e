package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Profile)
		key    string // the setting the error must name
		reason string // part of its reason
	}{
		{"empty name", func(p *Profile) { p.Name = "" }, "name", "must name"},
		{"unknown MFA mode", func(p *Profile) { p.MFA.Mode = "optional" }, "mfa.mode", `not "optional"`},
		{"no recovery codes", func(p *Profile) { p.MFA.RecoveryCodes = 0 }, "mfa.recovery_codes", "from 1 to 20"},
		{"password shorter than 8", func(p *Profile) { p.Password.MinLength = 7 }, "password.min_length", "at least 8 (NIST SP 800-63B)"},
		{"single-factor password shorter than 15", func(p *Profile) { p.MFA.Mode = MFAEncouraged; p.Password.MinLength = 14 }, "password.min_length", "at least 15"},
		{"max length under 64", func(p *Profile) { p.Password.MaxLength = 63 }, "password.max_length", "at least 64"},
		{"max length under min length", func(p *Profile) { p.Password.MinLength = 80; p.Password.MaxLength = 70 }, "password.max_length", "less than password.min_length"},
		{"max length huge", func(p *Profile) { p.Password.MaxLength = 1 << 20 }, "password.max_length", "at most 1024"},
		{"strength above 4", func(p *Profile) { p.Password.MinStrength = 5 }, "password.min_strength", "from 0 to 4"},
		{"strength negative", func(p *Profile) { p.Password.MinStrength = -1 }, "password.min_strength", "from 0 to 4"},
		{"no password history", func(p *Profile) { p.Password.History = 0 }, "password.history", "MTL-3.1.1"},
		{"negative expiry", func(p *Profile) { p.Password.ExpiryDays = -1 }, "password.expiry_days", "negative"},
		{"warning as long as expiry", func(p *Profile) { p.Password.ExpiryWarningDays = p.Password.ExpiryDays }, "password.expiry_warning_days", "less than password.expiry_days"},
		{"negative warning", func(p *Profile) { p.Password.ExpiryWarningDays = -1 }, "password.expiry_warning_days", "negative"},
		{"five character classes", func(p *Profile) { p.Password.RequiredClasses = 5 }, "password.required_classes", "from 0 to 4"},
		{"no sign-ins per IP", func(p *Profile) { p.RateLimit.LoginPerIP = 0 }, "rate_limit.login_per_ip", "refuse every sign-in"},
		{"network limit under IP limit", func(p *Profile) { p.RateLimit.LoginPerNetwork = p.RateLimit.LoginPerIP - 1 }, "rate_limit.login_per_network", "not be less than rate_limit.login_per_ip"},
		{"zero rate window", func(p *Profile) { p.RateLimit.Window = Duration{} }, "rate_limit.window", "positive"},
		{"zero argon2 memory", func(p *Profile) { p.Password.Argon2.MemoryKiB = 0 }, "password.argon2.memory_kib", "at least 8 per lane"},
		{"argon2 memory under 8 per lane", func(p *Profile) { p.Password.Argon2.Parallelism = 4; p.Password.Argon2.MemoryKiB = 31 }, "password.argon2.memory_kib", "at least 8 per lane"},
		{"argon2 memory over 1 GiB", func(p *Profile) { p.Password.Argon2.MemoryKiB = 1<<20 + 1 }, "password.argon2.memory_kib", "at most 1048576"},
		{"zero argon2 iterations", func(p *Profile) { p.Password.Argon2.Iterations = 0 }, "password.argon2.iterations", "at least 1"},
		{"zero argon2 parallelism", func(p *Profile) { p.Password.Argon2.Parallelism = 0 }, "password.argon2.parallelism", "at least 1"},
		{"zero idle timeout", func(p *Profile) { p.Session.IdleTimeout = Duration{} }, "session.idle_timeout", "positive"},
		{"idle over an hour", func(p *Profile) { p.Session.IdleTimeout = Duration{2 * time.Hour} }, "session.idle_timeout", "at most 1h (NIST SP 800-63B-4 AAL2)"},
		{"idle over absolute", func(p *Profile) { p.Session.AbsoluteTimeout = Duration{20 * time.Minute} }, "session.idle_timeout", "longer than session.absolute_timeout"},
		{"absolute over a day", func(p *Profile) { p.Session.AbsoluteTimeout = Days(7) }, "session.absolute_timeout", "at most 24h"},
		{"zero step-up window", func(p *Profile) { p.Session.StepUpWindow = Duration{} }, "session.step_up_window", "positive"},
		{"step-up over idle", func(p *Profile) { p.Session.StepUpWindow = Duration{time.Hour} }, "session.step_up_window", "longer than session.idle_timeout"},
		{"zero lockout threshold", func(p *Profile) { p.Lockout.Threshold = 0 }, "lockout.threshold", "from 1 to 100"},
		{"lockout threshold over 100", func(p *Profile) { p.Lockout.Threshold = 101 }, "lockout.threshold", "NIST SP 800-63B"},
		{"zero lockout window", func(p *Profile) { p.Lockout.Window = Duration{} }, "lockout.window", "positive"},
		{"zero lock", func(p *Profile) { p.Lockout.LockDuration = Duration{} }, "lockout.lock_duration", "positive"},
		{"zero back-off base", func(p *Profile) { p.Lockout.BackoffBase = 0 }, "lockout.backoff_base", "at least 1"},
		{"lock cap under first lock", func(p *Profile) { p.Lockout.MaxLockDuration = Duration{time.Minute} }, "lockout.max_lock_duration", "shorter than lockout.lock_duration"},
		{"zero reveal grant", func(p *Profile) { p.Access.RevealGrant = Duration{} }, "access.reveal_grant", "positive"},
		{"reveal grant outlives session", func(p *Profile) { p.Access.RevealGrant = Duration{13 * time.Hour} }, "access.reveal_grant", "session.absolute_timeout"},
		{"token lifetime over a year", func(p *Profile) { p.Access.APITokenMaxLifetime = Days(366) }, "access.api_token_max_lifetime", "at most 365d"},
		{"zero retention", func(p *Profile) { p.Retention.SignInHistory = Duration{} }, "retention.sign_in_history", "positive"},
		{"negative retention", func(p *Profile) { p.Retention.AuditEvents = Duration{-1} }, "retention.audit_events", "positive"},
		// CP-5.2, CP-5.3, MTL-7.2: evidence keeps its floor.
		{"audit trail under a year", func(p *Profile) { p.Retention.AuditEvents = Duration{time.Second} }, "retention.audit_events", "at least 365d"},
		{"audit trail a day short", func(p *Profile) { p.Retention.AuditEvents = Days(364) }, "retention.audit_events", "at least 365d"},
		{"sign-in history under 180 days", func(p *Profile) { p.Retention.SignInHistory = Days(179) }, "retention.sign_in_history", "at least 180d"},
		{"security reports under a year", func(p *Profile) { p.Retention.SecurityReports = Days(30) }, "retention.security_reports", "at least 365d"},
		{"notices under a year", func(p *Profile) { p.Retention.Notices = Days(30) }, "retention.notices", "at least 365d"},
		{"inactive warning as long as period", func(p *Profile) { p.Retention.InactiveAccountWarning = p.Retention.InactiveAccounts }, "retention.inactive_account_warning", "shorter than retention.inactive_accounts"},
		{"customer deadline over 24h", func(p *Profile) { p.Incident.CustomerNotification = Duration{25 * time.Hour} }, "incident.customer_notification", "at most 24h (CP-7.1)"},
		{"customer deadline after regulator", func(p *Profile) { p.Incident.RegulatorNotification = Duration{12 * time.Hour} }, "incident.customer_notification", "longer than incident.regulator_notification"},
		{"regulator deadline over 72h", func(p *Profile) { p.Incident.RegulatorNotification = Duration{73 * time.Hour} }, "incident.regulator_notification", "GDPR Art. 33(1)"},
		// MTL-5.1.1, MTL-7.1: the laws that apply are named, known, once.
		{"no regime", func(p *Profile) { p.Incident.Regimes = []string{} }, "incident.regimes", "at least one"},
		{"unknown regime", func(p *Profile) { p.Incident.Regimes = []string{"gdpr", "ccpa"} }, "incident.regimes", `"ccpa" is not a regime`},
		{"regime twice", func(p *Profile) { p.Incident.Regimes = []string{"quebec", "gdpr", "quebec"} }, "incident.regimes", `"quebec" is listed twice`},
		{"exercises rarer than yearly", func(p *Profile) { p.Incident.ExerciseInterval = Days(400) }, "incident.exercise_interval", "MTL-5.2.2: at least once a year"},
		{"subject request over 28 days", func(p *Profile) { p.Privacy.RequestDeadline = Days(30) }, "privacy.request_deadline", "GDPR Art. 12(3)"},
		{"erasure grace past the deadline", func(p *Profile) { p.Privacy.ErasureGrace = Days(28) }, "privacy.erasure_grace", "shorter than privacy.request_deadline"},
		{"negative erasure grace", func(p *Profile) { p.Privacy.ErasureGrace = Duration{-1} }, "privacy.erasure_grace", "negative"},
		{"policy review rarer than yearly", func(p *Profile) { p.Governance.PolicyReviewInterval = Days(730) }, "governance.policy_review_interval", "CP-11.2"},
		{"zero training interval", func(p *Profile) { p.Governance.TrainingInterval = Duration{} }, "governance.training_interval", "positive"},
		{"training grace past interval", func(p *Profile) { p.Governance.TrainingGrace = Days(365) }, "governance.training_grace", "shorter than governance.training_interval"},
		{"vendor review rarer than yearly", func(p *Profile) { p.Governance.VendorReviewInterval = Days(400) }, "governance.vendor_review_interval", "at least once a year"},
		{"vendor checks rarer than weekly", func(p *Profile) { p.Governance.VendorCheckInterval = Days(8) }, "governance.vendor_check_interval", "CP-10.2"},
		{"zero contract warning", func(p *Profile) { p.Governance.ContractExpiryWarning = Duration{} }, "governance.contract_expiry_warning", "positive"},
		{"assessments rarer than yearly", func(p *Profile) { p.Governance.AssessmentInterval = Days(400) }, "governance.assessment_interval", "CP-6.2"},
		{"zero critical remediation", func(p *Profile) { p.Governance.Remediation.Critical = Duration{} }, "governance.remediation.critical", "positive"},
		{"high faster than critical", func(p *Profile) { p.Governance.Remediation.High = Days(7) }, "governance.remediation.high", "shorter than governance.remediation.critical"},
		{"low faster than medium", func(p *Profile) { p.Governance.Remediation.Low = Days(30) }, "governance.remediation.low", "shorter than governance.remediation.medium"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := Builtin(Default)
			tc.change(&p)
			err := p.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			want := tc.key + ": "
			var found bool
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, want) && strings.Contains(line, tc.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("error lacks %q with %q:\n%v", want, tc.reason, err)
			}
			if !knownKey(tc.key) {
				t.Errorf("%s is not a setting of the profile", tc.key)
			}
		})
	}
}

func knownKey(key string) bool {
	p, _ := Builtin(Default)
	for _, s := range p.Settings() {
		if s.Key == key {
			return true
		}
	}
	return false
}

func TestValidateReportsAllProblemsTogether(t *testing.T) {
	p, _ := Builtin(Default)
	p.Password.MinLength = 4
	p.Session.IdleTimeout = Duration{}
	p.Lockout.Threshold = 0
	p.Incident.RegulatorNotification = Duration{100 * time.Hour}
	err := p.Validate()
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		key, _, _ := strings.Cut(line, ": ")
		got = append(got, key)
	}
	want := []string{"password.min_length", "session.idle_timeout", "lockout.threshold", "incident.regulator_notification"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("settings reported = %q, want %q\n%v", got, want, err)
	}
	var se *SettingError
	if !errors.As(err, &se) || se.Key != "password.min_length" || se.File != "" {
		t.Errorf("first error = %#v, want a *SettingError for password.min_length", se)
	}
}

func TestValidateAcceptsBoundaries(t *testing.T) {
	p, _ := Builtin(Default)
	p.Password.MinLength = 8
	p.Password.MaxLength = 64
	p.Password.MinStrength = 0
	p.Password.ExpiryDays = 0
	p.Password.ExpiryWarningDays = 400 // no effect while expiry is off
	p.Password.Argon2 = Argon2{MemoryKiB: 8, Iterations: 1, Parallelism: 1}
	p.Session = Session{IdleTimeout: Duration{time.Hour}, AbsoluteTimeout: Duration{24 * time.Hour}, StepUpWindow: Duration{time.Hour}}
	p.Lockout.Threshold = 100
	p.Lockout.BackoffBase = 1
	p.Lockout.MaxLockDuration = p.Lockout.LockDuration
	p.Incident.CustomerNotification = Duration{24 * time.Hour}
	p.Incident.RegulatorNotification = Duration{24 * time.Hour}
	p.Privacy.ErasureGrace = Duration{}
	p.Governance.TrainingGrace = Duration{}
	p.Governance.PolicyReviewInterval = Duration{Year}
	p.Retention.AuditEvents, p.Retention.SecurityReports, p.Retention.Notices = Days(365), Days(365), Days(365)
	p.Retention.SignInHistory = Days(180)
	if err := p.Validate(); err != nil {
		t.Errorf("Validate rejected values on the bounds:\n%v", err)
	}
	if len(p.Advisories()) != 2 {
		t.Errorf("Advisories = %q, want the argon2 cost and the strength", p.Advisories())
	}
}

func TestZeroProfileIsInvalid(t *testing.T) {
	if err := (Profile{}).Validate(); err == nil {
		t.Error("the zero Profile validated")
	}
}
