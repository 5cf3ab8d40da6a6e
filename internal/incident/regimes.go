package incident

import (
	"strings"
	"time"

	"github.com/portico/portico/internal/policy"
)

// Regime is one data-protection law's rules for a breach of personal data:
// who is told and when, what the report to the authority holds, and what
// the register keeps and for how long. The profile's incident.regimes names
// the regimes that apply to the operator (MTL-5.1.1: reports "as required
// by applicable laws"; MTL-7.1).
//
// The wording is Portico's summary of the provisions each field cites, not
// the law's text, and not legal advice: the decision that a breach is one,
// and how great the risk is, stays with people (Decide).
type Regime struct {
	// Code is the regime's code in incident.regimes (policy.KnownRegimes).
	Code string
	// Name is the law, as people know it.
	Name string
	// Authority is who receives the report.
	Authority string
	// AuthorityWhen and PeopleWhen say in words when the authority and
	// the people concerned must be told, with the provision.
	AuthorityWhen, PeopleWhen string
	// authorityDue and peopleDue read the breach decision the same way.
	authorityDue, peopleDue func(Decision) bool
	// Within is the law's own deadline for the authority, counted from
	// awareness; 0 when the law gives no number of hours. The clock runs
	// to the earlier of Within and the profile's
	// incident.regulator_notification, which is the operator's own
	// commitment.
	Within time.Duration
	// Deadline is the law's deadline in words, with the provision.
	Deadline string
	// Report is what the report to the authority must hold.
	Report []Content
	// Register is the register's columns, in the order of the export.
	Register []Column
	// Keep says how long the register keeps an incident, with the
	// provision; KeepMonths is that period in calendar months (0 when
	// the law sets none) and keepFrom the date it counts from (zero
	// while it is not known).
	Keep       string
	KeepMonths int
	keepFrom   func(RegisterEntry) time.Time
	// Sources are the provisions the regime is read from.
	Sources []string
	// aliases are lower-case names of the authority that a recorded
	// submission may give (Submission.Authority), besides Code.
	aliases []string
}

// Content is one item that a report to the authority must hold.
type Content struct {
	Code, Text string
	Source     string // the provision that asks for it
	// Field is the register field that holds it (registerFields): the
	// incident's record or its assessment (SetAssessment). It is ""
	// when Portico does not record it with the incident: the item is
	// then written in the report itself.
	Field string
}

// Column is one column of a regime's register export: its header, in the
// regime's own terms, and the register field it shows.
type Column struct {
	Name, Field string
}

// riskToPeople and highRisk read the breach decision: a risk to people's
// rights needs personal data to be affected (Decide refuses otherwise).
func riskToPeople(d Decision) bool { return d.PersonalData && d.Risk }
func highRisk(d Decision) bool     { return d.PersonalData && d.HighRisk }

// The GDPR's Art. 33(3) content, shared by the report's checklist. The
// nature, the number of records, the contact point, the consequences and
// the measures are the assessment's (SetAssessment): the incident's title
// and category ("circumstances") name it, they do not say what happened.
var gdprReport = []Content{
	{"nature", "The nature of the breach", "GDPR Art. 33(3)(a)", "nature"},
	{"data-categories", "The categories of personal data concerned", "GDPR Art. 33(3)(a)", "data_categories"},
	{"people", "The categories and approximate number of people concerned", "GDPR Art. 33(3)(a)", "affected_count"},
	{"records", "The categories and approximate number of records concerned", "GDPR Art. 33(3)(a)", "records_approx"},
	{"contact", "The name and contact details of the data protection officer or another contact point", "GDPR Art. 33(3)(b)", "contact_point"},
	{"consequences", "The likely consequences of the breach", "GDPR Art. 33(3)(c)", "consequences"},
	{"measures", "The measures taken or proposed to address the breach, and to mitigate its possible adverse effects", "GDPR Art. 33(3)(d)", "measures"},
	{"delay", "If later than 72 hours, the reasons for the delay (Portico asks for them when the submission is recorded)", "GDPR Art. 33(1)", ""},
}

