// Package codecheck holds the secure-coding rules that a program can
// check: the half of docs/secure-coding.md that does not need a reviewer
// (MTL-4.1.1). The rules read Portico's own Go source and run as this
// package's tests, on every test run, so a change that breaks one fails
// the suite before it reaches review. They live in test files so that the
// binary does not carry a Go parser; the package itself only declares its
// controls for the compliance map.
//
// The rules look at the syntax tree, not at types: they are cheap, and
// the few places where a rule is knowingly broken are listed in allowed
// (rules_test.go) with the reason, which review reads.
package codecheck
