package detect

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/livefeed"
)

// feedActions are the audit actions the live feed shows (by prefix).
var feedActions = []string{
	"login.", "account.lock", "account.unlock", "account.disable", "account.role", "account.sessions.", "risk.",
	"report.", "alert.", "detect.", "mfa.", "password.", "token.", "customer.reveal", "audit.export", "policy.",
	"keys.", "approval.", "account.signup",
}

// feed publishes a batch's security events and alerts to the live feed
// inside the batch's transaction: on PostgreSQL every node's viewers get
// them at commit (NOTIFY), on SQLite this process's do.
//
// Enforces CP-8.1: the security team sees security events and alerts as
// they happen, from every node.
func (s *Service) feed(ctx context.Context, tx *db.Tx, recs []audit.Record, alerts []Record) error {
	if s.d.Feed == nil {
		return nil
	}
	for _, r := range recs {
		if !feedShows(r.Action) {
			continue
		}
		if err := s.d.Feed.Publish(ctx, tx, livefeed.Event{ID: "e" + strconv.FormatInt(r.Seq, 10), At: r.At, Kind: livefeed.KindEvent,
			Action: r.Action, Outcome: r.Outcome, Summary: feedSummary(r)}); err != nil {
			return err
		}
	}
	for _, a := range alerts {
		if err := s.d.Feed.Publish(ctx, tx, livefeed.Event{ID: "a" + a.ID + "-" + strconv.Itoa(a.Occurrences), At: a.LastAt,
			Kind: livefeed.KindAlert, Action: a.Rule, Outcome: a.State, Severity: a.Severity, Summary: a.Summary}); err != nil {
			return err
		}
	}
	return nil
}

func feedShows(action string) bool {
	for _, p := range feedActions {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// feedSummary says an event in a few words, from codes only: the kind of
// target and the reason, never an address or a name.
func feedSummary(r audit.Record) string {
	kind, _, _ := strings.Cut(r.Target, ":")
	if r.Target == "account:unknown" {
		kind = "unknown address"
	}
	var d struct {
		Reason string `json:"reason"`
		Rule   string `json:"rule"`
		Action string `json:"action"`
	}
	_ = json.Unmarshal(r.Details, &d)
	out := kind
	for _, v := range []string{d.Reason, d.Rule, d.Action} {
		if v != "" {
			out += ", " + v
		}
	}
	return out
}
