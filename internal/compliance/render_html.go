package compliance

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"
)

//go:embed templates/report.html
var templateFiles embed.FS

// reportTemplate is parsed on first use: most processes never render it.
var reportTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("report.html").Funcs(template.FuncMap{
		"when":    When,
		"trigger": TriggerText,
		"slug":    func(s ClauseState) string { return strings.ReplaceAll(string(s), " ", "-") },
		"mark":    Mark,
		"strip":   func(h []HistoryPoint) []StripCell { c, _ := Strip(h); return c },
		"perDay":  func(h []HistoryPoint) bool { _, d := Strip(h); return d },
	}).ParseFS(templateFiles, "templates/report.html")
})

// When writes a time of the report for people, in UTC ("-" when unset).
func When(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// TriggerText says in words why a run was taken.
func TriggerText(t Trigger) string {
	switch t {
	case Scheduled:
		return "on schedule"
	case OnDemand:
		return "on demand"
	case FromCLI:
		return "from the command line"
	}
	return string(t)
}

// Mark is a result's status as one character, shown with the colour of
// the history's cells so that the status is never told by colour alone.
func Mark(s Status) string {
	switch s {
	case Pass:
		return "✓"
	case Warn:
		return "!"
	}
	return "✗"
}

// WriteHTML writes the report as one self-contained HTML page: its style
// inline, no script, nothing loaded from elsewhere, so that it reads
// offline and prints. html/template escapes every value by its context:
// a check's summary or figure can hold no markup.
//
// Enforces MTL-7.2: the report reads without Portico, for an auditor.
func (r Report) WriteHTML(w io.Writer) error {
	t, err := reportTemplate()
	if err != nil {
		return err
	}
	// Rendered whole first: a template error never leaves half a report.
	var b bytes.Buffer
	if err := t.Execute(&b, r); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// maxStripCells is how many cells a history strip shows run by run; a
// longer history (hourly runs over 90 days are 2,160) is shown one cell
// per day, so that the page and the report stay readable.
const maxStripCells = 90

// StripCell is one cell of a clause's history strip: one run, or one day
// of runs with the worst status among them.
type StripCell struct {
	Status Status
	Mark   string // the status as one character (Mark)
	Text   string // the cell in words: when, status, and how many runs
}

// Strip folds a clause's history (oldest first) into the cells of its
// strip: one per run up to maxStripCells runs, else one per day (UTC),
// the latest maxStripCells days. perDay says which.
func Strip(history []HistoryPoint) (cells []StripCell, perDay bool) {
	if len(history) <= maxStripCells {
		for _, h := range history {
			cells = append(cells, StripCell{Status: h.Status, Mark: Mark(h.Status), Text: When(h.At) + ": " + string(h.Status)})
		}
		return cells, false
	}
	type day struct {
		at     time.Time
		status Status
		runs   int
	}
	var days []day
	for _, h := range history {
		d := h.At.UTC().Truncate(24 * time.Hour)
		if n := len(days); n > 0 && days[n-1].at.Equal(d) {
			days[n-1].runs++
			if worse(h.Status, days[n-1].status) {
				days[n-1].status = h.Status
			}
			continue
		}
		days = append(days, day{at: d, status: h.Status, runs: 1})
	}
	if len(days) > maxStripCells {
		days = days[len(days)-maxStripCells:]
	}
	for _, d := range days {
		cells = append(cells, StripCell{Status: d.status, Mark: Mark(d.status),
			Text: fmt.Sprintf("%s: %s (worst of %d runs)", d.at.Format("2 Jan 2006"), d.status, d.runs)})
	}
	return cells, true
}
