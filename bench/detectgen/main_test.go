package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// attempt is the replay input format, strictly: an unknown field fails.
type attempt struct {
	Time      string `json:"time"`
	IP        string `json:"ip"`
	Email     string `json:"email"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason"`
	UserAgent string `json:"user_agent"`
	Label     string `json:"label"`

	at time.Time
}

var smallRun = config{lines: 20_000, seed: 3, attacks: 12, start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), days: 5}

func generateRun(t *testing.T, cfg config) (traffic, truth []byte) {
	t.Helper()
	var tb, rb bytes.Buffer
	if err := generate(cfg, &tb, &rb); err != nil {
		t.Fatal(err)
	}
	return tb.Bytes(), rb.Bytes()
}

func parse(t *testing.T, traffic, truth []byte) ([]attempt, []truthRecord) {
	t.Helper()
	var attempts []attempt
	sc := bufio.NewScanner(bytes.NewReader(traffic))
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var a attempt
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Bytes())
		}
		if err := valid(&a); err != "" {
			t.Fatalf("line %d: %s: %s", n, err, sc.Bytes())
		}
		attempts = append(attempts, a)
	}
	var records []truthRecord
	sc = bufio.NewScanner(bytes.NewReader(truth))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r truthRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("truth: %v", err)
		}
		records = append(records, r)
	}
	return attempts, records
}

// valid checks one attempt against the input format of detect replay.
func valid(a *attempt) string {
	var err error
	if a.at, err = time.Parse(time.RFC3339, a.Time); err != nil {
		return "time: " + err.Error()
	}
	if ip := net.ParseIP(a.IP); ip == nil || ip.To4() == nil {
		return "ip is not IPv4"
	} else if c := countryOf(a.IP); len(c) != 2 || c == "ZZ" {
		return "ip has no country"
	}
	local, domain, ok := strings.Cut(a.Email, "@")
	if !ok || local == "" || !slices.Contains([]string{"example.com", "example.net", "example.org"}, domain) {
		return "email is not under an example domain"
	}
	switch a.Outcome {
	case "success":
		if a.Reason != "" {
			return "reason on a success"
		}
	case "failure":
		if !slices.Contains([]string{"bad_password", "unknown_account", "bad_second_factor", "locked"}, a.Reason) {
			return "unknown reason " + a.Reason
		}
	default:
		return "unknown outcome " + a.Outcome
	}
	if a.Label != "" && !slices.Contains(ruleNames[1:], a.Label) {
		return "unknown label " + a.Label
	}
	return ""
}

func TestGenerate(t *testing.T) {
	traffic, truth := generateRun(t, smallRun)
	attempts, records := parse(t, traffic, truth)

	t.Run("is deterministic for a seed", func(t *testing.T) {
		again, againTruth := generateRun(t, smallRun)
		if !bytes.Equal(traffic, again) || !bytes.Equal(truth, againTruth) {
			t.Error("two runs with the same seed differ")
		}
		other := smallRun
		other.seed++
		if o, _ := generateRun(t, other); bytes.Equal(traffic, o) {
			t.Error("another seed wrote the same traffic")
		}
	})

	t.Run("writes the lines asked for, sorted by time, inside the period", func(t *testing.T) {
		if len(attempts) != smallRun.lines {
			t.Errorf("%d lines, want %d", len(attempts), smallRun.lines)
		}
		end := smallRun.start.AddDate(0, 0, smallRun.days)
		for i, a := range attempts {
			if i > 0 && a.at.Before(attempts[i-1].at) {
				t.Fatalf("line %d (%s) is before line %d (%s)", i+1, a.Time, i, attempts[i-1].Time)
			}
			if a.at.Before(smallRun.start) || !a.at.Before(end) {
				t.Fatalf("line %d at %s is outside the period", i+1, a.Time)
			}
		}
	})

	t.Run("labels every attack's lines with its rule", func(t *testing.T) {
		if len(records) != smallRun.attacks {
			t.Fatalf("%d attacks in truth, want %d", len(records), smallRun.attacks)
		}
		perRule := map[string]int{}
		for _, r := range records {
			perRule[r.Rule]++
			n := 0
			for _, a := range attempts {
				if a.Label == r.Rule && slices.Contains(r.Emails, a.Email) && slices.Contains(r.IPs, a.IP) &&
					!a.at.Before(r.Start) && !a.at.After(r.End) {
					n++
				}
			}
			if n == 0 {
				t.Errorf("no line labelled %s for attack %+v", r.Rule, r)
			}
		}
		for _, name := range ruleNames[1:] {
			if perRule[name] != smallRun.attacks/6 {
				t.Errorf("%d %s attacks, want %d", perRule[name], name, smallRun.attacks/6)
			}
		}
	})

	t.Run("impossible travel joins two far countries too fast", func(t *testing.T) {
		for _, r := range records {
			if r.Rule != "impossible_travel" {
				continue
			}
			if len(r.IPs) != 2 {
				t.Fatalf("impossible travel with addresses %v", r.IPs)
			}
			a, b := countryOf(r.IPs[0]), countryOf(r.IPs[1])
			if a == b || a == "" || b == "" {
				t.Fatalf("%v map to %q and %q", r.IPs, a, b)
			}
			km := distanceKm(countryIndex(t, a), countryIndex(t, b))
			if hours := r.End.Sub(r.Start).Hours(); km < 7000 || km/hours < 2000 {
				t.Errorf("%s→%s: %.0f km in %.1f h is not impossible", a, b, km, hours)
			}
			// The victim's own sign-ins must not make a second impossible
			// journey just after the window.
			back := r.End.Add(time.Duration(km / 900 * float64(time.Hour)))
			for _, at := range attempts {
				if at.Label == "" && at.Email == r.Emails[0] && at.at.After(r.End) && at.at.Before(back) {
					t.Errorf("%s signs in from %s at %s, %s after the foreign sign-in", at.Email, countryOf(at.IP), at.Time, at.at.Sub(r.End))
				}
			}
		}
	})

	t.Run("background travellers never outrun an airliner", func(t *testing.T) {
		type seen struct {
			at      time.Time
			country string
		}
		last := map[string]seen{}
		for _, a := range attempts {
			if a.Label != "" {
				continue
			}
			c := countryOf(a.IP)
			if p, ok := last[a.Email]; ok && p.country != c {
				km := distanceKm(countryIndex(t, p.country), countryIndex(t, c))
				if h := a.at.Sub(p.at).Hours(); km > 1000*h {
					t.Errorf("%s: %s→%s, %.0f km in %.1f h", a.Email, p.country, c, km, h)
				}
			}
			last[a.Email] = seen{a.at, c}
		}
	})
}

func countryIndex(t *testing.T, code string) int {
	t.Helper()
	for i, c := range countries {
		if c.code == code {
			return i
		}
	}
	t.Fatalf("country %q is not in the table", code)
	return -1
}
