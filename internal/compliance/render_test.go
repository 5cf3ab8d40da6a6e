package compliance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// hostile is a check whose summary and figures carry markup, as a check
// reading data someone typed could. It fails the first time and warns
// after, so that its clause's history holds a failure period.
func hostile() compliance.Check {
	runs := 0
	return compliance.Check{
		Name: "test.hostile", Clauses: []string{"CP-4.1"}, Description: "reads what someone typed",
		Run: func(ctx context.Context, now time.Time) (compliance.Result, error) {
			runs++
			st := compliance.Warn
			if runs == 1 {
				st = compliance.Fail
			}
			return compliance.Result{Status: st, Summary: `<script>alert(1)</script> & "quoted"`,
				Figures: []compliance.Figure{{Label: "<b>label</b>", Value: `<img src=x onerror=alert(2)>`}}}, nil
		},
	}
}

// reportOf builds the report of a world whose service also runs the
// hostile check, after evidence was taken twice, an hour apart (the
// history has two runs and a failure period).
func reportOf(t *testing.T, d *db.DB, clock *dbtest.Clock) compliance.Report {
	t.Helper()
	w := newWorld(t, d, nil)
	svc, err := compliance.New(d, w.st.Audit, w.st.Profile, w.svc.Controls(), append(w.svc.Checks(), hostile()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		clock.Add(time.Hour)
		if _, err := svc.TakeEvidence(ctx, compliance.OnDemand, "account:test"); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := svc.Report(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep.SigningKey, rep.PublicKeyURL = "SHA256:abcdef0123456789", "https://portal.example/.well-known/portico-evidence-key"
	return rep
}

// TestReportHTML (MTL-7.2): the HTML report is one page that needs
// nothing else (its style inline, no script, nothing loaded), shows the
// installation, the run and the signing key, and every clause with its
// status and reasons, its controls and tests, its evidence and history;
// a check's summary and figures are escaped, never markup.
func TestReportHTML(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		rep := reportOf(t, d, clock)
		var b bytes.Buffer
		if err := rep.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		for _, banned := range []string{"<script", "<link", "<img", "<iframe", `src="`, "@import", "url("} {
			if strings.Contains(page, banned) {
				t.Errorf("the report holds %q: it must be self-contained and script-free", banned)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quoted&#34;") ||
			!strings.Contains(page, "&lt;img src=x onerror=alert(2)&gt;") || !strings.Contains(page, "&lt;b&gt;label&lt;/b&gt;") {
			t.Error("the hostile summary or figure is not escaped")
		}
		for _, want := range []string{"<style>", "Compliance report", rep.ProfileDigest, rep.Run.ID, "on demand",
			"SHA256:abcdef0123456789", `href="https://portal.example/.well-known/portico-evidence-key"`,
			"audit.chain-verified", "the audit chain verifies", "events verified", "Evidence of CP-5.3 in each run",
			"audit.hash-chain"} {
			if !strings.Contains(page, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		n := 0
		for _, p := range rep.Policies {
			for _, c := range p.Clauses {
				n++
				if !strings.Contains(page, `id="clause-`+c.ID+`"`) {
					t.Errorf("clause %s is not in the report", c.ID)
				}
				for _, why := range c.Reasons {
					esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(why)
					if !strings.Contains(page, esc) {
						t.Errorf("clause %s: reason %q is not in the report", c.ID, why)
					}
				}
				if c.NoLiveEvidence != "" && !strings.Contains(page, "No live evidence: ") {
					t.Errorf("clause %s: its reason for no live evidence is missing", c.ID)
				}
			}
		}
		if n != rep.Counts.All || n < 40 {
			t.Errorf("%d clauses, counts say %d", n, rep.Counts.All)
		}
		if got := strings.Count(page, "<article"); got != n || strings.Count(page, "</article>") != n {
			t.Errorf("%d articles for %d clauses", got, n)
		}
		// Each state in the history strip is written, never told by
		// colour alone; the failure period is in words.
		if !strings.Contains(page, `class="h-pass" title="`) || !strings.Contains(page, `<li class="h-fail" title="2 Nov 2026 10:00 UTC: fail">`) ||
			!strings.Contains(page, `<span class="visually-hidden">2 Nov 2026 10:00 UTC: fail</span>`) {
			t.Error("the history strip has no text for its cells")
		}
		if !strings.Contains(page, "Failed from 2 Nov 2026 10:00 UTC to 2 Nov 2026 11:00 UTC") {
			t.Error("the failure period of CP-4.1 is not in the report")
		}
		for _, st := range []string{"enforced", "partial", "failing", "not yet"} {
			if !strings.Contains(page, ">"+st+"</span>") {
				t.Errorf("status %q is not written out", st)
			}
		}
	})
}

// TestReportPDF (MTL-7.2): the PDF report, read back as text, holds the
// summary, every clause ID with its status, and the checks' summaries.
func TestReportPDF(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		rep := reportOf(t, d, clock)
		var b bytes.Buffer
		if err := rep.WritePDF(&b); err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, b.Bytes())
		for _, want := range []string{"Compliance report", rep.ProfileDigest, rep.Run.ID, "SHA256:abcdef0123456789",
			"the audit chain verifies", "audit.chain-verified", "Status: enforced", "Status: partial",
			`<script>alert(1)</script>`, "Failed from 2 Nov 2026 10:00 UTC to 2 Nov 2026 11:00 UTC", "HISTORY: 2 RUN(S), OLDEST FIRST"} {
			if !strings.Contains(text, want) {
				t.Errorf("the PDF lacks %q", want)
			}
		}
		for _, p := range rep.Policies {
			for _, c := range p.Clauses {
				if !strings.Contains(text, c.ID+" "+string(c.Status)) {
					t.Errorf("the PDF's summary lacks %s %s", c.ID, c.Status)
				}
			}
		}
	})
}

// TestReportJSON: the JSON report has stable names and every clause.
func TestReportJSON(t *testing.T) {
	clock := dbtest.NewClock(t0)
	rep := reportOf(t, dbtest.SQLite(t, dbtest.Options{Now: clock.Now}), clock)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Counts   compliance.Counts `json:"counts"`
		Policies []struct {
			Clauses []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"clauses"`
		} `json:"policies"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range got.Policies {
		n += len(p.Clauses)
	}
	if n != got.Counts.All || n == 0 {
		t.Errorf("%d clauses, counts %+v", n, got.Counts)
	}
}

// pdfText returns the text of a PDF, its words joined by single spaces.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the PDF does not read: %v", err)
	}
	text, err := r.GetPlainText()
	if err != nil {
		t.Fatalf("the PDF's text does not read: %v", err)
	}
	var out strings.Builder
	if _, err := io.Copy(&out, text); err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(out.String()), " ")
}

