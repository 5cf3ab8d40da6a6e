package detect_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/policy"
)

func profile(t *testing.T) policy.Detection {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	return p.Detection
}

// replayFixture runs a sign-in fixture through Replay and returns the
// alerts.
func replayFixture(t *testing.T, cfg policy.Detection, name string) []detect.ReplayAlert {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "signin", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if _, err := detect.Replay(f, &out, cfg, testGeo(t)); err != nil {
		t.Fatal(err)
	}
	var alerts []detect.ReplayAlert
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var a detect.ReplayAlert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, a)
	}
	return alerts
}

func rules[T any](alerts []T, rule func(T) string) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, rule(a))
	}
	return out
}

// TestSignInRulesOnFixtures (CP-8.2): each sign-in rule fires once on its
// recorded attack, on the account or network attacked, and the background
// fixtures (an office behind one address, a forgetful customer, a typo)
// raise nothing.
func TestSignInRulesOnFixtures(t *testing.T) {
	cfg := profile(t)
	for _, tc := range []struct {
		fixture string
		rule    string // "" for none
		email   string
		ip      string
	}{
		{"brute_force.jsonl", detect.RuleBruteForce, "alice@example.com", "198.51.100.7"},
		{"credential_stuffing.jsonl", detect.RuleCredentialStuffing, "victim0@example.com", "203.0.113.10"},
		{"password_spraying.jsonl", detect.RulePasswordSpraying, "staff0@example.com", "192.0.2.40"},
		{"distributed_attack.jsonl", detect.RuleDistributedAttack, "bob@example.com", "198.18.0.9"},
		{"mfa_guessing.jsonl", detect.RuleMFAGuessing, "carol@example.com", "198.51.100.99"},
		// Paris then Tokyo two hours later; another customer takes 14 hours (a flight) and is not flagged.
		{"impossible_travel.jsonl", detect.RuleImpossibleTravel, "frank@example.com", "133.242.0.1"},
		{"office_nat.jsonl", "", "", ""},
		{"forgetful.jsonl", "", "", ""},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			alerts := replayFixture(t, cfg, tc.fixture)
			got := rules(alerts, func(a detect.ReplayAlert) string { return a.Rule })
			if tc.rule == "" {
				if len(alerts) != 0 {
					t.Fatalf("background raised %v", alerts)
				}
				return
			}
			if !slices.Equal(got, []string{tc.rule}) {
				t.Fatalf("alerts %v, want one %s", got, tc.rule)
			}
			a := alerts[0]
			if !slices.Contains(a.Emails, tc.email) || !slices.Contains(a.IPs, tc.ip) || a.Severity == "" || a.Summary == "" {
				t.Fatalf("alert %+v does not name %s and %s", a, tc.email, tc.ip)
			}
		})
	}
}

// TestThresholdsComeFromTheProfile (CP-8.2): the same attack under a
// threshold raised above it raises nothing.
func TestThresholdsComeFromTheProfile(t *testing.T) {
	cfg := profile(t)
	cfg.BruteForce.Threshold = 13
	cfg.CredentialStuffing.Threshold = 41
	cfg.PasswordSpraying.Threshold = 37 // the stuffing fixture has 36 failing accounts
	cfg.DistributedAttack.Threshold = 9
	cfg.MFAGuessing.Threshold = 7
	for _, f := range []string{"brute_force.jsonl", "credential_stuffing.jsonl", "password_spraying.jsonl", "distributed_attack.jsonl", "mfa_guessing.jsonl"} {
		if alerts := replayFixture(t, cfg, f); len(alerts) != 0 {
			t.Errorf("%s raised %v above its threshold", f, alerts)
		}
	}
}

// auditFixture feeds a fixture of recorded audit events (the format of
// `portico audit export`) through FromAudit and the engine.
func auditFixture(t *testing.T, cfg policy.Detection, name string) []detect.Alert {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "audit", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := detect.NewEngine(cfg, testGeo(t))
	var out []detect.Alert
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var x audit.ExportLine
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, x.At)
		if err != nil {
			t.Fatal(err)
		}
		ev, ok := detect.FromAudit(audit.Record{Seq: x.Seq, At: at, Actor: x.Actor, Action: x.Action, Target: x.Target,
			Outcome: x.Outcome, IP: x.IP, UserAgent: x.UserAgent, Details: x.Details})
		if ok {
			out = append(out, e.Observe(ev)...)
		}
	}
	return out
}

