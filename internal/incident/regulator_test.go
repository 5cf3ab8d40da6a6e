package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
)

// noAccounts carries out containment without touching any account: the
// report only reads the incident.contain events.
type noAccounts struct{}

func (noAccounts) Lock(context.Context, *db.Tx, string, string) error           { return nil }
func (noAccounts) EndCredentials(context.Context, *db.Tx, string, string) error { return nil }
func (noAccounts) RequirePasswordChange(context.Context, *db.Tx, string, bool) error {
	return nil
}

func ptr[T any](v T) *T { return &v }

// pdfText reads the text of a PDF back, with its runs of white space made
// single spaces.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the PDF does not read: %v", err)
	}
	text, err := r.GetPlainText() // each text object on a line of its own
	if err != nil {
		t.Fatalf("the PDF's text does not read: %v", err)
	}
	var out strings.Builder
	if _, err := io.Copy(&out, text); err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(out.String()), " ")
}

// TestRegulatorReport (MTL-5.1.1): the report is drafted from the
// incident: its times, the Art. 33(3) parts from the record and the
// assessment (categories of data, the affected customers as the number of
// people, the records estimated), the breach decision with its reasoning,
// the containment from the timeline and the submissions; the PDF carries
// the title, each Art. 33(3) heading and the figures, accents included;
// the JSON has stable names.
func TestRegulatorReport(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := setup(t, d)
		for _, a := range []string{"c1", "c2", "c3"} {
			account(t, d, a, "customer")
		}
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Exposed sign-in history", Severity: "high", Category: "data exposure",
			DataCategories: []string{"email address", "sign-in history"}}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		if _, err := s.SetAffected(ctx, inc.ID, incident.Query{Kind: "all"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Contain(ctx, noAccounts{}, inc.ID, incident.ContainEndSessions, "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Decide(ctx, inc.ID, incident.Decision{PersonalData: true, Risk: true, Reasoning: "addresses and networks were readable"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		a := incident.Assessment{Nature: "A misconfigured export left sign-in records readable.", Consequences: "Targeted phishing of the customers concerned.",
			Measures: "The export was closed; sessions were ended.", ContactPoint: "Data protection officer, dpo@example.com", RecordsApprox: ptr(int64(1200))}
		if err := s.SetAssessment(ctx, inc.ID, a, "sec1"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Assessment(ctx, inc.ID); err != nil || got.Nature != a.Nature || got.RecordsApprox == nil || *got.RecordsApprox != 1200 || got.ContactPoint != a.ContactPoint {
			t.Fatalf("assessment read back %+v, %v", got, err)
		}
		recs, _ := l.Search(ctx, auditAction("incident.assessment"))
		if len(recs) != 1 || strings.Contains(string(recs[0].Details), "phishing") ||
			!strings.Contains(string(recs[0].Details), "nature consequences measures records_approx contact_point") {
			t.Errorf("the assessment's audit event: %+v", recs)
		}
		clock.Add(time.Hour)
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Authority: "Commission d'accès à l'information", Reference: "CAI-2026-42"}, "sec1"); err != nil {
			t.Fatal(err)
		}

		r, err := s.RegulatorReport(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.IncidentID != inc.ID || r.Title != "Exposed sign-in history" || !r.DetectedAt.Equal(t0) || !r.AwareAt.Equal(t0) ||
			!r.DueAt.Equal(t0.Add(72*time.Hour)) {
			t.Errorf("the incident's facts: %+v", r)
		}
		if r.Nature != a.Nature || r.Consequences != a.Consequences || r.Measures != a.Measures || r.ContactPoint != a.ContactPoint ||
			!slices.Equal(r.DataCategories, []string{"email address", "sign-in history"}) || r.SubjectsApprox == nil || *r.SubjectsApprox != 3 ||
			r.RecordsApprox == nil || *r.RecordsApprox != 1200 {
			t.Errorf("the Art. 33(3) parts: %+v", r)
		}
		if r.Breach == nil || !r.Breach.Risk || r.Breach.HighRisk || r.Breach.Reasoning != "addresses and networks were readable" {
			t.Errorf("the breach decision: %+v", r.Breach)
		}
		if len(r.Containment) != 1 || r.Containment[0].Action != incident.ContainEndSessions || r.Containment[0].Accounts != 3 || r.Containment[0].Batches != 1 {
			t.Errorf("the containment: %+v", r.Containment)
		}
		if len(r.Submissions) != 1 || r.Submissions[0].Kind != incident.SubmissionInitial || r.Submissions[0].Reference != "CAI-2026-42" || r.Submissions[0].Late {
			t.Errorf("the submissions: %+v", r.Submissions)
		}
		if m := r.Missing(); len(m) != 0 {
			t.Errorf("missing %v from a complete report", m)
		}

		js, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(js, &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"incident_id", "title", "detected_at", "aware_at", "due_at", "nature", "data_categories", "subjects_approx",
			"records_approx", "contact_point", "consequences", "measures", "breach", "containment", "submissions", "draft", "missing"} {
			if _, ok := got[k]; !ok {
				t.Errorf("the JSON has no %q: %s", k, js)
			}
		}
		if got["draft"] != false || got["records_approx"] != float64(1200) || got["breach"].(map[string]any)["reasoning"] != "addresses and networks were readable" {
			t.Errorf("the JSON's values: %s", js)
		}

		b, err := r.PDF()
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, b)
		for _, want := range []string{"Exposed sign-in history", inc.ID, incident.HeadingNature, incident.HeadingContactPoint, incident.HeadingConsequences,
			incident.HeadingMeasures, "email address, sign-in history", "data subjects concerned: 3", "records concerned: 1,200",
			"dpo@example.com", "Targeted phishing", "The export was closed", "addresses and networks were readable",
			"Commission d'accès à l'information", "CAI-2026-42", "3 accounts"} {
			if !strings.Contains(text, want) {
				t.Errorf("the PDF's text lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "DRAFT") {
			t.Error("a complete report is marked as a draft")
		}

		// The submission's snapshot is the report as it was submitted.
		subs, err := s.Submissions(ctx, inc.ID)
		if err != nil || len(subs) != 1 {
			t.Fatalf("submissions %+v, %v", subs, err)
		}
		var snap map[string]any
		if err := json.Unmarshal(subs[0].Content, &snap); err != nil || snap["title"] != "Exposed sign-in history" || snap["nature"] != a.Nature {
			t.Errorf("the snapshot %s, %v", subs[0].Content, err)
		}
	})
}

