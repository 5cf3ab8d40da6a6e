package codecheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Rule names, as Violation.Rule and the allowed table give them.
const (
	RuleHTMLTemplate   = "html-template-only"    // no text/template: pages escape by context
	RuleCryptoRand     = "crypto-rand"           // no math/rand: secrets come from crypto/rand
	RuleWeakCrypto     = "no-weak-crypto"        // no MD5, SHA-1, DES, RC4
	RuleTrustedHTML    = "no-unescaped-template" // no template.HTML and friends on built strings
	RuleTLSVerify      = "tls-verify"            // no InsecureSkipVerify
	RuleServerTimeouts = "server-timeouts"       // every http.Server has a ReadHeaderTimeout
	RuleSQLFormat      = "sql-parameters"        // no fmt.Sprintf as a query: parameters only
	RuleClauseIDs      = "enforces-known-clause" // "Enforces X" names clauses that exist
)

// Violation is one place where a rule is broken.
type Violation struct {
	Rule string
	File string // slash-separated, relative to the root
	Line int
	What string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", v.File, v.Line, v.Rule, v.What)
}

// allowed lists the places where a rule is broken on purpose, by rule and
// file (relative, slash-separated), with the reason. A review of a change
// that adds a line here is a review of the reason.
var allowed = map[string]map[string]string{
	RuleCryptoRand: {
		"internal/identity/mimic.go":    "the timing of an unknown account's sign-in is jittered to look like a known one's: not a secret",
		"internal/livefeed/postgres.go": "the reconnection back-off is jittered so that nodes do not reconnect in step: not a secret",
	},
	RuleWeakCrypto: {
		"internal/password/breached.go": "the breached-password list is keyed by SHA-1 (the Have I Been Pwned format): a lookup key, not a protection",
	},
	RuleTrustedHTML: {
		"internal/svgchart/svgchart.go": "the chart is SVG built from numbers and escaped labels, by the package that escapes them",
		"internal/web/mfa.go":           "the QR code is a data: URL of PNG bytes Portico made, and the otpauth: URL is the authenticator's own scheme, built by the TOTP library",
		"internal/markdown/markdown.go": "Markdown rendered by goldmark is sanitized by bluemonday (or fully escaped) just before the conversion",
	},
	RuleTLSVerify: {
		"internal/vendorcheck/vendorcheck.go": "a vendor's endpoint is probed without verification so that a bad chain is reported (judgeChain verifies it separately), never trusted: nothing is sent",
	},
}

// Options adjust a run.
type Options struct {
	// KnownClause reports whether a clause ID exists; nil skips the
	// enforces-known-clause rule.
	KnownClause func(id string) bool
}

// Dirs are the directories under the root whose code the rules read: the
// product. bench/ holds load generators that talk to a throwaway server
// and are not part of the binary.
var Dirs = []string{"cmd", "internal"}

