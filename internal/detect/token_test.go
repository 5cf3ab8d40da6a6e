package detect_test

import (
	"slices"
	"testing"

	"github.com/portico/portico/internal/detect"
)

// TestTokenNewNetworkOnFixture (CP-8.2): a recorded trail in which an API
// token (made from the office) is used from a network new to it raises one
// token_new_network alert on the token, naming its holder, the network and
// the event; a second new network the same day is grouped into it.
func TestTokenNewNetworkOnFixture(t *testing.T) {
	alerts := auditFixture(t, profile(t), "token_new_network.jsonl")
	if got := rules(alerts, func(a detect.Alert) string { return a.Rule }); !slices.Equal(got, []string{detect.RuleTokenNewNetwork}) {
		t.Fatalf("alerts %v, want one %s", got, detect.RuleTokenNewNetwork)
	}
	a := alerts[0]
	if a.SubjectKind != detect.SubjectToken || a.Subject != "tk7q2xw3mzd4nq5hk6a2bcdefg" || a.Severity != detect.SeverityMedium ||
		!slices.Equal(a.Accounts, []string{"01STAFF"}) || !slices.Equal(a.Networks, []string{"198.51.100.0/24"}) ||
		!slices.Equal(a.Evidence, []int64{101}) || a.Summary == "" {
		t.Fatalf("alert %+v", a)
	}
}