// TestStripFoldsLongHistory: a history of up to 90 runs is shown run by
// run; a longer one (hourly runs for 90 days) one cell per day with the
// worst status of the day, so that a failure in one hourly run still shows.
func TestStripFoldsLongHistory(t *testing.T) {
	var h []compliance.HistoryPoint
	for i := range 90 {
		h = append(h, compliance.HistoryPoint{Run: fmt.Sprint(i), At: t0.Add(time.Duration(i) * time.Hour), Status: compliance.Pass})
	}
	if cells, perDay := compliance.Strip(h); perDay || len(cells) != 90 || cells[0].Text != "2 Nov 2026 09:00 UTC: pass" || cells[0].Mark != "✓" {
		t.Fatalf("90 runs: %d cells, per day %v, first %+v", len(cells), perDay, cells[0])
	}
	for i := 90; i < 24*100; i++ {
		st := compliance.Pass
		if i == 24*50+3 {
			st = compliance.Fail
		}
		h = append(h, compliance.HistoryPoint{Run: fmt.Sprint(i), At: t0.Add(time.Duration(i) * time.Hour), Status: st})
	}
	cells, perDay := compliance.Strip(h)
	if !perDay || len(cells) != 90 {
		t.Fatalf("100 days of hourly runs: %d cells, per day %v", len(cells), perDay)
	}
	fails := 0
	for _, c := range cells {
		if c.Status == compliance.Fail {
			fails++
			if !strings.Contains(c.Text, ": fail (worst of 24 runs)") || c.Mark != "✗" {
				t.Errorf("the failed day: %+v", c)
			}
		}
	}
	if fails != 1 {
		t.Errorf("%d failing days, want 1", fails)
	}
}
