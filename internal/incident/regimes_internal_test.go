package incident

import (
	"slices"
	"testing"

	"github.com/portico/portico/internal/policy"
)

// TestRegimeDefinitions (MTL-5.1.1, MTL-7.1): the regimes defined here
// are exactly the codes the profile may name, each complete, and every
// register column and report item names a field the register has.
func TestRegimeDefinitions(t *testing.T) {
	var codes []string
	for _, r := range Regimes() {
		codes = append(codes, r.Code)
		if r.Name == "" || r.Authority == "" || r.AuthorityWhen == "" || r.PeopleWhen == "" || r.Deadline == "" || r.Keep == "" ||
			r.authorityDue == nil || r.peopleDue == nil || r.keepFrom == nil || len(r.Report) == 0 || len(r.Register) == 0 || len(r.Sources) == 0 {
			t.Errorf("%s: incomplete definition", r.Code)
		}
		seen := map[string]bool{}
		for _, c := range r.Register {
			if _, ok := registerFields[c.Field]; !ok {
				t.Errorf("%s: column %s shows no register field %q", r.Code, c.Name, c.Field)
			}
			if seen[c.Name] {
				t.Errorf("%s: column %s twice", r.Code, c.Name)
			}
			seen[c.Name] = true
		}
		if !seen["incident_id"] {
			t.Errorf("%s: the register does not name the incident", r.Code)
		}
		for _, c := range r.Report {
			if _, ok := registerFields[c.Field]; c.Field != "" && !ok {
				t.Errorf("%s: report item %s reads no register field %q", r.Code, c.Code, c.Field)
			}
			if c.Source == "" || c.Text == "" {
				t.Errorf("%s: report item %s without its text or source", r.Code, c.Code)
			}
		}
	}
	if !slices.Equal(codes, policy.KnownRegimes()) {
		t.Errorf("incident defines %q, policy knows %q", codes, policy.KnownRegimes())
	}
}
