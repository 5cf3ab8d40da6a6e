package policy

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// clauseTable is the clause table beside the two policy texts. CI checks out
// only this repository, so the test that compares against it skips when it
// is absent.
const clauseTable = "../../../shared/policies/CLAUSES.md"

var clauseID = regexp.MustCompile(`^(CP|MTL)-[0-9]+(\.[0-9]+)*$`)

func TestClauseIDsUniqueAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Clauses() {
		if seen[c.ID] {
			t.Errorf("clause %s listed twice", c.ID)
		}
		seen[c.ID] = true
		m := clauseID.FindStringSubmatch(c.ID)
		if m == nil {
			t.Errorf("clause ID %q is not of the form CP-n.n or MTL-n.n.n", c.ID)
			continue
		}
		if want := map[string]string{"CP": PolicyCP, "MTL": PolicyMTL}[m[1]]; c.Policy != want {
			t.Errorf("clause %s: Policy = %q, want %q", c.ID, c.Policy, want)
		}
		if c.Title == "" || c.Requirement == "" {
			t.Errorf("clause %s: empty title or requirement", c.ID)
		}
	}
}

func TestClauseByID(t *testing.T) {
	c, ok := ClauseByID("CP-7.1")
	if !ok || !strings.Contains(c.Title, "24 hours") || c.Policy != PolicyCP {
		t.Errorf("ClauseByID(CP-7.1) = %+v, %v", c, ok)
	}
	if _, ok := ClauseByID("CP-99"); ok {
		t.Error("ClauseByID found an unknown ID")
	}
}

func TestClausesReturnsCopy(t *testing.T) {
	Clauses()[0].ID = "changed"
	if Clauses()[0].ID == "changed" {
		t.Error("Clauses shares its backing array with the registry")
	}
}

func TestClausesMatchTable(t *testing.T) {
	f, err := os.Open(clauseTable)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent (only the repository is checked out); nothing to compare", clauseTable)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	heading := regexp.MustCompile(`^## (.+) \((CP|MTL)\)$`)
	var want []Clause
	policy := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := heading.FindStringSubmatch(line); m != nil {
			policy = m[1]
			continue
		}
		if !strings.HasPrefix(line, "| CP-") && !strings.HasPrefix(line, "| MTL-") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 {
			t.Fatalf("table row with %d cells: %s", len(cells), line)
		}
		want = append(want, Clause{
			ID:          strings.TrimSpace(cells[0]),
			Policy:      policy,
			Title:       strings.TrimSpace(cells[1]),
			Requirement: strings.TrimSpace(cells[2]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	got := Clauses()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("clause %s of the table is missing from clauses.go", want[i].ID)
		case i >= len(want):
			t.Errorf("clause %s of clauses.go is not in the table", got[i].ID)
		case got[i] != want[i]:
			t.Errorf("clause %d differs:\n clauses.go %+v\n  CLAUSES.md %+v", i, got[i], want[i])
		}
	}
	if len(want) == 0 {
		t.Error("no clause rows found in the table")
	}
}
