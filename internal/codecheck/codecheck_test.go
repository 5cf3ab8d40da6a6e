package codecheck

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/portico/portico/internal/policy"
)

func known(id string) bool { _, ok := policy.ClauseByID(id); return ok }

// TestRepositoryFollowsSecureCodingRules (MTL-4.1.1): Portico's own code
// breaks none of the checkable rules of docs/secure-coding.md, except where
// allowed says why.
func TestRepositoryFollowsSecureCodingRules(t *testing.T) {
	vs, err := Check("../..", Options{KnownClause: known})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
}

// TestEachRuleCatchesItsBreach (MTL-4.1.1): each rule finds the mistake it
// is for, and only that one.
func TestEachRuleCatchesItsBreach(t *testing.T) {
	for _, tc := range []struct {
		rule, src string
	}{
		{RuleHTMLTemplate, `import "text/template"; var _ = template.New`},
		{RuleCryptoRand, `import "math/rand/v2"; var _ = rand.N(3)`},
		{RuleCryptoRand, `import mr "math/rand"; var _ = mr.Int()`},
		{RuleWeakCrypto, `import "crypto/md5"; var _ = md5.Sum`},
		{RuleTrustedHTML, `import "html/template"; func f(s string) template.HTML { return template.HTML(s) }`},
		{RuleTrustedHTML, `import h "html/template"; func f(s string) h.URL { return h.URL("x" + s) }`},
		{RuleTLSVerify, `import "crypto/tls"; var c = &tls.Config{InsecureSkipVerify: true}`},
		{RuleTLSVerify, `import "crypto/tls"; func f(c *tls.Config) { c.InsecureSkipVerify = true }`},
		{RuleServerTimeouts, `import "net/http"; var s = &http.Server{Addr: ":1"}`},
		{RuleSQLFormat, `import ("fmt"; "database/sql"); func f(d *sql.DB, t string) { d.Exec(fmt.Sprintf("DELETE FROM %s", t)) }`},
		{RuleClauseIDs, "// Enforces CP-99.1: nothing.\nfunc f() {}"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			vs, err := CheckFile("x.go", []byte("package x\n"+tc.src+"\n"), Options{KnownClause: known})
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, v := range vs {
				rules = append(rules, v.Rule)
			}
			if !slices.Equal(rules, []string{tc.rule}) {
				t.Fatalf("violations %v, want one %s", vs, tc.rule)
			}
		})
	}
}

// TestGoodCodePasses (MTL-4.1.1): what the rules ask for raises nothing:
// html/template with a constant, crypto/rand, SHA-256, verified TLS, a
// server with timeouts, a query with parameters, a known clause.
func TestGoodCodePasses(t *testing.T) {
	src := `package x
import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"html/template"
	"net/http"
	"time"
)
// Enforces CP-4.1, MTL-4.2.1: a known clause.
func f(d *sql.DB, id string) {
	_ = rand.Text()
	_ = sha256.Sum256(nil)
	_ = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: false}
	_ = &http.Server{ReadHeaderTimeout: time.Second}
	_, _ = d.Exec("DELETE FROM t WHERE id = $1", id)
	_ = template.HTML("<br>")
}
`
	vs, err := CheckFile("x.go", []byte(src), Options{KnownClause: known})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Fatalf("violations in good code: %v", vs)
	}
}

// TestAllowedEntriesStillNeeded (MTL-4.1.1): every exception names a file
// that exists and still breaks that rule, so the list cannot grow stale
// and hide a later breach in the same place.
func TestAllowedEntriesStillNeeded(t *testing.T) {
	for rule, files := range allowed {
		for file, why := range files {
			if strings.TrimSpace(why) == "" {
				t.Errorf("%s %s: no reason given", rule, file)
			}
		}
	}
	// Check without the table: each allowed (rule, file) must appear.
	saved := allowed
	allowed = nil
	defer func() { allowed = saved }()
	vs, err := Check("../..", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for rule, files := range saved {
		for file := range files {
			if !slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == rule && v.File == file }) {
				t.Errorf("Allowed[%s][%s] is no longer needed: remove it", rule, file)
			}
		}
	}
}

// TestPullRequestTemplateCarriesTheChecklist (MTL-4.1.1): the review
// checklist of docs/secure-coding.md is in the pull-request template, line
// for line, so the reviewer sees the one the docs describe.
func TestPullRequestTemplateCarriesTheChecklist(t *testing.T) {
	doc, err := os.ReadFile("../../docs/secure-coding.md")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile("../../.github/pull_request_template.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- checklist:start -->")
	list, _, ok2 := strings.Cut(rest, "<!-- checklist:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/secure-coding.md has no marked checklist")
	}
	items := 0
	for line := range strings.Lines(list) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		items++
		if !strings.HasPrefix(line, "- [ ] ") {
			t.Errorf("checklist line is not a checkbox: %q", line)
		}
		if !strings.Contains(string(tmpl), line) {
			t.Errorf("the pull-request template lacks %q", line)
		}
	}
	if items < 5 {
		t.Fatalf("checklist has %d items", items)
	}
}