// Check reads every non-test Go file under root's Dirs and returns the
// violations that Allowed does not list, ordered by file and line.
func Check(root string, o Options) ([]Violation, error) {
	var out []Violation
	for _, dir := range Dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			vs, err := CheckFile(filepath.ToSlash(rel), src, o)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if _, ok := allowed[v.Rule][v.File]; !ok {
					out = append(out, v)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// weakCrypto are the packages of broken primitives.
var weakCrypto = map[string]bool{"crypto/md5": true, "crypto/sha1": true, "crypto/des": true, "crypto/rc4": true}

// trusting are html/template's types that switch escaping off.
var trusting = map[string]bool{"HTML": true, "JS": true, "JSStr": true, "URL": true, "CSS": true, "HTMLAttr": true, "Srcset": true}

// queries are the database/sql (and db.Tx) methods whose first argument
// after the context is SQL.
var queries = map[string]bool{"ExecContext": true, "QueryContext": true, "QueryRowContext": true, "Exec": true, "Query": true, "QueryRow": true}

// enforces finds the clause IDs of an "Enforces" comment: the word, then
// clause IDs separated by commas or "and", then a colon.
var (
	enforces = regexp.MustCompile(`Enforces ((?:(?:CP|MTL)-[0-9][0-9.]*[0-9](?:, | and )?)+)`)
	clauseID = regexp.MustCompile(`(?:CP|MTL)-[0-9][0-9.]*[0-9]`)
)

// CheckFile applies every rule to one file's source, without the Allowed
// table. name is how violations name the file.
func CheckFile(name string, src []byte, o Options) ([]Violation, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []Violation
	add := func(rule string, pos token.Pos, format string, args ...any) {
		out = append(out, Violation{Rule: rule, File: name, Line: fset.Position(pos).Line, What: fmt.Sprintf(format, args...)})
	}
	// The local names of the packages the rules look for.
	local := map[string]string{} // import path -> name in this file
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		n := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			n = imp.Name.Name
		}
		local[p] = n
		switch {
		case p == "text/template":
			// Enforces MTL-4.1.1 (and CP-6.1): pages are html/template,
			// which escapes by context.
			add(RuleHTMLTemplate, imp.Pos(), "imports text/template; pages use html/template")
		case p == "math/rand" || p == "math/rand/v2":
			// Enforces MTL-4.1.1: every secret comes from crypto/rand.
			add(RuleCryptoRand, imp.Pos(), "imports %s; secrets and tokens come from crypto/rand", p)
		case weakCrypto[p]:
			add(RuleWeakCrypto, imp.Pos(), "imports %s, a broken primitive", p)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && local["html/template"] != "" && x.Name == local["html/template"] && trusting[sel.Sel.Name] {
				if len(n.Args) == 1 {
					if _, lit := n.Args[0].(*ast.BasicLit); lit {
						return true // a constant the author wrote
					}
				}
				add(RuleTrustedHTML, n.Pos(), "template.%s switches escaping off for a built value", sel.Sel.Name)
			}
			if queries[sel.Sel.Name] {
				for _, a := range n.Args {
					if c, ok := a.(*ast.CallExpr); ok && isSprintf(c, local["fmt"]) {
						add(RuleSQLFormat, c.Pos(), "%s given a query built with fmt.Sprintf; pass values as parameters", sel.Sel.Name)
					}
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "InsecureSkipVerify" && isTrue(n.Value) {
				add(RuleTLSVerify, n.Pos(), "InsecureSkipVerify: true turns certificate checks off")
			}
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "InsecureSkipVerify" && i < len(n.Rhs) && isTrue(n.Rhs[i]) {
					add(RuleTLSVerify, n.Pos(), "InsecureSkipVerify = true turns certificate checks off")
				}
			}
		case *ast.CompositeLit:
			// Enforces MTL-4.1.1 (and MTL-1.1): every server bounds how
			// long a client may take to send its headers.
			if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Server" && isIdent(sel.X, local["net/http"]) {
				if !slices.ContainsFunc(n.Elts, func(e ast.Expr) bool {
					kv, ok := e.(*ast.KeyValueExpr)
					return ok && isIdent(kv.Key, "ReadHeaderTimeout")
				}) {
					add(RuleServerTimeouts, n.Pos(), "http.Server without ReadHeaderTimeout")
				}
			}
		}
		return true
	})
	if o.KnownClause != nil {
		for _, cg := range f.Comments {
			text := cg.Text()
			for _, m := range enforces.FindAllStringSubmatch(text, -1) {
				for _, id := range clauseID.FindAllString(m[1], -1) {
					if !o.KnownClause(id) {
						add(RuleClauseIDs, cg.Pos(), "\"Enforces\" names %s, which is not a clause", id)
					}
				}
			}
		}
	}
	return out, nil
}

func isSprintf(c *ast.CallExpr, fmtName string) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && fmtName != "" && isIdent(sel.X, fmtName) && (sel.Sel.Name == "Sprintf" || sel.Sel.Name == "Sprint")
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && name != "" && id.Name == name
}

func isTrue(e ast.Expr) bool { return isIdent(e, "true") }
