package incident

// Phases of an incident, in order.
const (
	PhaseDetected   = "detected"
	PhaseTriaged    = "triaged"
	PhaseContained  = "contained"
	PhaseEradicated = "eradicated"
	PhaseRecovered  = "recovered"
	PhaseClosed     = "closed"
)

// Phases lists the phases in order.
var Phases = []string{PhaseDetected, PhaseTriaged, PhaseContained, PhaseEradicated, PhaseRecovered, PhaseClosed}

// Plan is a version of the incident response plan: the checklist that
// must be done in each phase before the incident moves on.
type Plan struct {
	// Version is what an incident records (incidents.plan_version): the
	// approved document's number in decimal, or BuiltinPlan's name.
	Version string
	// Checklists are each phase's items, keyed by phase; an item is a
	// short stable code and the words shown for it.
	Checklists map[string][]Item
}

// Item is one checklist item.
type Item struct {
	Code, Text string
}

// BuiltinPlan is the response plan a new installation follows until a
// version of the plan document is approved (plandoc.go); its Markdown,
// BuiltinPlanMarkdown, is what the first version starts from. It follows
// NIST SP 800-61's phases.
var BuiltinPlan = Plan{Version: "builtin-1", Checklists: map[string][]Item{
	PhaseDetected: {
		{"scope", "Say what was seen, when, and by which alert, report or person"},
		{"owner", "Name the incident's owner in the security team"},
	},
	PhaseTriaged: {
		{"severity", "Set the severity and the category"},
		{"affected", "Find the affected customers from the portal's records"},
		{"breach-decision", "Decide whether personal data is affected and how great the risk is, with the reasoning"},
	},
	PhaseContained: {
		{"contain", "Stop the harm: end sessions, revoke tokens, lock or force password changes on the affected accounts"},
		{"evidence", "Keep the evidence: export the audit trail of the period"},
	},
	PhaseEradicated: {
		{"cause", "Remove the cause: the weakness, the stolen credential, the malicious access"},
	},
	PhaseRecovered: {
		{"restore", "Restore normal service and watch for the attack's return"},
		{"notify", "Tell the affected customers and, when required, the regulator"},
	},
}}

// Next is the phase after p ("" after closed).
func Next(p string) string {
	for i, x := range Phases {
		if x == p && i+1 < len(Phases) {
			return Phases[i+1]
		}
	}
	return ""
}
