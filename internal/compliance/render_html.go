package compliance

import (
	"embed"
	"html/template"
	"io"
	"sync"
)

//go:embed templates/report.html
var templateFiles embed.FS

// reportTemplate is parsed on first use: most processes never render it.
var reportTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.ParseFS(templateFiles, "templates/report.html")
})

// WriteHTML writes the report as one self-contained HTML page (no script,
// no file from elsewhere), readable offline.
func (r Report) WriteHTML(w io.Writer) error {
	t, err := reportTemplate()
	if err != nil {
		return err
	}
	return t.Execute(w, r)
}