// TestRegulatorReportMissing (MTL-5.1.1): Missing names each Art. 33(3)
// part left empty; a report with one is still exported, marked as a
// draft with what it lacks.
func TestRegulatorReportMissing(t *testing.T) {
	full := incident.RegulatorReport{IncidentID: "i1", Title: "Leak", Nature: "n", DataCategories: []string{"email address"},
		SubjectsApprox: ptr(3), RecordsApprox: ptr(int64(5)), ContactPoint: "dpo", Consequences: "c", Measures: "m"}
	if m := full.Missing(); len(m) != 0 {
		t.Fatalf("a full report misses %v", m)
	}
	for _, tc := range []struct {
		want  string
		empty func(r *incident.RegulatorReport)
	}{
		{incident.MissingNature, func(r *incident.RegulatorReport) { r.Nature = "" }},
		{incident.MissingCategories, func(r *incident.RegulatorReport) { r.DataCategories = nil }},
		{incident.MissingSubjects, func(r *incident.RegulatorReport) { r.SubjectsApprox = nil }},
		{incident.MissingRecords, func(r *incident.RegulatorReport) { r.RecordsApprox = nil }},
		{incident.MissingContactPoint, func(r *incident.RegulatorReport) { r.ContactPoint = "" }},
		{incident.MissingConsequences, func(r *incident.RegulatorReport) { r.Consequences = "" }},
		{incident.MissingMeasures, func(r *incident.RegulatorReport) { r.Measures = "" }},
	} {
		r := full
		tc.empty(&r)
		if m := r.Missing(); !slices.Equal(m, []string{tc.want}) {
			t.Errorf("missing %v, want [%s]", m, tc.want)
		}
	}

	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Unknown scope", Severity: "medium", Category: "data exposure"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.RegulatorReport(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := r.Missing(); len(m) != 7 {
			t.Fatalf("a new incident's report misses %v, want all seven parts", m)
		}
		js, err := r.JSON()
		if err != nil || !bytes.Contains(js, []byte(`"draft": true`)) || !bytes.Contains(js, []byte(incident.MissingContactPoint)) {
			t.Errorf("the draft's JSON: %s, %v", js, err)
		}
		b, err := r.PDF()
		if err != nil {
			t.Fatal(err)
		}
		if text := pdfText(t, b); !strings.Contains(text, "DRAFT: missing") || !strings.Contains(text, "Unknown scope") {
			t.Errorf("the draft PDF is not marked as one:\n%s", text)
		}
		if _, err := s.RegulatorReport(ctx, "nosuch"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("the report of no incident: %v", err)
		}
	})
}

