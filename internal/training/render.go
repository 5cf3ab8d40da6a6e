package training

import (
	"bytes"
	"html/template"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// markdown and sanitizer are built on first use: a server that never
// shows a lesson pays nothing for them (idle memory).
var (
	markdown  = sync.OnceValue(func() goldmark.Markdown { return goldmark.New(goldmark.WithExtensions(extension.GFM)) })
	sanitizer = sync.OnceValue(bluemonday.UGCPolicy)
)

// RenderLesson renders a lesson's Markdown as HTML safe to put in a page,
// as internal/incident renders the plan: goldmark without raw HTML, then
// bluemonday's UGC policy, so neither a <script> nor a javascript: link
// survives even if the one or the other lets it through.
func RenderLesson(md string) template.HTML {
	var buf bytes.Buffer
	if err := markdown().Convert([]byte(md), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(md)) // goldmark does not fail on a bytes.Buffer
	}
	return template.HTML(sanitizer().SanitizeBytes(buf.Bytes())) // #nosec G203 -- sanitized just above
}
