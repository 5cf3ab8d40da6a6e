package svgchart

import (
	"strings"
	"testing"
)

// TestValidID: chart IDs go into id= and url(#...) attributes, so only a
// letter then letters, digits, '_' and '-' (at most 64) are kept.
func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"a": true, "chart_1-x": true, strings.Repeat("a", 64): true,
		"": false, "1a": false, "-a": false, "a b": false, "a\"": false, "a)": false, strings.Repeat("a", 65): false, "é": false,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v, want %v", id, got, want)
		}
	}
}
