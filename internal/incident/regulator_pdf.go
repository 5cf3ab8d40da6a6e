package incident

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Headings of the report's Art. 33(3) sections, in the PDF and on the
// page.
const (
	HeadingNature       = "Art. 33(3)(a) Nature of the personal data breach"
	HeadingContactPoint = "Art. 33(3)(b) Contact point"
	HeadingConsequences = "Art. 33(3)(c) Likely consequences"
	HeadingMeasures     = "Art. 33(3)(d) Measures taken or proposed"
)

// containText names the containment actions in the report.
var containText = map[string]string{
	ContainEndSessions:   "Every session and API token of the affected accounts ended",
	ContainForcePassword: "A new password required of the affected accounts",
	ContainLock:          "The affected accounts locked",
}

// ContainText names a containment action for people.
func ContainText(action string) string {
	if t, ok := containText[action]; ok {
		return t
	}
	return action
}

// FormatCount writes a number with thousands separators: 12,345.
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func reportTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// PDF is the report as a PDF document (A4, core fonts; text outside the
// Windows-1252 repertoire shows as a dot). A report with missing parts is
// marked "DRAFT: missing ..." at the top.
func (r RegulatorReport) PDF() ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(r.GeneratedAt)
	pdf.SetModificationDate(r.GeneratedAt)
	pdf.SetCatalogSort(true)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to Windows-1252, the core fonts' encoding
	pdf.SetTitle("Personal data breach notification: "+r.Title, true)
	pdf.SetSubject("GDPR Art. 33 notification of incident "+r.IncidentID, true)
	pdf.SetCreator("Portico", true)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(100, 100, 100)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("Incident %s · drafted by Portico on %s · page %d of {nb}", r.IncidentID, reportTime(r.GeneratedAt), pdf.PageNo())),
			"", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	text := func(size float64, style, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(0, size*0.5, tr(s), "", "L", false)
	}
	heading := func(s string) {
		pdf.Ln(4)
		pdf.SetTextColor(0, 0, 0)
		text(12, "B", s)
		pdf.Ln(1)
	}
	field := func(label, value string) {
		pdf.SetTextColor(0, 0, 0)
		pdf.SetFont("Helvetica", "B", 10)
		w := pdf.GetStringWidth(tr(label)) + 2
		pdf.CellFormat(w, 5, tr(label), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, tr(value), "", "L", false)
	}
	body := func(s, empty string) {
		if s == "" {
			pdf.SetTextColor(160, 0, 0)
			text(10, "I", empty)
			pdf.SetTextColor(0, 0, 0)
			return
		}
		text(10, "", s)
	}

	text(16, "B", "Personal data breach notification")
	text(10, "", "To the supervisory authority, under Article 33 of the General Data Protection Regulation (GDPR).")
	pdf.Ln(2)
	if missing := r.Missing(); len(missing) > 0 {
		pdf.SetFillColor(255, 235, 235)
		pdf.SetTextColor(160, 0, 0)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.MultiCell(0, 5, tr("DRAFT: missing "+strings.Join(missing, "; ")+"."), "1", "L", true)
		pdf.SetTextColor(0, 0, 0)
		pdf.Ln(2)
	}

	heading("The incident")
	field("Title:", r.Title)
	field("Incident ID:", r.IncidentID)
	field("Severity:", r.Severity)
	field("Category:", r.Category)
	field("Detected:", reportTime(r.DetectedAt))
	if r.DetectedReason != "" {
		field("Why then:", r.DetectedReason)
	}
	field("Aware of the breach:", reportTime(r.AwareAt))
	field("Notification due by:", reportTime(r.DueAt))
	field("Phase of the response:", r.Phase)

	heading(HeadingNature)
	body(r.Nature, "Not yet described.")
	pdf.Ln(1)
	cats := "not yet recorded"
	if len(r.DataCategories) > 0 {
		cats = strings.Join(r.DataCategories, ", ")
	}
	field("Categories of personal data:", cats)
	subjects := "not yet established"
	if r.SubjectsApprox != nil {
		subjects = FormatCount(int64(*r.SubjectsApprox))
	}
	field("Approximate number of data subjects concerned:", subjects)
	records := "not yet estimated"
	if r.RecordsApprox != nil {
		records = FormatCount(*r.RecordsApprox)
	}
	field("Approximate number of personal data records concerned:", records)

	heading(HeadingContactPoint)
	body(r.ContactPoint, "Not yet given.")

	heading(HeadingConsequences)
	body(r.Consequences, "Not yet described.")

	heading(HeadingMeasures)
	body(r.Measures, "Not yet described.")
	if len(r.Containment) > 0 {
		pdf.Ln(1)
		text(10, "B", "Containment carried out:")
		for _, c := range r.Containment {
			text(10, "", fmt.Sprintf("- %s: %s accounts, %s", ContainText(c.Action), FormatCount(int64(c.Accounts)), reportTime(c.LastAt)))
		}
	}

	heading("Breach decision")
	if r.Breach == nil {
		body("", "Not yet decided.")
	} else {
		field("Personal data affected:", yesNo(r.Breach.PersonalData))
		field("Risk to people's rights and freedoms:", yesNo(r.Breach.Risk))
		field("High risk (people to be told, Art. 34):", yesNo(r.Breach.HighRisk))
		field("Decided:", reportTime(r.Breach.DecidedAt))
		text(10, "B", "Reasoning:")
		text(10, "", r.Breach.Reasoning)
	}

	heading("Submissions (Art. 33(4))")
	if len(r.Submissions) == 0 {
		text(10, "", "None recorded yet.")
	}
	for _, s := range r.Submissions {
		kind := "Initial notification"
		if s.Kind == SubmissionFollowUp {
			kind = "Follow-up"
		}
		text(10, "B", fmt.Sprintf("%s, %s", kind, reportTime(s.SubmittedAt)))
		text(10, "", fmt.Sprintf("To %s, reference %s.", s.Authority, s.Reference))
		if s.LateReason != "" {
			label := "Reasons for the delay (Art. 33(1)): "
			if !s.Late {
				label = "Reasons given: "
			}
			text(10, "", label+s.LateReason)
		}
		pdf.Ln(1)
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("incident: regulator report PDF: %w", err)
	}
	return buf.Bytes(), nil
}
