// Command detecteval scores the alerts of `portico detect replay` against
// the attacks bench/detectgen injected: precision and recall per rule.
//
//	go run ./bench/detecteval --truth truth.jsonl --alerts alerts.jsonl [--slack 1h] [--json]
//
// An alert is a true positive when some attack has the same rule, the
// alert's time lies in [start, end+slack], and the alert's emails or
// addresses meet the attack's; otherwise it is a false positive. An attack
// is detected when at least one true positive matches it, however many do.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"
)

// attack is one line of truth.jsonl.
type attack struct {
	Rule   string    `json:"rule"`
	Emails []string  `json:"emails"`
	IPs    []string  `json:"ips"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// alert is the part of a replay alert line the scoring reads.
type alert struct {
	Time   time.Time `json:"time"`
	Rule   string    `json:"rule"`
	Emails []string  `json:"emails"`
	IPs    []string  `json:"ips"`
}

// ruleScore is one row of the report. Recall and precision are nil when
// there is nothing to divide by (no attacks, or no alerts).
type ruleScore struct {
	Rule          string   `json:"rule"`
	Attacks       int      `json:"attacks"`
	Detected      int      `json:"detected"`
	Recall        *float64 `json:"recall"`
	Alerts        int      `json:"alerts"`
	TruePositives int      `json:"true_positives"`
	Precision     *float64 `json:"precision"`
}

type report struct {
	Rules []ruleScore `json:"rules"`
	Total ruleScore   `json:"total"`
}

// matches reports whether alert al is evidence of attack at.
func matches(al alert, at attack, slack time.Duration) bool {
	if al.Rule != at.Rule || al.Time.Before(at.Start) || al.Time.After(at.End.Add(slack)) {
		return false
	}
	return overlap(al.Emails, at.Emails) || overlap(al.IPs, at.IPs)
}

func overlap(a, b []string) bool {
	for _, s := range a {
		if slices.Contains(b, s) {
			return true
		}
	}
	return false
}

// score matches every alert against every attack of its rule.
func score(attacks []attack, alerts []alert, slack time.Duration) report {
	rows := map[string]*ruleScore{}
	row := func(r string) *ruleScore {
		if rows[r] == nil {
			rows[r] = &ruleScore{Rule: r}
		}
		return rows[r]
	}
	byRule := map[string][]int{}
	for i, at := range attacks {
		byRule[at.Rule] = append(byRule[at.Rule], i)
		row(at.Rule).Attacks++
	}
	detected := make([]bool, len(attacks))
	for _, al := range alerts {
		s := row(al.Rule)
		s.Alerts++
		tp := false
		for _, i := range byRule[al.Rule] {
			if matches(al, attacks[i], slack) {
				tp = true
				detected[i] = true
			}
		}
		if tp {
			s.TruePositives++
		}
	}
	for i, d := range detected {
		if d {
			row(attacks[i].Rule).Detected++
		}
	}
	var rep report
	rep.Total.Rule = "total"
	for _, s := range rows {
		s.fill()
		rep.Rules = append(rep.Rules, *s)
		rep.Total.Attacks += s.Attacks
		rep.Total.Detected += s.Detected
		rep.Total.Alerts += s.Alerts
		rep.Total.TruePositives += s.TruePositives
	}
	rep.Total.fill()
	slices.SortFunc(rep.Rules, func(a, b ruleScore) int { return strings.Compare(a.Rule, b.Rule) })
	return rep
}

func (s *ruleScore) fill() {
	if s.Attacks > 0 {
		r := float64(s.Detected) / float64(s.Attacks)
		s.Recall = &r
	}
	if s.Alerts > 0 {
		p := float64(s.TruePositives) / float64(s.Alerts)
		s.Precision = &p
	}
}

func writeMarkdown(w io.Writer, rep report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "| rule | attacks | detected | recall | alerts | true positives | precision |")
	fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range append(rep.Rules, rep.Total) {
		name := s.Rule
		if name == "total" {
			name = "**total**"
		}
		fmt.Fprintf(bw, "| %s | %d | %d | %s | %d | %d | %s |\n",
			name, s.Attacks, s.Detected, ratio(s.Recall), s.Alerts, s.TruePositives, ratio(s.Precision))
	}
	return bw.Flush()
}

func ratio(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f", *p)
}

// readLines decodes a JSON Lines file into values of T, skipping blank lines.
func readLines[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

func main() {
	truthPath := flag.String("truth", "truth.jsonl", "attacks injected by bench/detectgen")
	alertsPath := flag.String("alerts", "alerts.jsonl", "alerts written by portico detect replay")
	slack := flag.Duration("slack", time.Hour, "how long after an attack's end an alert still counts")
	asJSON := flag.Bool("json", false, "print JSON instead of a Markdown table")
	flag.Parse()

	attacks, err := readLines[attack](*truthPath)
	if err != nil {
		log.Fatal(err)
	}
	alerts, err := readLines[alert](*alertsPath)
	if err != nil {
		log.Fatal(err)
	}
	rep := score(attacks, alerts, *slack)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeMarkdown(os.Stdout, rep)
	}
	if err != nil {
		log.Fatal(err)
	}
}
