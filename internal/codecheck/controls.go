package codecheck

import "github.com/portico/portico/internal/policy"

// Controls lists the secure-coding controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		// Enforces MTL-4.1.1: the checkable practices are checked.
		{Clause: "MTL-4.1.1", Name: "codecheck.rules",
			Description: "The product's Go source is read on every test run and fails the suite on text/template, math/rand, MD5/SHA-1/DES/RC4, escaping switched off on a built value, TLS verification off, an http.Server without a header timeout, SQL built with fmt.Sprintf, or an Enforces comment naming a clause that does not exist; each deliberate exception is listed with its reason and dropped when no longer needed.",
			Test:        "internal/codecheck: TestRepositoryFollowsSecureCodingRules"},
		{Clause: "MTL-4.1.1", Name: "codecheck.rules-catch",
			Description: "Each rule is shown to catch the mistake it is for, and good code to pass.",
			Test:        "internal/codecheck: TestEachRuleCatchesItsBreach"},
		// Enforces MTL-4.1.1: code review follows a written checklist.
		{Clause: "MTL-4.1.1", Name: "codecheck.review-checklist",
			Description: "docs/secure-coding.md states the practices and the review checklist; the repository's pull-request template carries the same checklist, line for line.",
			Test:        "internal/codecheck: TestPullRequestTemplateCarriesTheChecklist"},
	}
}
