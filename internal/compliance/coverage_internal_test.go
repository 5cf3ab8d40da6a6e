package compliance

import (
	"strings"
	"testing"
)

// TestPartialCoverageIsNeverEnforced (MTL-7.2): a clause whose controls do
// not cover every part of its requirement is partial whatever its
// evidence, with the gap named first; failing evidence still makes it
// failing.
func TestPartialCoverageIsNeverEnforced(t *testing.T) {
	const id = "CP-4.1"
	was, wasGap := complete[id], gaps[id]
	complete[id], gaps[id] = false, "the test's missing part"
	defer func() { complete[id], gaps[id] = was, wasGap }()

	pass := map[string]Result{"c": {Status: Pass, Summary: "holds"}}
	st, reasons := ClauseStatus(id, 1, []string{"c"}, pass)
	if st != Partial || len(reasons) != 1 || !strings.Contains(reasons[0], "the test's missing part") {
		t.Fatalf("partial clause with passing evidence: %s %v", st, reasons)
	}
	fail := map[string]Result{"c": {Status: Fail, Summary: "broken"}}
	if st, reasons := ClauseStatus(id, 1, []string{"c"}, fail); st != Failing || !strings.Contains(reasons[0], "broken") {
		t.Fatalf("partial clause with failing evidence: %s %v", st, reasons)
	}
	complete[id] = true
	if st, reasons := ClauseStatus(id, 1, []string{"c"}, pass); st != Enforced || len(reasons) != 0 {
		t.Fatalf("complete clause with passing evidence: %s %v", st, reasons)
	}
	if st, _ := ClauseStatus(id, 0, []string{"c"}, pass); st != NotYet {
		t.Fatalf("clause without a control: %s", st)
	}
}