// regimes are the built-in definitions, by code; TestRegimesMatchPolicy
// checks that they are exactly policy.KnownRegimes.
var regimes = []Regime{
	{
		Code:      policy.RegimeGDPR,
		Name:      "General Data Protection Regulation (EU) 2016/679, and the UK GDPR",
		Authority: "the lead supervisory authority",
		// Art. 33(1): unless the breach is unlikely to result in a risk
		// to the rights and freedoms of natural persons.
		AuthorityWhen: "Every personal-data breach, unless it is unlikely to result in a risk to people's rights and freedoms (Art. 33(1)).",
		authorityDue:  riskToPeople,
		// Art. 34(1): likely to result in a high risk; Art. 34(3) lists
		// the exceptions, which are for people to weigh.
		PeopleWhen: "When the breach is likely to result in a high risk to people's rights and freedoms, without undue delay (Art. 34(1); Art. 34(3) lists the exceptions).",
		peopleDue:  highRisk,
		// Art. 33(1): without undue delay and, where feasible, not later
		// than 72 hours after becoming aware; later, with reasons.
		Within:   72 * time.Hour,
		Deadline: "Without undue delay and, where feasible, within 72 hours of becoming aware; a later report gives the reasons for the delay (Art. 33(1)). Information may follow in phases (Art. 33(4)).",
		Report:   gdprReport,
		// Art. 33(5): the facts, the effects and the remedial action,
		// of every breach, notified or not (the assessment's nature,
		// consequences and measures), in a way that lets the authority
		// verify compliance with Art. 33: hence when and why the
		// operator became aware, from which the 72 hours run.
		Register: []Column{
			{"incident_id", "id"}, {"summary", "circumstances"}, {"facts", "nature"}, {"severity", "severity"},
			{"detected_at", "detected_at"}, {"aware_at", "aware_at"}, {"aware_basis", "aware_reason"},
			{"personal_data_categories", "data_categories"}, {"data_subjects_approx", "affected_count"}, {"data_subjects_basis", "affected_basis"},
			{"records_approx", "records_approx"}, {"effects", "consequences"}, {"remedial_action", "measures"},
			{"personal_data_breach", "personal_data"}, {"risk_to_rights", "risk"}, {"high_risk", "high_risk"},
			{"assessment", "assessment"}, {"assessed_at", "decided_at"}, {"assessed_by", "decided_by"},
			{"notify_authority", "authority_notice"}, {"notify_data_subjects", "people_notice"},
			{"authority_notified_at", "regulator_submitted_at"}, {"authority", "regulator_authority"}, {"authority_reference", "regulator_reference"},
			{"delay_reasons", "regulator_late_reason"}, {"response_phase", "phase"}, {"closed_at", "closed_at"},
		},
		// Art. 33(5) sets no period: the documentation serves the
		// authority's verification for as long as it may ask.
		Keep:     "Every breach is documented, notified or not; the law sets no period (Art. 33(5)). Portico does not purge incidents.",
		keepFrom: func(RegisterEntry) time.Time { return time.Time{} },
		Sources:  []string{"GDPR Art. 33", "GDPR Art. 34"},
	},
	{
		Code:      policy.RegimeQuebec,
		Name:      "Quebec's Act respecting the protection of personal information in the private sector (CQLR c. P-39.1), as amended by Law 25",
		Authority: "Commission d'accès à l'information du Québec",
		// s. 3.5: a confidentiality incident that presents a risk of
		// serious injury; s. 3.6 lists what weighs on it (sensitivity,
		// anticipated consequences, likelihood of misuse). Portico
		// reads "risk of serious injury" as the decision's high risk.
		AuthorityWhen: "When the confidentiality incident presents a risk of serious injury, weighed by the sensitivity of the information, the anticipated consequences of its use and the likelihood of its misuse (s. 3.5, s. 3.6). Portico reads it as the decision's high risk.",
		authorityDue:  highRisk,
		PeopleWhen:    "The people whose information is concerned, in the same case, promptly (s. 3.5).",
		peopleDue:     highRisk,
		// s. 3.5: "promptly"; the law gives no number of hours.
		Deadline: "Promptly (s. 3.5): the law sets no number of hours, so the clock is the operator's own incident.regulator_notification.",
		// Regulation respecting confidentiality incidents, s. 3. The
		// contact, the circumstances and the measures to reduce the risk
		// are the assessment's contact point, nature and measures.
		Report: []Content{
			{"organisation", "The organisation's name and Quebec enterprise number (NEQ)", "Regulation respecting confidentiality incidents s. 3", ""},
			{"contact", "The name and contact details of the person to contact about the incident", "Regulation s. 3", "contact_point"},
			{"information", "A description of the personal information concerned, or why it cannot be given", "Regulation s. 3", "data_categories"},
			{"circumstances", "A short description of the circumstances and, if known, the cause", "Regulation s. 3", "nature"},
			{"occurred", "The date or period of the incident, or an approximation", "Regulation s. 3", ""},
			{"aware", "The date or period the organisation became aware of it", "Regulation s. 3", "aware_at"},
			{"people", "The number of people concerned, and of those who live in Quebec, or an approximation", "Regulation s. 3", "affected_count"},
			{"assessment", "What led the organisation to conclude there is a risk of serious injury", "Regulation s. 3", "assessment"},
			{"notice-people", "The measures taken or planned to tell the people concerned, and when", "Regulation s. 3", ""},
			{"measures", "The measures taken or planned to reduce the risk of injury", "Regulation s. 3", "measures"},
			{"others", "Any person or body outside Quebec told of the incident", "Regulation s. 3", ""},
		},
		// Regulation s. 11: the register's content, for every incident:
		// among it a short description of the circumstances (the
		// assessment's nature), the elements of the risk assessment,
		// which include the anticipated consequences, and the measures
		// taken to reduce the risk of injury.
		Register: []Column{
			{"incident_id", "id"}, {"summary", "circumstances"},
			{"personal_information_concerned", "data_categories"}, {"circumstances", "nature"},
			{"date_detected", "detected_at"}, {"date_aware", "aware_at"},
			{"persons_concerned_approx", "affected_count"}, {"persons_concerned_basis", "affected_basis"},
			{"risk_of_serious_injury", "high_risk"}, {"risk_assessment", "assessment"}, {"anticipated_consequences", "consequences"}, {"assessed_at", "decided_at"},
			{"measures_to_reduce_injury", "measures"},
			{"notify_commission", "authority_notice"}, {"notify_persons", "people_notice"},
			{"commission_notified_at", "regulator_submitted_at"}, {"commission_reference", "regulator_reference"},
			{"response_phase", "phase"}, {"closed_at", "closed_at"}, {"keep_until", "keep_until"},
		},
		// Regulation s. 11: kept at least 5 years after the date or
		// period the organisation became aware of the incident.
		Keep:       "Every confidentiality incident is entered in the register (s. 3.8), kept at least 5 years after the organisation became aware of it (Regulation s. 11).",
		KeepMonths: 5 * 12,
		keepFrom:   func(e RegisterEntry) time.Time { return e.AwareAt },
		Sources: []string{"Act respecting the protection of personal information in the private sector, s. 3.5 to 3.8",
			"Regulation respecting confidentiality incidents, s. 3 and s. 11"},
		aliases: []string{"cai", "commission d'accès à l'information", "commission d'acces a l'information", "commission d’accès à l’information"},
	},
	{
		Code:      policy.RegimePIPEDA,
		Name:      "Canada's Personal Information Protection and Electronic Documents Act (PIPEDA)",
		Authority: "Office of the Privacy Commissioner of Canada",
		// s. 10.1(1): a real risk of significant harm, weighed by the
		// sensitivity of the information and the probability of its
		// misuse (s. 10.1(8)). Portico reads it as the high risk.
		AuthorityWhen: "When it is reasonable to believe that the breach of security safeguards creates a real risk of significant harm to an individual, weighed by the sensitivity of the information and the probability of its misuse (s. 10.1(1), s. 10.1(8)). Portico reads it as the decision's high risk.",
		authorityDue:  highRisk,
		PeopleWhen:    "The individuals concerned, in the same case, as soon as feasible (s. 10.1(3), s. 10.1(6)).",
		peopleDue:     highRisk,
		// s. 10.1(2): as soon as feasible after determining that the
		// breach has occurred; no number of hours.
		Deadline: "As soon as feasible after determining that the breach occurred (s. 10.1(2)): the law sets no number of hours, so the clock is the operator's own incident.regulator_notification.",
		// Breach of Security Safeguards Regulations (SOR/2018-64), s. 2(1).
		// The circumstances, the steps to reduce the risk of harm and the
		// contact are the assessment's nature, measures and contact point.
		Report: []Content{
			{"circumstances", "A description of the circumstances of the breach and, if known, its cause", "Breach of Security Safeguards Regulations s. 2(1)(a)", "nature"},
			{"occurred", "The day or period of the breach, or an approximate period", "Regulations s. 2(1)(b)", ""},
			{"information", "A description of the personal information concerned, to the extent known", "Regulations s. 2(1)(c)", "data_categories"},
			{"people", "The number, or approximate number, of individuals concerned", "Regulations s. 2(1)(d)", "affected_count"},
			{"measures", "The steps taken to reduce the risk of harm to the individuals", "Regulations s. 2(1)(e)", "measures"},
			{"notice-people", "The steps taken or intended to notify the individuals", "Regulations s. 2(1)(f)", ""},
			{"contact", "The name and contact details of a person who can answer the Commissioner's questions", "Regulations s. 2(1)(g)", "contact_point"},
		},
		// s. 10.3(1) and Regulations s. 6: a record of every breach with
		// what lets the Commissioner verify s. 10.1(1) and (3): what
		// happened (the assessment's nature), the risk assessment and the
		// notices. The measures are the report's (s. 2(1)(e)), not the
		// record's.
		Register: []Column{
			{"incident_id", "id"}, {"summary", "circumstances"}, {"circumstances", "nature"},
			{"breach_detected_at", "detected_at"}, {"breach_determined_at", "decided_at"},
			{"personal_information", "data_categories"}, {"individuals_affected_approx", "affected_count"}, {"individuals_basis", "affected_basis"},
			{"real_risk_of_significant_harm", "high_risk"}, {"risk_assessment", "assessment"},
			{"report_to_commissioner", "authority_notice"}, {"notify_individuals", "people_notice"},
			{"reported_to_commissioner_at", "regulator_submitted_at"}, {"commissioner_reference", "regulator_reference"},
			{"closed_at", "closed_at"}, {"keep_until", "keep_until"},
		},
		// Regulations s. 6(1): 24 months after the day the organisation
		// determines that the breach has occurred: the decision's date.
		Keep:       "A record of every breach of security safeguards involving personal information (s. 10.3(1)), kept 24 months after the day the organisation determined that the breach occurred (Regulations s. 6(1)): in Portico, the breach decision's date.",
		KeepMonths: 24,
		keepFrom:   func(e RegisterEntry) time.Time { return decidedAt(e.Breach) },
		Sources: []string{"PIPEDA s. 10.1 and s. 10.3",
			"Breach of Security Safeguards Regulations (SOR/2018-64), s. 2 and s. 6"},
		aliases: []string{"opc", "office of the privacy commissioner of canada", "privacy commissioner of canada", "commissariat à la protection de la vie privée du canada"},
	},
}

