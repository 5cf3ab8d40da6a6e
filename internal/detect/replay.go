package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portico/portico/internal/policy"
)

// Attempt is one line of a replay's input: a sign-in attempt.
type Attempt struct {
	Time      time.Time `json:"time"`
	IP        string    `json:"ip"`
	Email     string    `json:"email"`
	Outcome   string    `json:"outcome"`          // "success" or "failure"
	Reason    string    `json:"reason,omitempty"` // bad_password, unknown_account, bad_second_factor, locked
	UserAgent string    `json:"user_agent,omitempty"`
}

// ReplayAlert is one line of a replay's output.
type ReplayAlert struct {
	Time      time.Time `json:"time"`
	Rule      string    `json:"rule"`
	Severity  string    `json:"severity"`
	Emails    []string  `json:"emails"`
	IPs       []string  `json:"ips"`
	Networks  []string  `json:"networks"`
	Summary   string    `json:"summary"`
	Responses []string  `json:"responses"`
}

// ReplayStats says what a replay read and raised.
type ReplayStats struct {
	Lines  int
	Alerts int
	ByRule map[string]int
}

// event turns an attempt into the event the server would have recorded.
func (a Attempt) event() (Event, error) {
	ev := Event{Time: a.Time, IP: a.IP, UserAgent: a.UserAgent, Account: strings.ToLower(strings.TrimSpace(a.Email))}
	switch a.Outcome {
	case "success":
		ev.Kind = SignIn
	case "failure":
		ev.Kind = SignInFailure
		switch a.Reason {
		case "", ReasonBadPassword:
			ev.Reason = ReasonBadPassword
		case ReasonUnknownAccount, ReasonBadSecondFactor, ReasonLocked:
			ev.Reason = a.Reason
		default:
			return ev, fmt.Errorf("reason %q is not bad_password, unknown_account, bad_second_factor or locked", a.Reason)
		}
	default:
		return ev, fmt.Errorf(`outcome %q is not "success" or "failure"`, a.Outcome)
	}
	if a.Time.IsZero() {
		return ev, fmt.Errorf("time is missing (RFC 3339, e.g. 2026-11-02T10:00:00Z)")
	}
	if ev.Account == "" {
		return ev, fmt.Errorf("email is missing")
	}
	return ev, nil
}

// Replay runs the rules of cfg over the sign-in attempts in in (JSON
// Lines, in time order) and writes the alerts they raise to out (JSON
// Lines). It runs the same Engine as the server. A line that does not
// parse stops the replay with its line number.
func Replay(in io.Reader, out io.Writer, cfg policy.Detection, geo Geo) (ReplayStats, error) {
	st := ReplayStats{ByRule: map[string]int{}}
	e := NewEngine(cfg, geo)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	w := bufio.NewWriterSize(out, 64*1024)
	enc := json.NewEncoder(w)
	var last time.Time
	for sc.Scan() {
		st.Lines++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var a Attempt
		if err := json.Unmarshal(line, &a); err != nil {
			return st, fmt.Errorf("line %d: %v", st.Lines, err)
		}
		ev, err := a.event()
		if err != nil {
			return st, fmt.Errorf("line %d: %v", st.Lines, err)
		}
		if ev.Time.Before(last) {
			return st, fmt.Errorf("line %d: time %s is before the line above (%s): sort the log by time first",
				st.Lines, ev.Time.Format(time.RFC3339), last.Format(time.RFC3339))
		}
		last = ev.Time
		for _, al := range e.Observe(ev) {
			st.Alerts++
			st.ByRule[al.Rule]++
			if err := enc.Encode(ReplayAlert{Time: al.Time, Rule: al.Rule, Severity: al.Severity,
				Emails: orEmpty(al.Accounts), IPs: orEmpty(al.IPs), Networks: orEmpty(al.Networks),
				Summary: al.Summary, Responses: orEmpty(al.Responses)}); err != nil {
				return st, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("line %d: %v", st.Lines+1, err)
	}
	return st, w.Flush()
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
