package incident_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/policy"
)

// everyRegime is a service whose profile names the three regimes, with
// the operator's own regulator deadline set to within.
func everyRegime(t *testing.T, d *db.DB, within time.Duration) (*incident.Service, *audit.Log) {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	p.Incident.Regimes = policy.KnownRegimes()
	p.Incident.RegulatorNotification = policy.Duration{Duration: within}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	l := audit.New(d)
	return incident.New(d, l, p), l
}

func states(sts []incident.RegimeStatus) map[string][3]string {
	out := map[string][3]string{}
	for _, st := range sts {
		out[st.Regime.Code] = [3]string{st.Authority, st.People, st.Clock.State}
	}
	return out
}

// TestRegimeStatus (MTL-5.1.1, MTL-7.1): each regime reads the breach
// decision its own way: undecided, every notice waits on a decision while
// the clocks run; no risk, nothing is due; a risk, only the GDPR's
// authority; a high risk, every authority and the people under each law.
func TestRegimeStatus(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := everyRegime(t, d, 72*time.Hour)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Exposed export", Severity: "high", Category: "data exposure",
			DataCategories: []string{"contact details"}}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		const (
			need = incident.NoticeDecisionNeeded
			req  = incident.NoticeRequired
			no   = incident.NoticeNotRequired
		)
		run, notDue := incident.ClockRunning, incident.ClockNotDue
		for _, tc := range []struct {
			name     string
			decision *incident.Decision
			want     map[string][3]string // authority, people, authority's clock
		}{
			{"no decision", nil, map[string][3]string{"gdpr": {need, need, run}, "quebec": {need, need, run}, "pipeda": {need, need, run}}},
			{"no personal data", &incident.Decision{Reasoning: "only public pages"},
				map[string][3]string{"gdpr": {no, no, notDue}, "quebec": {no, no, notDue}, "pipeda": {no, no, notDue}}},
			{"no risk", &incident.Decision{PersonalData: true, Reasoning: "encrypted, key safe"},
				map[string][3]string{"gdpr": {no, no, notDue}, "quebec": {no, no, notDue}, "pipeda": {no, no, notDue}}},
			{"risk", &incident.Decision{PersonalData: true, Risk: true, Reasoning: "addresses readable"},
				map[string][3]string{"gdpr": {req, no, run}, "quebec": {no, no, notDue}, "pipeda": {no, no, notDue}}},
			{"high risk", &incident.Decision{PersonalData: true, Risk: true, HighRisk: true, Reasoning: "passwords readable"},
				map[string][3]string{"gdpr": {req, req, run}, "quebec": {req, req, run}, "pipeda": {req, req, run}}},
		} {
			if tc.decision != nil {
				if err := s.Decide(ctx, inc.ID, *tc.decision, "sec1"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Entry(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			sts := s.Regimes(got, t0.Add(time.Hour))
			if g := states(sts); len(g) != 3 || g["gdpr"] != tc.want["gdpr"] || g["quebec"] != tc.want["quebec"] || g["pipeda"] != tc.want["pipeda"] {
				t.Errorf("%s: %v, want %v", tc.name, g, tc.want)
			}
			// The report's checklist: what the incident holds is
			// ticked, what Portico does not record is left to the
			// report itself; the nature waits on the assessment
			// (TestRegisterAssessment).
			for _, st := range sts {
				filled := map[string]bool{}
				for _, c := range st.Report {
					filled[c.Code] = c.Filled
				}
				if st.Regime.Code == "gdpr" && (!filled["data-categories"] || filled["nature"] || filled["contact"] || filled["people"]) {
					t.Errorf("%s: GDPR checklist %v", tc.name, filled)
				}
				if st.Regime.Code == "quebec" && filled["assessment"] != (tc.decision != nil) {
					t.Errorf("%s: Quebec's assessment item filled=%v", tc.name, filled["assessment"])
				}
			}
		}
	})
}