func decidedAt(d *Decision) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.DecidedAt
}

// Regimes lists the built-in regime definitions.
func Regimes() []Regime { return append([]Regime(nil), regimes...) }

// RegimeByCode returns the regime with that code, and whether there is
// one.
func RegimeByCode(code string) (Regime, bool) {
	for _, r := range regimes {
		if r.Code == code {
			return r, true
		}
	}
	return Regime{}, false
}

// States of a regime's notice, to the authority or to the people.
const (
	NoticeDecisionNeeded = "decision-needed" // no breach decision yet: the clock runs meanwhile
	NoticeRequired       = "required"        // the decision makes it due
	NoticeNotRequired    = "not-required"    // the decision says this law does not ask for it
	NoticeDone           = "submitted"       // the authority's report is recorded as submitted
)

// RegimeStatus is one regime's view of an incident.
type RegimeStatus struct {
	Regime Regime
	// Authority and People are the notice states (Notice*). People is
	// never NoticeDone here: the customers' notices keep their own
	// record, and Clocks their clock.
	Authority, People string
	// Clock is the authority's clock: from awareness to the earlier of
	// the law's deadline and the profile's regulator_notification; not
	// due when the decision says the report is not required.
	Clock Clock
	// Report is the report's content with what the incident and its
	// assessment hold.
	Report []ContentCheck
}

