package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"time"
)

// outcome is an attempt's outcome and, for failures, its reason.
type outcome uint8

const (
	success outcome = iota
	badPassword
	unknownAccount
	badSecondFactor
	locked
)

var outcomeJSON = [...]string{
	success:         `","outcome":"success"`,
	badPassword:     `","outcome":"failure","reason":"bad_password"`,
	unknownAccount:  `","outcome":"failure","reason":"unknown_account"`,
	badSecondFactor: `","outcome":"failure","reason":"bad_second_factor"`,
	locked:          `","outcome":"failure","reason":"locked"`,
}

// rule is the label of an attack line; 0 is background.
type rule uint8

const (
	background rule = iota
	bruteForce
	credentialStuffing
	passwordSpraying
	distributedAttack
	impossibleTravel
	mfaGuessing
)

var ruleNames = [...]string{
	bruteForce:         "brute_force",
	credentialStuffing: "credential_stuffing",
	passwordSpraying:   "password_spraying",
	distributedAttack:  "distributed_attack",
	impossibleTravel:   "impossible_travel",
	mfaGuessing:        "mfa_guessing",
}

// event is one sign-in attempt, kept small: a million of them are sorted.
type event struct {
	at    int64  // Unix milliseconds
	seq   uint32 // creation order: breaks ties, so output is deterministic
	ip    uint32
	email uint32 // index into generator.emails
	ua    uint16 // index into userAgents; 0 writes no user_agent
	kind  outcome
	label rule
}

// userAgents[0] is "none". Browsers first, then the tools attackers use.
var userAgents = []string{
	"",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:144.0) Gecko/20100101 Firefox/144.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 26_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0",
	"python-requests/2.32.5",
	"curl/8.16.0",
	"Go-http-client/1.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36",
}

const (
	browserUAs = 10 // userAgents[1:11] are browsers
	firstTool  = 11
)

// uaJSON holds userAgents already encoded as JSON strings.
var uaJSON = func() []string {
	out := make([]string, len(userAgents))
	for i, ua := range userAgents {
		b, _ := json.Marshal(ua)
		out[i] = string(b)
	}
	return out
}()

// writeTraffic sorts the events by time and writes them as JSON Lines.
func writeTraffic(w io.Writer, events []event, emails []string) error {
	slices.SortFunc(events, func(a, b event) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	bw := bufio.NewWriterSize(w, 1<<20)
	line := make([]byte, 0, 512)
	var lastSec int64 = -1
	var stamp []byte
	for i := range events {
		e := &events[i]
		if sec := e.at / 1000; sec != lastSec {
			lastSec = sec
			stamp = time.Unix(sec, 0).UTC().AppendFormat(stamp[:0], time.RFC3339)
		}
		line = append(line[:0], `{"time":"`...)
		line = append(line, stamp...)
		line = append(line, `","ip":"`...)
		line = appendIP(line, e.ip)
		line = append(line, `","email":"`...)
		line = append(line, emails[e.email]...)
		line = append(line, outcomeJSON[e.kind]...)
		if e.ua != 0 {
			line = append(line, `,"user_agent":`...)
			line = append(line, uaJSON[e.ua]...)
		}
		if e.label != background {
			line = append(line, `,"label":"`...)
			line = append(line, ruleNames[e.label]...)
			line = append(line, '"')
		}
		line = append(line, "}\n"...)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// truthRecord is one injected attack, as the evaluator reads it.
type truthRecord struct {
	Rule   string    `json:"rule"`
	Emails []string  `json:"emails"`
	IPs    []string  `json:"ips"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

func writeTruth(w io.Writer, truth []truthRecord) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, t := range truth {
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	return bw.Flush()
}