// TestRegimeClocks (MTL-5.1.1): the GDPR's clock is the law's 72 hours
// from awareness, or the operator's shorter commitment; the laws without
// a number of hours run on the operator's commitment; a clock goes
// overdue at its end, and a submission to an authority stops that
// authority's clock only.
func TestRegimeClocks(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := everyRegime(t, d, 48*time.Hour)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Stolen passwords", Severity: "critical", Category: "account takeover"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Decide(ctx, inc.ID, incident.Decision{PersonalData: true, Risk: true, HighRisk: true, Reasoning: "sign-ins succeeded"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		at := func(h int) map[string]incident.Clock {
			t.Helper()
			got, err := s.Entry(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]incident.Clock{}
			for _, st := range s.Regimes(got, t0.Add(time.Duration(h)*time.Hour)) {
				out[st.Regime.Code] = st.Clock
			}
			return out
		}
		c := at(47)
		for _, code := range policy.KnownRegimes() {
			if !c[code].Due.Equal(t0.Add(48*time.Hour)) || c[code].State != incident.ClockNear {
				t.Errorf("%s at +47h: due %v, %s", code, c[code].Due, c[code].State)
			}
		}
		c = at(49)
		for _, code := range policy.KnownRegimes() {
			if c[code].State != incident.ClockOverdue {
				t.Errorf("%s at +49h: %s, want overdue", code, c[code].State)
			}
		}
		clock.Set(t0.Add(30 * time.Hour))
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Authority: "Commission d'accès à l'information du Québec", Reference: "CAI-1"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		c = at(49)
		if c["quebec"].State != incident.ClockMet || c["gdpr"].State != incident.ClockOverdue || c["pipeda"].State != incident.ClockOverdue {
			t.Errorf("after the CAI's report: quebec %s, gdpr %s, pipeda %s", c["quebec"].State, c["gdpr"].State, c["pipeda"].State)
		}
	})
	// The operator's commitment at the law's maximum: the GDPR's 72 hours.
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := everyRegime(t, d, 72*time.Hour)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Stolen passwords", Severity: "critical", Category: "account takeover"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		for h, want := range map[int]string{71: incident.ClockNear, 73: incident.ClockOverdue} {
			for _, st := range s.Regimes(incident.RegisterEntry{Incident: inc}, t0.Add(time.Duration(h)*time.Hour)) {
				if st.Regime.Code == "gdpr" && (st.Clock.State != want || !st.Clock.Due.Equal(t0.Add(72*time.Hour))) {
					t.Errorf("GDPR at +%dh: %s due %v, want %s", h, st.Clock.State, st.Clock.Due, want)
				}
			}
		}
	})
}

