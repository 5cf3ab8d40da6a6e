package incident

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanControlsNameTheirTests: every control of the plan, exercises
// and reviews names a test that exists (internal/app checks the same for
// the program's controls once the lead folds these into Controls).
func TestPlanControlsNameTheirTests(t *testing.T) {
	for _, c := range planControls() {
		pkg, name, ok := strings.Cut(c.Test, ": ")
		if !ok || c.Clause == "" || c.Name == "" || c.Description == "" {
			t.Errorf("control %+v is incomplete", c)
			continue
		}
		files, _ := filepath.Glob(filepath.Join("..", "..", pkg, "*_test.go"))
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			found = found || strings.Contains(string(b), "func "+name+"(t *testing.T)")
		}
		if !found {
			t.Errorf("control %s names %s, which does not exist", c.Name, c.Test)
		}
	}
}
