package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	brute = attack{
		Rule: "brute_force", Emails: []string{"user1@example.com"}, IPs: []string{"198.51.100.7"},
		Start: at("2026-11-02T10:00:00Z"), End: at("2026-11-02T10:10:00Z"),
	}
	stuffing = attack{
		Rule: "credential_stuffing", Emails: []string{"a@example.net", "b@example.net"}, IPs: []string{"192.0.2.9"},
		Start: at("2026-11-03T01:00:00Z"), End: at("2026-11-03T01:30:00Z"),
	}
)

func TestMatches(t *testing.T) {
	cases := []struct {
		name  string
		alert alert
		want  bool
	}{
		{"true positive by email", alert{Time: at("2026-11-02T10:05:00Z"), Rule: "brute_force", Emails: []string{"user1@example.com"}}, true},
		{"true positive by address alone", alert{Time: at("2026-11-02T10:05:00Z"), Rule: "brute_force", IPs: []string{"198.51.100.7"}}, true},
		{"true positive within the slack after the end", alert{Time: at("2026-11-02T11:10:00Z"), Rule: "brute_force", Emails: []string{"user1@example.com"}}, true},
		{"wrong rule", alert{Time: at("2026-11-02T10:05:00Z"), Rule: "password_spraying", Emails: []string{"user1@example.com"}}, false},
		{"before the start", alert{Time: at("2026-11-02T09:59:59Z"), Rule: "brute_force", Emails: []string{"user1@example.com"}}, false},
		{"after end plus slack", alert{Time: at("2026-11-02T11:10:01Z"), Rule: "brute_force", Emails: []string{"user1@example.com"}}, false},
		{"no overlap of emails or addresses", alert{Time: at("2026-11-02T10:05:00Z"), Rule: "brute_force", Emails: []string{"user2@example.com"}, IPs: []string{"198.51.100.8"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := matches(c.alert, brute, time.Hour); got != c.want {
				t.Errorf("matches = %v, want %v", got, c.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	alerts := []alert{
		// Two alerts for the same brute force: two true positives, one detection.
		{Time: at("2026-11-02T10:03:00Z"), Rule: "brute_force", Emails: []string{"user1@example.com"}},
		{Time: at("2026-11-02T10:09:00Z"), Rule: "brute_force", IPs: []string{"198.51.100.7"}},
		// Right addresses, wrong rule: a false positive of password_spraying.
		{Time: at("2026-11-03T01:10:00Z"), Rule: "password_spraying", IPs: []string{"192.0.2.9"}},
		// Right rule, too late: a false positive, and the attack stays undetected.
		{Time: at("2026-11-03T03:00:00Z"), Rule: "credential_stuffing", IPs: []string{"192.0.2.9"}},
	}
	rep := score([]attack{brute, stuffing}, alerts, time.Hour)
	rows := map[string]ruleScore{}
	for _, r := range rep.Rules {
		rows[r.Rule] = r
	}
	check := func(name string, got ruleScore, attacks, detected, alerts, tp int) {
		t.Helper()
		if got.Attacks != attacks || got.Detected != detected || got.Alerts != alerts || got.TruePositives != tp {
			t.Errorf("%s: attacks %d detected %d alerts %d true positives %d, want %d %d %d %d",
				name, got.Attacks, got.Detected, got.Alerts, got.TruePositives, attacks, detected, alerts, tp)
		}
	}
	check("brute_force", rows["brute_force"], 1, 1, 2, 2)
	check("credential_stuffing", rows["credential_stuffing"], 1, 0, 1, 0)
	check("password_spraying", rows["password_spraying"], 0, 0, 1, 0)
	check("total", rep.Total, 2, 1, 4, 2)
	if rows["password_spraying"].Recall != nil {
		t.Error("recall of a rule with no attacks should be undefined")
	}
	if p := *rep.Total.Precision; p != 0.5 {
		t.Errorf("total precision = %v, want 0.5", p)
	}

	var buf bytes.Buffer
	if err := writeMarkdown(&buf, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| brute_force | 1 | 1 | 1.000 | 2 | 2 | 1.000 |", "| password_spraying | 0 | 0 | – | 1 | 0 | 0.000 |", "| **total** | 2 | 1 | 0.500 | 4 | 2 | 0.500 |"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