// TestAssessmentBounds (MTL-5.1.1): the assessment takes bounded text and
// a number of records that is not negative, on open incidents only.
func TestAssessmentBounds(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Lost laptop", Severity: "low", Category: "device"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range map[string]incident.Assessment{
			"negative records":  {RecordsApprox: ptr(int64(-1))},
			"a long nature":     {Nature: strings.Repeat("x", 5001)},
			"a long contact":    {ContactPoint: strings.Repeat("x", 501)},
			"long consequences": {Consequences: strings.Repeat("é", 5001)},
			"long measures too": {Measures: strings.Repeat("x", 5001)},
		} {
			err := s.SetAssessment(ctx, inc.ID, a, "sec1")
			if apperr.CodeOf(err) != apperr.Invalid || len(apperr.FieldsOf(err)) != 1 {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := s.SetAssessment(ctx, "nosuch", incident.Assessment{Nature: "n"}, "sec1"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("no such incident: %v", err)
		}
		if err := s.SetAssessment(ctx, inc.ID, incident.Assessment{Nature: "n", RecordsApprox: ptr(int64(0))}, "sec1"); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Assessment(ctx, inc.ID); a.RecordsApprox == nil || *a.RecordsApprox != 0 {
			t.Errorf("zero records read back as %v", a.RecordsApprox)
		}
		exec(t, d, `UPDATE incidents SET phase = 'closed', closed_at = $1 WHERE id = $2`, t0, inc.ID)
		if err := s.SetAssessment(ctx, inc.ID, incident.Assessment{Nature: "later"}, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("assessing a closed incident: %v", err)
		}
	})
}

// TestRegulatorSubmissions (MTL-5.1.1, GDPR Art. 33(4)): the report goes
// in phases: a follow-up needs the initial submission first; the initial
// one after the deadline needs the reasons for the delay; it is the one
// the regulator's clock reads; a second initial one is refused.
func TestRegulatorSubmissions(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := setup(t, d)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Stuffing", Severity: "high", Category: "stuffing"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(80 * time.Hour)) // past the 72 hours
		follow := incident.Submission{Kind: incident.SubmissionFollowUp, Authority: "CNIL", Reference: "2026-123"}
		if err := s.RecordSubmission(ctx, inc.ID, follow, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("a follow-up before the initial submission: %v", err)
		}
		initial := incident.Submission{Kind: incident.SubmissionInitial, Authority: "CNIL", Reference: "2026-123"}
		if err := s.RecordSubmission(ctx, inc.ID, initial, "sec1"); apperr.CodeOf(err) != apperr.Invalid || apperr.FieldsOf(err)["late_reason"] == "" {
			t.Fatalf("a late initial submission without the reasons: %v", err)
		}
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Kind: "final", Authority: "CNIL", Reference: "x"}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("an unknown kind: %v", err)
		}
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Reference: "x"}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("no authority: %v", err)
		}
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Authority: "CNIL", Reference: "x", At: t0.Add(81 * time.Hour)}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a submission in the future: %v", err)
		}
		if subs, _ := s.Submissions(ctx, inc.ID); len(subs) != 0 {
			t.Fatalf("refused submissions were recorded: %+v", subs)
		}
		initial.At = t0.Add(79 * time.Hour)
		initial.LateReason = "the scope took three days to establish"
		if err := s.RecordSubmission(ctx, inc.ID, initial, "sec1"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, inc.ID)
		if got.Regulator == nil || !got.Regulator.At.Equal(t0.Add(79*time.Hour)) || got.Regulator.Reference != "2026-123" ||
			got.Regulator.LateReason != initial.LateReason {
			t.Fatalf("the incident's regulator columns: %+v", got.Regulator)
		}
		if c := s.Clocks(got, time.Time{}, clock.Now()); c[1].State != incident.ClockLate {
			t.Errorf("the regulator's clock after a late initial submission: %s", c[1].State)
		}
		if err := s.RecordSubmission(ctx, inc.ID, initial, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("a second initial submission: %v", err)
		}
		follow.At = t0.Add(78 * time.Hour)
		if err := s.RecordSubmission(ctx, inc.ID, follow, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a follow-up before the initial one went in: %v", err)
		}
		// A follow-up is not measured against the 72 hours: no reason needed.
		follow.At = time.Time{}
		follow.Reference = "2026-123-2"
		if err := s.RecordSubmission(ctx, inc.ID, follow, "sec1"); err != nil {
			t.Fatal(err)
		}
		subs, err := s.Submissions(ctx, inc.ID)
		if err != nil || len(subs) != 2 {
			t.Fatalf("submissions %+v, %v", subs, err)
		}
		if subs[0].Kind != incident.SubmissionInitial || !subs[0].Late || subs[0].LateReason != initial.LateReason ||
			subs[1].Kind != incident.SubmissionFollowUp || subs[1].Late || !subs[1].SubmittedAt.Equal(t0.Add(80*time.Hour)) || subs[1].CreatedBy != "sec1" {
			t.Errorf("submissions %+v", subs)
		}
		// The regulator's columns stay the initial submission's.
		if got, _ := s.Get(ctx, inc.ID); got.Regulator.Reference != "2026-123" {
			t.Errorf("a follow-up overwrote the initial submission: %+v", got.Regulator)
		}
		recs, _ := l.Search(ctx, auditAction("incident.regulator_submission"))
		if len(recs) != 2 {
			t.Errorf("%d submissions audited, want 2", len(recs))
		}
	})
}

func auditAction(action string) audit.Filter { return audit.Filter{Action: action, Limit: 100} }