// ContentCheck is one item of a report with what the incident holds.
type ContentCheck struct {
	Content
	// Filled: Portico records this item with the incident and it is
	// there. An item without a Field is not recorded by Portico: the
	// report itself must say it.
	Filled bool
}

// Regimes returns, for each regime of the profile's incident.regimes in
// its order, whether the authority and the people must be told given the
// incident's breach decision, the authority's clock at now, and the
// report's content checklist, ticked from the incident's record and its
// assessment (Entry reads both).
//
// Enforces MTL-5.1.1, MTL-7.1: each applicable law's deadline and
// content are shown for every incident, from the decision a person made.
func (s *Service) Regimes(e RegisterEntry, now time.Time) []RegimeStatus {
	var out []RegimeStatus
	inc := e.Incident
	for _, code := range s.profile.Incident.Regimes {
		r, ok := RegimeByCode(code)
		if !ok {
			continue // Validate refuses unknown codes
		}
		st := RegimeStatus{Regime: r, Authority: r.authorityState(inc), People: r.peopleState(inc)}
		within := s.profile.Incident.RegulatorNotification.Duration
		if r.Within > 0 && r.Within < within {
			within = r.Within
		}
		var done time.Time
		if st.Authority == NoticeDone {
			done = inc.Regulator.At
		}
		st.Clock = clock("regulator:"+r.Code, inc.AwareAt, within, done, now)
		if st.Authority == NoticeNotRequired {
			st.Clock.State = ClockNotDue
		}
		for _, c := range r.Report {
			st.Report = append(st.Report, ContentCheck{Content: c, Filled: c.Field != "" && e.value(c.Field, r) != ""})
		}
		out = append(out, st)
	}
	return out
}