// TestRegister (MTL-7.1, MTL-5.1.1): the register holds every incident,
// a non-notifiable one too, filtered by detection; each regime's export
// has its own header row and keeps its own period; the export is audited
// with its regime, format and count; an unknown regime or format is
// refused.
func TestRegister(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := everyRegime(t, d, 72*time.Hour)
		open := func(title string) incident.Incident {
			t.Helper()
			inc, err := s.Open(ctx, incident.NewIncident{Title: title, Severity: "medium", Category: "account takeover",
				DataCategories: []string{"contact details", "sign-in history"}}, "sec1")
			if err != nil {
				t.Fatal(err)
			}
			clock.Add(24 * time.Hour)
			return inc
		}
		early := open("Before the period")
		quiet := open("=HYPERLINK(\"http://evil.example\")") // not notifiable, and a formula
		loud := open("Passwords readable")
		undecided := open("Still looking")
		if err := s.Decide(ctx, quiet.ID, incident.Decision{PersonalData: true, Reasoning: "no account was entered"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Decide(ctx, loud.ID, incident.Decision{PersonalData: true, Risk: true, HighRisk: true, Reasoning: "hashes were taken"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		entries, err := s.Register(ctx, t0.Add(12*time.Hour), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, []string{quiet.ID, loud.ID, undecided.ID}) {
			t.Fatalf("register %q, want the non-notifiable %s, the notifiable %s and the undecided %s (not %s)", ids, quiet.ID, loud.ID, undecided.ID, early.ID)
		}
		if all, _ := s.Register(ctx, time.Time{}, t0.Add(12*time.Hour)); len(all) != 1 || all[0].ID != early.ID {
			t.Errorf("register up to +12h: %v", all)
		}

		for _, r := range incident.Regimes() {
			var buf bytes.Buffer
			if err := incident.WriteRegister(&buf, entries, r.Code, "csv"); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(rows) != 4 {
				t.Fatalf("%s: %d rows, %v", r.Code, len(rows), err)
			}
			var names []string
			for _, c := range r.Register {
				names = append(names, c.Name)
			}
			if !slices.Equal(rows[0], names) {
				t.Errorf("%s header %q, want %q", r.Code, rows[0], names)
			}
			row := map[string]string{}
			for i, n := range rows[0] {
				row[n] = rows[1][i]
			}
			if row["incident_id"] != quiet.ID {
				t.Errorf("%s: first row %v", r.Code, row)
			}
			for n, v := range row {
				if strings.HasPrefix(v, "=") {
					t.Errorf("%s: cell %s is a formula: %q", r.Code, n, v)
				}
			}
			switch r.Code {
			case "gdpr":
				if row["notify_authority"] != incident.NoticeNotRequired || row["personal_data_breach"] != "yes" || row["risk_to_rights"] != "no" {
					t.Errorf("GDPR row of the non-notifiable incident: %v", row)
				}
			case "quebec":
				// At least 5 years after awareness (Regulation s. 11).
				if row["keep_until"] != quiet.AwareAt.AddDate(5, 0, 0).Format(time.DateOnly) || row["personal_information_concerned"] != "contact details; sign-in history" {
					t.Errorf("Quebec row: %v", row)
				}
			case "pipeda":
				// 24 months after the determination (Regulations s. 6(1)).
				if row["keep_until"] != t0.Add(96*time.Hour).AddDate(0, 24, 0).Format(time.DateOnly) || row["report_to_commissioner"] != incident.NoticeNotRequired {
					t.Errorf("PIPEDA row: %v", row)
				}
				last := rows[3]
				if last[slices.Index(rows[0], "keep_until")] != "" || last[slices.Index(rows[0], "report_to_commissioner")] != incident.NoticeDecisionNeeded {
					t.Errorf("PIPEDA row of the undecided incident: %q", last)
				}
			}
		}
		var buf bytes.Buffer
		if err := incident.WriteRegister(&buf, entries, "quebec", "json"); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Regime  string
			Fields  []string
			Entries []map[string]string
		}
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Regime != "quebec" || len(doc.Entries) != 3 || doc.Entries[1]["notify_commission"] != incident.NoticeRequired {
			t.Errorf("JSON export %+v, %v", doc, err)
		}

		for _, bad := range [][2]string{{"ccpa", "csv"}, {"", "csv"}, {"gdpr", "xlsx"}} {
			buf.Reset()
			if err := incident.WriteRegister(&buf, entries, bad[0], bad[1]); apperr.CodeOf(err) != apperr.BadRequest || buf.Len() != 0 {
				t.Errorf("WriteRegister(%q, %q): %v, wrote %d bytes", bad[0], bad[1], err, buf.Len())
			}
			if _, err := s.ExportRegister(ctx, time.Time{}, time.Time{}, bad[0], bad[1]); apperr.CodeOf(err) != apperr.BadRequest {
				t.Errorf("ExportRegister(%q, %q): %v", bad[0], bad[1], err)
			}
		}
		got, err := s.ExportRegister(ctx, t0.Add(12*time.Hour), time.Time{}, "pipeda", "csv")
		if err != nil || len(got) != 3 {
			t.Fatalf("export: %d, %v", len(got), err)
		}
		recs, err := l.Search(ctx, audit.Filter{Action: "incident.register_export", Limit: 10})
		if err != nil || len(recs) != 1 {
			t.Fatalf("%d export records (the refused ones must leave none), %v", len(recs), err)
		}
		var det struct {
			Regime, Format string
			Count          int
		}
		if err := json.Unmarshal(recs[0].Details, &det); err != nil || det.Regime != "pipeda" || det.Format != "csv" || det.Count != 3 {
			t.Errorf("export record %s", recs[0].Details)
		}
	})
}

// TestRegisterAssessment (MTL-5.1.1, MTL-7.1): the assessment written for
// the regulator's report ticks the reports' content under each law (the
// GDPR's Art. 33(3)(a) to (d), Quebec's Regulation s. 3, PIPEDA's
// Regulations s. 2(1)) and fills the register columns that each law's
// register asks for (Art. 33(5)'s facts, effects and remedial action;
// Quebec's s. 11; PIPEDA's s. 6); the register says the affected query in
// words.
func TestRegisterAssessment(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := everyRegime(t, d, 72*time.Hour)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Exposed export", Severity: "high", Category: "data exposure",
			DataCategories: []string{"contact details"}}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetAffected(ctx, inc.ID, incident.Query{Kind: "all"}); err != nil {
			t.Fatal(err)
		}
		clock.Add(2 * time.Hour)
		if err := s.SetAwareness(ctx, inc.ID, t0.Add(time.Hour), "The log review showed the export held addresses.", "sec1"); err != nil {
			t.Fatal(err)
		}
		// The items the assessment holds, by regime and item code.
		assessed := map[string][]string{
			"gdpr":   {"nature", "records", "contact", "consequences", "measures"},
			"quebec": {"contact", "circumstances", "measures"},
			"pipeda": {"circumstances", "measures", "contact"},
		}
		checklist := func() map[string]map[string]bool {
			t.Helper()
			e, err := s.Entry(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]map[string]bool{}
			for _, st := range s.Regimes(e, clock.Now()) {
				out[st.Regime.Code] = map[string]bool{}
				for _, c := range st.Report {
					out[st.Regime.Code][c.Code] = c.Filled
				}
			}
			return out
		}
		before := checklist()
		for code, items := range assessed {
			for _, it := range items {
				if f, ok := before[code][it]; !ok || f {
					t.Errorf("%s before the assessment: item %s filled=%v (listed %v)", code, it, f, ok)
				}
			}
		}

		a := incident.Assessment{Nature: "A misconfigured export left addresses readable.", Consequences: "Phishing aimed at the customers.",
			Measures: "The export is closed; customers are told to expect no such mail.", ContactPoint: "DPO, dpo@example.com",
			RecordsApprox: new(int64(1200))}
		if err := s.SetAssessment(ctx, inc.ID, a, "sec1"); err != nil {
			t.Fatal(err)
		}
		after := checklist()
		for code, items := range assessed {
			for _, it := range items {
				if !after[code][it] {
					t.Errorf("%s after the assessment: item %s not filled: %v", code, it, after[code])
				}
			}
		}
		if after["quebec"]["organisation"] || after["pipeda"]["occurred"] {
			t.Errorf("items Portico does not record show as filled: %v", after)
		}

		entries, err := s.Register(ctx, time.Time{}, time.Time{})
		if err != nil || len(entries) != 1 {
			t.Fatalf("register: %d, %v", len(entries), err)
		}
		const words = "every active customer"
		want := map[string]map[string]string{
			"gdpr": {"summary": "Exposed export (data exposure)", "facts": a.Nature, "effects": a.Consequences, "remedial_action": a.Measures,
				"records_approx": "1200", "aware_basis": "The log review showed the export held addresses.", "data_subjects_basis": words},
			"quebec": {"summary": "Exposed export (data exposure)", "circumstances": a.Nature, "anticipated_consequences": a.Consequences,
				"measures_to_reduce_injury": a.Measures, "persons_concerned_basis": words},
			"pipeda": {"summary": "Exposed export (data exposure)", "circumstances": a.Nature, "individuals_basis": words},
		}
		for _, r := range incident.Regimes() {
			var buf bytes.Buffer
			if err := incident.WriteRegister(&buf, entries, r.Code, "csv"); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("%s: %d rows, %v", r.Code, len(rows), err)
			}
			row := map[string]string{}
			for i, n := range rows[0] {
				row[n] = rows[1][i]
			}
			for col, v := range want[r.Code] {
				if got, ok := row[col]; !ok || got != v {
					t.Errorf("%s: column %s = %q (present %v), want %q", r.Code, col, got, ok, v)
				}
			}
			for col, v := range row {
				if v == a.ContactPoint || strings.HasPrefix(v, "{") {
					t.Errorf("%s: column %s = %q: the contact point is the report's, and the basis is in words", r.Code, col, v)
				}
			}
		}
	})
}
