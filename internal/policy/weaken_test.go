package policy

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestWeakens covers CP-4.2, CP-5.2 and MTL-7.2: each kind of loosening is
// recognised (so the web layer files it for a second administrator), a
// tightening is not, and every setting is classified one way or the other.
func TestWeakens(t *testing.T) {
	base, _ := Builtin(Default)
	for _, tc := range []struct {
		name   string
		change func(*Profile)
		want   []string // keys reported as weakened; nil for none
	}{
		{"a shorter audit retention", func(p *Profile) { p.Retention.AuditEvents = Days(400) }, []string{"retention.audit_events"}},
		{"a shorter ticket retention", func(p *Profile) { p.Retention.ClosedTickets = Days(400) }, []string{"retention.closed_tickets"}},
		{"MFA only encouraged", func(p *Profile) { p.MFA.Mode = MFAEncouraged; p.Password.MinLength = 15 }, []string{"mfa.mode"}},
		{"a higher lockout threshold", func(p *Profile) { p.Lockout.Threshold = 50 }, []string{"lockout.threshold"}},
		{"a shorter lock", func(p *Profile) { p.Lockout.LockDuration = Duration{time.Minute} }, []string{"lockout.lock_duration"}},
		{"shorter passwords", func(p *Profile) { p.Password.MinLength = 8 }, []string{"password.min_length"}},
		{"expiry off", func(p *Profile) { p.Password.ExpiryDays = 0 }, []string{"password.expiry_days"}},
		{"cheaper hashing", func(p *Profile) { p.Password.Argon2.MemoryKiB = 8192 }, []string{"password.argon2.memory_kib"}},
		{"a longer idle timeout", func(p *Profile) { p.Session.IdleTimeout = Duration{time.Hour} }, []string{"session.idle_timeout"}},
		{"a longer step-up window", func(p *Profile) { p.Session.StepUpWindow = Duration{10 * time.Minute} }, []string{"session.step_up_window"}},
		{"a blocked network let in", func(p *Profile) { p.Access.BlockedNetworks = nil }, []string{"access.blocked_networks"}},
		{"a regime dropped", func(p *Profile) { p.Incident.Regimes = []string{RegimeQuebec} }, []string{"incident.regimes"}},
		{"more sign-ins per address", func(p *Profile) { p.RateLimit.LoginPerIP *= 2; p.RateLimit.LoginPerNetwork *= 2 }, []string{"rate_limit.login_per_ip", "rate_limit.login_per_network"}},
		// Tightening, or neutral, needs nobody's approval.
		{"a longer audit retention", func(p *Profile) { p.Retention.AuditEvents = Days(3650) }, nil},
		{"longer passwords", func(p *Profile) { p.Password.MinLength = 16 }, nil},
		{"a shorter step-up window", func(p *Profile) { p.Session.StepUpWindow = Duration{2 * time.Minute} }, nil},
		{"expiry sooner", func(p *Profile) { p.Password.ExpiryDays = 60 }, nil},
		{"a network blocked", func(p *Profile) { p.Access.BlockedNetworks = append(p.Access.BlockedNetworks, "203.0.113.0/24") }, nil},
		{"a regime added", func(p *Profile) { p.Incident.Regimes = []string{RegimeGDPR, RegimeQuebec} }, nil},
		{"more recovery codes", func(p *Profile) { p.MFA.RecoveryCodes = 12 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := base
			cur.Access.BlockedNetworks = []string{"198.51.100.0/24"}
			next := cur
			next.Access.BlockedNetworks = slices.Clone(cur.Access.BlockedNetworks)
			tc.change(&next)
			if got := Weakens(cur, next); !slices.Equal(got, tc.want) {
				t.Errorf("Weakens = %q, want %q", got, tc.want)
			}
		})
	}

	// Every setting is either tagged with the direction that weakens it
	// or listed here as never weakening: a new setting must be classified.
	neutral := []string{"name", "mfa.recovery_codes", "password.expiry_warning_days", "password.argon2.parallelism", "privacy.erasure_grace"}
	for _, f := range fields(reflect.ValueOf(base), "") {
		if (f.weak == "") != slices.Contains(neutral, f.key()) {
			t.Errorf("%s: weak tag %q; every setting but %q needs one", f.key(), f.weak, neutral)
		}
	}
}

// TestWeakening: the same verdicts from the changes of an edit, as the
// record step of EditRecorded sees them.
func TestWeakening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.toml")
	var got []string
	_, _, err := EditRecorded(path, Default, map[string]string{"retention.audit_events": "400d", "password.min_length": "14", "session.step_up_window": "3m"},
		func(c []Change) error { got = Weakening(c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"retention.audit_events"}) {
		t.Errorf("Weakening = %q", got)
	}
	_, _, err = EditRecorded(path, Default, map[string]string{"retention.audit_events": "500d", "session.step_up_window": "4m"},
		func(c []Change) error { got = Weakening(c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"session.step_up_window"}) {
		t.Errorf("Weakening = %q", got)
	}
}