// authorityState is the authority's notice state under r.
func (r Regime) authorityState(inc Incident) string {
	switch {
	case r.submitted(inc):
		return NoticeDone
	case inc.Breach == nil:
		return NoticeDecisionNeeded
	case r.authorityDue(*inc.Breach):
		return NoticeRequired
	}
	return NoticeNotRequired
}

// peopleState is the people's notice state under r.
func (r Regime) peopleState(inc Incident) string {
	switch {
	case inc.Breach == nil:
		return NoticeDecisionNeeded
	case r.peopleDue(*inc.Breach):
		return NoticeRequired
	}
	return NoticeNotRequired
}

// submitted reports whether the incident's recorded submission went to
// r's authority. A submission names its authority in words, so it counts
// for the Quebec and PIPEDA regimes when it names their authority (or
// their code), and for the GDPR when it names neither (the lead
// supervisory authority has a name in each country: CNIL, ICO, DPC, ...).
func (r Regime) submitted(inc Incident) bool {
	if inc.Regulator == nil {
		return false
	}
	a := strings.ToLower(strings.TrimSpace(inc.Regulator.Authority))
	names := func(r Regime) bool {
		if a == r.Code {
			return true
		}
		for _, alias := range r.aliases {
			if a == alias || strings.Contains(a, alias) && len(alias) > 3 {
				return true
			}
		}
		return false
	}
	if r.Code != policy.RegimeGDPR {
		return names(r)
	}
	for _, other := range regimes {
		if other.Code != policy.RegimeGDPR && names(other) {
			return false
		}
	}
	return true
}

// regimeControls are the controls of the laws that apply and of the
// breach register, for Controls.
func regimeControls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-5.1.1", Name: "incident.regime-clocks",
			Description: "The profile names the data-protection laws that apply (incident.regimes: the GDPR, Quebec's Law 25, PIPEDA; at least one); each incident shows, per law, whether the authority and the people must be told as read from the recorded breach decision (or that a decision is needed), the authority's clock from awareness (the GDPR's 72 hours, or the operator's own deadline where the law says promptly or as soon as feasible), and the content its report needs.",
			Test:        "internal/incident: TestRegimeStatus"},
		{Clause: "MTL-5.1.1", Name: "incident.regime-deadlines",
			Description: "A regime's clock goes overdue at the earlier of the law's deadline and incident.regulator_notification, and only a submission to that regime's authority stops it.",
			Test:        "internal/incident: TestRegimeClocks"},
		{Clause: "MTL-7.1", Name: "incident.breach-register",
			Description: "The breach register holds every incident, notifiable or not, and exports it per law (CSV or JSON) with the fields that law's register asks for (GDPR Art. 33(5), Quebec's Regulation s. 11, PIPEDA Regulations s. 6) and its keep-until date; each export is recorded in the audit trail with its law, format and count.",
			Test:        "internal/incident: TestRegister"},
		{Clause: "MTL-7.1", Name: "web.breach-register",
			Description: "The security team and auditors read the register and export it; customers get 404; an unknown law or format is refused with a 400 that says which are known, and leaves no export record.",
			Test:        "internal/web: TestBreachRegister"},
	}
}
