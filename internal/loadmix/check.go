package loadmix

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
)

// Check compares what clients were told succeeded with what the database
// holds, for one kind of write.
type Check struct {
	What string
	// Told is the number of successes clients saw; Stored what the
	// database holds of them; Sent what clients attempted (the most the
	// database may hold).
	Told, Stored, Sent int64
	// Missing names the acknowledged writes the database lacks (replies:
	// "ticket token"); Extra those it holds but no client sent, or holds
	// twice.
	Missing, Extra []string
}

// OK reports whether every acknowledged write is stored, and nothing
// more than was sent.
func (c Check) OK() bool {
	return len(c.Missing) == 0 && len(c.Extra) == 0 && c.Stored >= c.Told && c.Stored <= c.Sent
}

func (c Check) String() string {
	s := fmt.Sprintf("%s: told %d, stored %d, sent %d", c.What, c.Told, c.Stored, c.Sent)
	if len(c.Missing) > 0 {
		s += fmt.Sprintf(", %d acknowledged but missing (first: %s)", len(c.Missing), c.Missing[0])
	}
	if len(c.Extra) > 0 {
		s += fmt.Sprintf(", %d stored but never sent or stored twice (first: %s)", len(c.Extra), c.Extra[0])
	}
	return s
}

// Report is the outcome of CheckCommitted.
type Report struct{ Checks []Check }

// Err is nil when every check passed, and otherwise names each failure.
func (r Report) Err() error {
	var errs []error
	for _, c := range r.Checks {
		if !c.OK() {
			errs = append(errs, errors.New(c.String()))
		}
	}
	return errors.Join(errs...)
}

func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s\n", c)
	}
	return b.String()
}

// CheckCommitted reads back, through the product's services, what the
// clients of run res were told succeeded:
//
//   - replies: every reply answered 303 must be in its ticket, found by its
//     token in the decrypted message bodies (support.Get), once; a token
//     found must have been sent;
//   - sign-ins: the successful TOTP sign-ins recorded since the run began,
//     for the population's accounts, must number at least the 303 answers
//     to POST /login/mfa (sign-in and export flows) and at most the flows
//     begun;
//   - exports: the export requests and completed downloads recorded since
//     the run began must number at least the 200 answers to them.
//
// Enforces MTL-1.1 (integrity, availability): what a client was told is
// saved is in the database, whatever failed meanwhile (a node killed, the
// database restarted). Run it after the run, against the installation's
// database.
func (t *Target) CheckCommitted(ctx context.Context, pop *Population, res Result) (Report, error) {
	var rep Report
	if k := res.Kind(KindReplies); k != nil {
		c, err := t.checkReplies(ctx, pop, res)
		if err != nil {
			return rep, err
		}
		rep.Checks = append(rep.Checks, c)
	}
	signin, exports := res.Kind(KindSignIn), res.Kind(KindExports)
	if signin != nil || exports != nil {
		c := Check{What: "sign-ins"}
		for _, k := range []*KindResult{signin, exports} {
			if k != nil {
				c.Told += k.Counts["mfa.303"]
				c.Sent += k.Attempted
			}
		}
		var err error
		c.Stored, err = t.countSince(ctx, pop.Customers,
			`SELECT account_id, COUNT(*) FROM sign_in_events WHERE outcome = 'success' AND method = 'totp' AND at >= $1 GROUP BY account_id`, res.Start)
		if err != nil {
			return rep, err
		}
		rep.Checks = append(rep.Checks, c)
	}
	if exports != nil {
		for _, q := range []struct{ what, step, query string }{
			{"export requests", "export.200", `SELECT account_id, COUNT(*) FROM privacy_requests WHERE kind = 'export' AND created_at >= $1 GROUP BY account_id`},
			{"export downloads", "download.200", `SELECT account_id, COUNT(*) FROM privacy_requests WHERE kind = 'export' AND status = 'done' AND completed_at >= $1 GROUP BY account_id`},
		} {
			c := Check{What: q.what, Told: exports.Counts[q.step], Sent: exports.Attempted}
			var err error
			if c.Stored, err = t.countSince(ctx, pop.Exporters, q.query, res.Start); err != nil {
				return rep, err
			}
			rep.Checks = append(rep.Checks, c)
		}
	}
	return rep, nil
}

// countSince runs a per-account count from since and sums it over the
// given customers (other accounts of the installation do not count).
func (t *Target) countSince(ctx context.Context, customers []Customer, query string, since time.Time) (int64, error) {
	ours := make(map[string]bool, len(customers))
	for _, c := range customers {
		ours[c.ID] = true
	}
	rows, err := t.Storage.DB.QueryContext(ctx, query, since)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return 0, err
		}
		if ours[id] {
			total += n
		}
	}
	return total, rows.Err()
}

// checkReplies decrypts the reply tickets' messages and looks for the run's
// tokens in them.
func (t *Target) checkReplies(ctx context.Context, pop *Population, res Result) (Check, error) {
	c := Check{What: "replies", Told: int64(len(res.Acked)), Sent: int64(len(res.Sent))}
	tokenRe := regexp.MustCompile(regexp.QuoteMeta(res.RunID) + `-[0-9]+-[0-9]+`)
	stored := map[Reply]int{}
	for _, s := range pop.Replies {
		tk, err := t.Support.Get(ctx, access.Principal{AccountID: s.AccountID, Role: access.RoleCustomer}, s.TicketID)
		if err != nil {
			return c, fmt.Errorf("loadmix: ticket %s: %w", s.TicketID, err)
		}
		for _, m := range tk.Messages {
			for _, tok := range tokenRe.FindAllString(m.Body, -1) {
				stored[Reply{TicketID: s.TicketID, Token: tok}]++
				c.Stored++
			}
		}
	}
	sent := make(map[Reply]bool, len(res.Sent))
	for _, r := range res.Sent {
		sent[r] = true
	}
	for _, r := range res.Acked {
		if stored[r] == 0 {
			c.Missing = append(c.Missing, r.TicketID+" "+r.Token)
		}
	}
	for r, n := range stored {
		if n > 1 || !sent[r] {
			c.Extra = append(c.Extra, fmt.Sprintf("%s %s (%d times)", r.TicketID, r.Token, n))
		}
	}
	return c, nil
}