// TestEventRulesOnFixtures (CP-8.2, CP-5.3): the rules over recorded audit
// events: session hijack, mass sign-up, an agent revealing many customers,
// a large audit export, an administrator at an hour never worked.
func TestEventRulesOnFixtures(t *testing.T) {
	cfg := profile(t)
	for _, tc := range []struct {
		fixture, rule, subject string
		evidence               int
	}{
		{"session_hijack.jsonl", detect.RuleSessionHijack, "01ACC1", 1},
		{"mass_signup.jsonl", detect.RuleMassSignup, "203.0.113.0/24", 20},
		{"insider_reveal.jsonl", detect.RuleInsiderReveal, "01AGENT", 10},
		{"audit_export.jsonl", detect.RuleAuditExport, "01AUDITOR", 1},
		{"staff_odd_hour.jsonl", detect.RuleStaffOddHour, "01ADMIN", 1},
		{"recovery_new_country.jsonl", detect.RuleRecoveryNewCountry, "01HENRY", 1},
		// "This wasn't me" on a sign-in scored high risk (CP-7.3).
		{"customer_report.jsonl", detect.RuleCustomerReport, "01CUST", 1},
		// An incident's customers' deadline passed (CP-7.1, MTL-5.1.1): the
		// half-time and near warnings (of another incident too) raise nothing.
		{"incident_overdue.jsonl", detect.RuleIncidentOverdue, "inc1", 1},
		// The response plan's exercise is overdue (MTL-5.2.2).
		{"exercise_overdue.jsonl", detect.RuleIncidentOverdue, "exercises", 1},
		// A governance duty overdue (CP-6.2, CP-10.1, CP-11.2, MTL-8.1).
		{"governance_overdue.jsonl", detect.RuleGovernanceOverdue, "finding:01FIND", 1},
		// A third party's endpoint got worse (CP-10.2); a good check raises nothing.
		{"vendor_degraded.jsonl", detect.RuleVendorDegraded, "vendor:01VEND", 1},
		// A compliance evidence check began to fail (MTL-7.2); the runs
		// around it raise nothing.
		{"compliance_failing.jsonl", detect.RuleComplianceFailing, "compliance-check:identity.customers-have-factor", 1},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			alerts := auditFixture(t, cfg, tc.fixture)
			if got := rules(alerts, func(a detect.Alert) string { return a.Rule }); !slices.Equal(got, []string{tc.rule}) {
				t.Fatalf("alerts %v, want one %s", got, tc.rule)
			}
			a := alerts[0]
			if a.Subject != tc.subject || len(a.Evidence) != tc.evidence {
				t.Fatalf("alert on %q with %d events of evidence, want %q and %d", a.Subject, len(a.Evidence), tc.subject, tc.evidence)
			}
		})
	}
}

// TestRulesReadNetworksAsTheAuditTrailRecordsThem (CP-8.2): the server's
// audit trail records a client's network ("193.51.0.0/24"), not its
// address; the rules place and count those as they do addresses.
func TestRulesReadNetworksAsTheAuditTrailRecordsThem(t *testing.T) {
	if got := detect.Network("203.0.113.0/24"); got != "203.0.113.0/24" {
		t.Errorf("Network(203.0.113.0/24) = %q", got)
	}
	if got := detect.Network("2001:db8:1::/48"); got != detect.Network("2001:db8:1::7") {
		t.Errorf("an IPv6 /48 is %q, its first address's network %q", got, detect.Network("2001:db8:1::7"))
	}
	g := testGeo(t)
	if c := g.Country("193.51.0.0/24"); c != "FR" {
		t.Errorf("country of 193.51.0.0/24 = %q, want FR", c)
	}
	e := detect.NewEngine(profile(t), g)
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	e.Observe(detect.Event{Kind: detect.SignIn, Time: at, Account: "a1", IP: "193.51.0.0/24"})
	alerts := e.Observe(detect.Event{Kind: detect.SignIn, Time: at.Add(2 * time.Hour), Account: "a1", IP: "133.242.0.0/24"})
	if len(alerts) != 1 || alerts[0].Rule != detect.RuleImpossibleTravel {
		t.Fatalf("Paris then Tokyo two hours later, as networks: %+v", alerts)
	}
}
