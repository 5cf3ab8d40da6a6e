package governance

import (
	"context"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// Kinds of a diff line.
const (
	DiffFile    = "file"    // the "---" and "+++" headers
	DiffHunk    = "hunk"    // "@@ -a,b +c,d @@"
	DiffAdd     = "add"     // a line the newer version adds
	DiffDel     = "del"     // a line it removes
	DiffContext = "context" // a line both have
	DiffNote    = "note"    // "\ No newline at end of file"
)

// DiffLine is one line of a unified diff, for the page to style.
type DiffLine struct {
	Kind string
	Text string
}

// UnifiedDiff is the unified line diff (three lines of context) from a
// to b, line by line; nil when they are the same.
func UnifiedDiff(fromLabel, toLabel, a, b string) []DiffLine {
	u := udiff.Unified(fromLabel, toLabel, a, b)
	if u == "" {
		return nil
	}
	var out []DiffLine
	for i, l := range strings.Split(strings.TrimSuffix(u, "\n"), "\n") {
		k := DiffContext
		switch {
		case i < 2 && (strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ")):
			k = DiffFile
		case strings.HasPrefix(l, "@@"):
			k = DiffHunk
		case strings.HasPrefix(l, "+"):
			k = DiffAdd
		case strings.HasPrefix(l, "-"):
			k = DiffDel
		case strings.HasPrefix(l, `\`):
			k = DiffNote
		}
		out = append(out, DiffLine{Kind: k, Text: l})
	}
	return out
}

// DefaultDiff is the pair of versions the diff page compares when none
// is asked for: the version in force with the draft after it, else the
// version in force (or the newest) with the one before; 0, 0 when the
// document has a single version.
func DefaultDiff(d Document) (from, to int) {
	switch {
	case d.InForce > 0 && d.Latest > d.InForce:
		return d.InForce, d.Latest
	case d.InForce > 1:
		return d.InForce - 1, d.InForce
	case d.InForce == 0 && d.Latest > 1:
		return d.Latest - 1, d.Latest
	}
	return 0, 0
}

// Diff is the unified diff between two versions of a document.
//
// Enforces CP-11.2: what each version changed is shown line by line.
func (s *Service) Diff(ctx context.Context, id string, from, to int) ([]DiffLine, error) {
	a, err := s.Version(ctx, id, from)
	if err != nil {
		return nil, err
	}
	b, err := s.Version(ctx, id, to)
	if err != nil {
		return nil, err
	}
	return UnifiedDiff(id+" version "+strconv.Itoa(from), id+" version "+strconv.Itoa(to), a.Body, b.Body), nil
}
