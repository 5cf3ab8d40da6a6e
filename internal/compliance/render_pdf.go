package compliance

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"codeberg.org/go-pdf/fpdf"
)

// rgb is a colour of the PDF.
type rgb struct{ r, g, b int }

var (
	black = rgb{0, 0, 0}
	grey  = rgb{90, 90, 90}
	// The colours of the states, the same as the HTML report's; the state
	// is always written out too.
	stateColour = map[ClauseState]rgb{Enforced: {27, 110, 58}, Partial: {138, 90, 0}, Failing: {176, 0, 32}, NotYet: {102, 102, 102}}
	resColour   = map[Status]rgb{Pass: {27, 110, 58}, Warn: {138, 90, 0}, Fail: {176, 0, 32}}
)

// pdfMark is a result's status in a history cell of the PDF (the core
// fonts have no check mark).
var pdfMark = map[Status]string{Pass: "P", Warn: "W", Fail: "F"}

// WritePDF writes the report as a PDF (A4, core fonts: text outside the
// Windows-1252 repertoire shows as a dot): a title page with the
// installation, the evidence run and the counts, a list of the clauses
// with their status, then each clause with its requirement, reasons,
// controls and tests, evidence, history and failure periods.
func (r Report) WritePDF(w io.Writer) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(r.GeneratedAt)
	pdf.SetModificationDate(r.GeneratedAt)
	pdf.SetCatalogSort(true)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to Windows-1252, the core fonts' encoding
	pdf.SetTitle("Portico compliance report, "+When(r.GeneratedAt), true)
	pdf.SetSubject("Status, controls, tests and live evidence of every clause", true)
	pdf.SetCreator("Portico "+r.Version, true)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(grey.r, grey.g, grey.b)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("Portico compliance report · %s · page %d of {nb}", When(r.GeneratedAt), pdf.PageNo())),
			"", 0, "C", false, 0, "")
	})
	colour := func(c rgb) { pdf.SetTextColor(c.r, c.g, c.b) }
	text := func(size float64, style, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(0, size*0.5, tr(s), "", "L", false)
	}
	field := func(label, value string) {
		colour(black)
		pdf.SetFont("Helvetica", "B", 10)
		w := pdf.GetStringWidth(tr(label)) + 2
		pdf.CellFormat(w, 5, tr(label), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, tr(value), "", "L", false)
	}
	sub := func(s string) {
		pdf.Ln(1.5)
		colour(grey)
		text(9, "B", strings.ToUpper(s))
		colour(black)
	}
	bullet := func(s string) {
		pdf.SetFont("Helvetica", "", 9.5)
		x := pdf.GetX()
		pdf.CellFormat(4, 4.75, "-", "", 0, "L", false, 0, "")
		pdf.MultiCell(0, 4.75, tr(s), "", "L", false)
		pdf.SetX(x)
	}

	// The title page.
	pdf.AddPage()
	text(20, "B", "Compliance report")
	pdf.Ln(2)
	colour(grey)
	text(10, "", "Every clause of Portico's security policies with its status, the controls that enforce it, the tests that prove them, "+
		"the live evidence taken from the running system, and its history.")
	colour(black)
	pdf.Ln(4)
	field("Generated:", When(r.GeneratedAt))
	field("Portico version:", r.Version)
	field("Database:", r.Database)
	field("Policy profile:", r.Profile)
	field("Profile SHA-256:", r.ProfileDigest)
	if run := r.Run; run != nil {
		field("Evidence run:", fmt.Sprintf("%s, taken %s (%s): %d passed, %d warned, %d failed",
			run.ID, When(run.StartedAt), TriggerText(run.Trigger), run.Passed, run.Warned, run.Failed))
	} else {
		field("Evidence run:", "evidence has not been taken yet: every clause with evidence checks is partial.")
	}
	field("History since:", When(r.HistorySince))
	if r.SigningKey != "" {
		field("Signing key:", r.SigningKey)
		if r.PublicKeyURL != "" {
			field("Public key:", r.PublicKeyURL)
		}
	}
	pdf.Ln(4)
	text(13, "B", "Summary")
	pdf.Ln(1)
	for _, c := range []struct {
		state ClauseState
		n     int
	}{{Enforced, r.Counts.Enforced}, {Partial, r.Counts.Partial}, {Failing, r.Counts.Failing}, {NotYet, r.Counts.NotYet}} {
		colour(stateColour[c.state])
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(30, 6, string(c.state), "B", 0, "L", false, 0, "")
		colour(black)
		pdf.SetFont("Helvetica", "", 10)
		pdf.CellFormat(20, 6, fmt.Sprint(c.n), "B", 1, "R", false, 0, "")
	}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.CellFormat(30, 6, "all clauses", "", 0, "L", false, 0, "")
	pdf.CellFormat(20, 6, fmt.Sprint(r.Counts.All), "", 1, "R", false, 0, "")
	pdf.Ln(3)
	colour(grey)
	text(9, "", "A clause is enforced only when its controls cover its whole requirement and every one of its evidence checks passes; "+
		"partial when a part has no control yet, a check warns or its evidence was not taken; failing when a check fails; "+
		"not yet when no control enforces it.")
	colour(black)
	for _, p := range r.Policies {
		pdf.Ln(3)
		text(11, "B", p.Name)
		for _, c := range p.Clauses {
			pdf.SetFont("Helvetica", "B", 9)
			pdf.CellFormat(24, 5, c.ID, "", 0, "L", false, 0, "")
			colour(stateColour[c.Status])
			pdf.CellFormat(20, 5, string(c.Status), "", 0, "L", false, 0, "")
			colour(black)
			pdf.SetFont("Helvetica", "", 9)
			pdf.MultiCell(0, 5, tr(c.Title), "", "L", false)
		}
	}

	// Each clause.
	for _, p := range r.Policies {
		pdf.AddPage()
		text(16, "B", p.Name)
		for _, c := range p.Clauses {
			// A clause starts on a new page when little room is left.
			if _, h := pdf.GetPageSize(); pdf.GetY() > h-60 {
				pdf.AddPage()
			}
			pdf.Ln(4)
			pdf.SetDrawColor(200, 200, 200)
			pdf.Line(18, pdf.GetY(), 192, pdf.GetY())
			pdf.Ln(2)
			text(12, "B", c.ID+" "+c.Title)
			colour(stateColour[c.Status])
			text(10, "B", "Status: "+string(c.Status))
			colour(grey)
			text(9, "I", c.Requirement)
			colour(black)
			for _, why := range c.Reasons {
				bullet(why)
			}
			sub("Controls")
			if len(c.Controls) == 0 {
				text(9.5, "", "No control enforces it yet.")
			}
			for _, ct := range c.Controls {
				pdf.SetFont("Helvetica", "B", 9.5)
				pdf.MultiCell(0, 4.75, tr(ct.Name), "", "L", false)
				text(9.5, "", ct.Description)
				colour(grey)
				text(8.5, "", "Test: "+ct.Test)
				colour(black)
			}
			sub("Evidence")
			switch {
			case len(c.Evidence) > 0:
			case c.NoLiveEvidence != "":
				text(9.5, "", "No live evidence: "+c.NoLiveEvidence)
			default:
				text(9.5, "", "No evidence check yet.")
			}
			for _, e := range c.Evidence {
				pdf.SetFont("Helvetica", "B", 9.5)
				pdf.MultiCell(0, 4.75, tr(e.Check), "", "L", false)
				text(9.5, "", e.Description)
				res := e.Result
				if res == nil {
					colour(grey)
					text(9.5, "I", "Not taken yet.")
					colour(black)
					continue
				}
				colour(resColour[res.Status])
				pdf.SetFont("Helvetica", "B", 9.5)
				pdf.CellFormat(12, 4.75, string(res.Status), "", 0, "L", false, 0, "")
				colour(black)
				pdf.SetFont("Helvetica", "", 9.5)
				pdf.MultiCell(0, 4.75, tr(res.Summary), "", "L", false)
				for _, f := range res.Figures {
					bullet(f.Label + ": " + f.Value)
				}
				colour(grey)
				text(8.5, "", "Taken "+When(res.TakenAt))
				colour(black)
			}
			if len(c.History) > 0 {
				cells, perDay := Strip(c.History)
				unit := "one cell per run"
				if perDay {
					unit = "one cell per day, the worst run of the day"
				}
				sub(fmt.Sprintf("History: %d run(s), oldest first, %s (P pass, W warn, F fail)", len(c.History), unit))
				x0, y := pdf.GetX(), pdf.GetY()
				x := x0
				pdf.SetFont("Helvetica", "B", 7)
				pdf.SetTextColor(255, 255, 255)
				for _, h := range cells {
					if x+5 > 192 {
						x, y = x0, y+6
					}
					col := resColour[h.Status]
					pdf.SetFillColor(col.r, col.g, col.b)
					pdf.SetXY(x, y)
					pdf.CellFormat(4.5, 5, pdfMark[h.Status], "", 0, "C", true, 0, "")
					x += 5
				}
				colour(black)
				pdf.SetXY(x0, y+6)
			}
			if len(c.Failures) > 0 {
				sub("Periods in which its evidence failed")
				for _, f := range c.Failures {
					if f.Ongoing {
						bullet("Failing since " + When(f.From))
					} else {
						bullet("Failed from " + When(f.From) + " to " + When(f.To))
					}
				}
			}
		}
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return fmt.Errorf("compliance: report PDF: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
