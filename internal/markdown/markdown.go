// Package markdown renders Markdown written by staff (policy documents,
// the response plan, reviews, training lessons, findings) as HTML safe to
// put in a page. It is the one place where Portico turns text into
// template.HTML from a built value (internal/codecheck allows it here and
// nowhere else).
package markdown

import (
	"bytes"
	"html/template"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// Render renders md: goldmark without raw HTML, then bluemonday's policy
// for user-generated content, so neither a <script> nor a javascript: link
// survives even if the one or the other lets it through. Both are built
// on first use (Portico's idle memory does not pay for them).
//
// Enforces CP-6.1: text written by staff cannot put script in a page.
func Render(md string) template.HTML {
	var buf bytes.Buffer
	if err := markdown().Convert([]byte(md), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(md)) // goldmark does not fail on a bytes.Buffer
	}
	return template.HTML(sanitizer().SanitizeBytes(buf.Bytes())) // #nosec G203 -- sanitized just above
}

// markdown renders for the pages:
// GitHub's Markdown (tables, task lists, strikethrough, links), with raw
// HTML left out, task boxes drawn as characters rather than inputs, and
// images as links to them (the pages' CSP loads no image from elsewhere).
var markdown = sync.OnceValue(func() goldmark.Markdown {
	return goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(pageRenderer{}, 100))),
	)
})

// sanitizer is the second guard: whatever the renderer lets through is
// cut to bluemonday's policy for user-generated content (no script, no
// event handler, no style, no javascript: or data: link, links
// rel=nofollow).
var sanitizer = sync.OnceValue(bluemonday.UGCPolicy)

// pageRenderer draws a task-list box as ☐ or ☑ (the sanitizer removes
// form inputs, and a plan's boxes are not for ticking here: the
// incident's page ticks them), and an image as a link to it.
type pageRenderer struct{}

func (pageRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(east.KindTaskCheckBox, func(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			if n.(*east.TaskCheckBox).IsChecked {
				_, _ = w.WriteString("☑ ")
			} else {
				_, _ = w.WriteString("☐ ")
			}
		}
		return ast.WalkContinue, nil
	})
	reg.Register(ast.KindImage, func(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		img := n.(*ast.Image)
		if !entering {
			_, _ = w.WriteString("</a>")
			return ast.WalkContinue, nil
		}
		_, _ = w.WriteString(`<a href="`)
		_, _ = w.Write(util.EscapeHTML(util.URLEscape(img.Destination, true)))
		_, _ = w.WriteString(`">`)
		if !img.HasChildren() {
			_, _ = w.Write(util.EscapeHTML(img.Destination))
		}
		return ast.WalkContinue, nil
	})
}
