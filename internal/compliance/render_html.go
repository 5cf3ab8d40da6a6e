package compliance

import (
	"bytes"
	"embed"
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
