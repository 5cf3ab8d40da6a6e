package markdown_test

import (
	"strings"
	"testing"

	"github.com/portico/portico/internal/markdown"
)

// TestRenderIsSafe (CP-6.1): scripts, event handlers, styles and
// javascript: links do not survive the rendering; images become links (the
// CSP loads none from elsewhere); task boxes are drawn, not inputs.
func TestRenderIsSafe(t *testing.T) {
	got := string(markdown.Render("# Policy\n\n<script>alert(1)</script>\n\n" +
		"[click](javascript:alert(2)) [ok](https://example.com/runbook)\n\n" +
		`<a href="javascript:alert(3)" onclick="alert(4)">raw</a>` + "\n\n" +
		"<img src=x onerror=alert(5)>\n\n![diagram](https://example.com/d.png) ![x](javascript:alert(6))\n\n" +
		"<p style=\"color:red\">styled</p>\n\n| a |\n|--:|\n| 1 |\n\n- [ ] Open\n- [x] Done\n"))
	for _, bad := range []string{"<script", "alert(1)", "javascript:", "onclick", "onerror", "<img", "style=", "<input"} {
		if strings.Contains(got, bad) {
			t.Errorf("rendering keeps %q:\n%s", bad, got)
		}
	}
	for _, good := range []string{"<h1", `href="https://example.com/runbook"`, `href="https://example.com/d.png" rel="nofollow">diagram</a>`, "<td>1</td>", "☐ Open", "☑ Done"} {
		if !strings.Contains(got, good) {
			t.Errorf("rendering lacks %q:\n%s", good, got)
		}
	}
}
