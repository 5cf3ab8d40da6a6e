// Package password is the password policy engine: it decides whether a new
// password is acceptable under the profile's password rules and explains,
// in plain words, which rule a refused password broke and how to fix it.
//
// Sign-up, password change, password reset and `portico user create` all
// call the same Checker, so that one set of rules holds everywhere
// (MTL-3.1.1). The rules follow NIST SP 800-63B: a length range counted in
// characters, no composition rules unless the profile asks for them, and a
// refusal of passwords that are common, built from the user's own email
// address or name, easy to guess (zxcvbn) or known from data breaches
// (a local copy of the Pwned Passwords list).
//
// Hashing and the history of previous passwords belong to the caller: with
// salted argon2id hashes, reuse can only be checked against the hashes the
// caller keeps.
package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/policy"
)

// Checker applies the password rules of one profile. It is safe for
// concurrent use; Close releases the breached-password file.
type Checker struct {
	p        policy.Password
	breached *breachedFile // nil when no file is configured
}

// Input is a candidate password with the facts about its owner that it
// must not contain. Email and Name may be empty (for example when an
// administrator sets a password before the name is known).
type Input struct {
	Password string
	Email    string
	Name     string
}

// New returns a Checker for the password settings p. breachedFile is the
// path of a Pwned Passwords file (SHA-1, ordered by hash) or "" for none;
// it is opened and its format checked now, so that a wrong path stops the
// server at start instead of silently turning the breach check off.
func New(p policy.Password, breachedFile string) (*Checker, error) {
	switch {
	case p.MinLength < 1:
		return nil, fmt.Errorf("password policy: min_length must be at least 1, not %d", p.MinLength)
	case p.MaxLength < p.MinLength:
		return nil, fmt.Errorf("password policy: max_length (%d) is less than min_length (%d)", p.MaxLength, p.MinLength)
	case p.MinStrength < 0 || p.MinStrength > 4:
		return nil, fmt.Errorf("password policy: min_strength must be from 0 to 4, not %d", p.MinStrength)
	case p.RequiredClasses < 0 || p.RequiredClasses > 4:
		return nil, fmt.Errorf("password policy: required_classes must be from 0 to 4, not %d", p.RequiredClasses)
	}
	c := &Checker{p: p}
	if breachedFile != "" {
		b, err := openBreached(breachedFile)
		if err != nil {
			return nil, err
		}
		c.breached = b
	}
	return c, nil
}

// Close releases the breached-password file. Breached and Check fail after
// Close when a file was configured.
func (c *Checker) Close() error {
	if c.breached == nil {
		return nil
	}
	return c.breached.close()
}

// Messages of the refusals, one per rule. They name the rule and the fix,
// and never repeat the password, the email address or the name.
const (
	msgTooShort = "The password is too short: use at least %d characters."
	msgTooLong  = "The password is too long: use at most %d characters."
	msgClasses  = "The password needs more kinds of characters: mix at least %d of these four: lower-case letters, upper-case letters, digits and symbols (a space counts as a symbol)."
	msgPersonal = "The password contains your email address or your name: leave them out."
	msgCommon   = "The password is a commonly used password, or a common word or name with a few digits or symbols added: choose something less predictable, such as several unrelated words."
	msgWeak     = "The password is too easy to guess: use a passphrase of several unrelated words, for example four or more words that have nothing to do with each other or with you."
	msgBreached = "The password has appeared in a data breach, so attackers will try it first: choose another one."
)

// normalBlowup bounds how much NFKC can shrink a text: stream-safe
// normalisation keeps at least one character in 31, so an input of more
// than normalBlowup*MaxLength characters is too long whatever it becomes.
const normalBlowup = 32

// Check reports whether in.Password may be set, as nil or as an
// apperr.Invalid error whose message says which rule failed and how to fix
// it. Rules are checked in the order that Rules lists them, and the first
// failure is returned. Any other error (the breached-password file could not
// be read) is internal: the caller should refuse the password, not skip the
// check.
//
// Enforces CP-4.3 and MTL-3.1.1: length, complexity as guessability, no
// common, personal or breached passwords.
func (c *Checker) Check(in Input) error {
	// A huge input could only be too long; deciding that before normalising
	// keeps the cost of a hostile request bounded.
	if utf8.RuneCountInString(in.Password) > normalBlowup*c.p.MaxLength {
		return apperr.Errorf(apperr.Invalid, msgTooLong, c.p.MaxLength)
	}
	// NFKC so that the same password typed on different keyboards or
	// input methods counts, and later hashes, the same; never truncated or
	// case-folded, so every character the user chose counts.
	pw := norm.NFKC.String(in.Password)
	n := utf8.RuneCountInString(pw)
	if n < c.p.MinLength {
		return apperr.Errorf(apperr.Invalid, msgTooShort, c.p.MinLength)
	}
	if n > c.p.MaxLength {
		return apperr.Errorf(apperr.Invalid, msgTooLong, c.p.MaxLength)
	}
	if c.p.RequiredClasses > 0 && classes(pw) < c.p.RequiredClasses {
		return apperr.Errorf(apperr.Invalid, msgClasses, c.p.RequiredClasses)
	}
	parts := personalParts(in.Email, in.Name)
	if containsPersonal(pw, parts) {
		return apperr.New(apperr.Invalid, msgPersonal)
	}
	if isCommon(pw) {
		return apperr.New(apperr.Invalid, msgCommon)
	}
	if c.p.MinStrength > 0 && strength(pw, parts) < c.p.MinStrength {
		return apperr.New(apperr.Invalid, msgWeak)
	}
	found, err := c.isBreached(in.Password, pw)
	if err != nil {
		return err
	}
	if found {
		return apperr.New(apperr.Invalid, msgBreached)
	}
	return nil
}

// Breached reports whether password is in the breached-password file, and
// false when no file is configured. At sign-in a true answer is evidence
// that the account's password is compromised.
//
// Enforces MTL-3.1.1: passwords known from breaches are refused.
func (c *Checker) Breached(password string) (bool, error) {
	return c.isBreached(password, norm.NFKC.String(password))
}

// isBreached looks up the password as normalised and, when it differs, as
// typed: the breach corpus holds hashes of what people typed, unnormalised.
func (c *Checker) isBreached(raw, normalised string) (bool, error) {
	if c.breached == nil {
		return false, nil
	}
	found, err := c.breached.contains(normalised)
	if err != nil || found || raw == normalised {
		return found, err
	}
	return c.breached.contains(raw)
}

// Rules returns the password rules in plain language, in the order Check
// applies them, for the page where the user chooses a password: users meet
// the rules before they type, not only when a password is refused (CP-3.1).
func (c *Checker) Rules() []string {
	rules := []string{
		fmt.Sprintf("At least %d characters (up to %d); spaces and any characters are welcome.", c.p.MinLength, c.p.MaxLength),
	}
	if c.p.RequiredClasses > 0 {
		rules = append(rules, fmt.Sprintf("At least %d of these four kinds of characters: lower-case letters, upper-case letters, digits and symbols (a space counts as a symbol).", c.p.RequiredClasses))
	}
	rules = append(rules,
		"Not containing your email address or your name.",
		"Not a commonly used password, nor a common word or name with a few digits or symbols added.")
	if c.p.MinStrength > 0 {
		rules = append(rules, "Not easy to guess: a passphrase of several unrelated words is both strong and easy to remember.")
	}
	if c.breached != nil {
		rules = append(rules, "Not found in known data breaches.")
	}
	return rules
}

// classes counts the kinds of characters in pw: lower case, upper case,
// digits, and symbols (everything else, spaces and emoji included). Letters
// of scripts without case count as lower case, so that a composition rule
// does not lock out users who write in them.
func classes(pw string) int {
	var lower, upper, digit, symbol bool
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			upper = true
		case unicode.IsLetter(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		default:
			symbol = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, symbol} {
		if b {
			n++
		}
	}
	return n
}

// minPersonalPart is the shortest part of an email address or name that a
// password may not contain: shorter parts ("Li", "al") occur in too many
// ordinary words to be refused.
const minPersonalPart = 3

// personalParts returns the words of the email address's local part and of
// the name that a password may not contain (see words).
func personalParts(email, name string) []string {
	local := email
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		local = email[:i]
	}
	return words(local, name)
}

// words returns, case-folded, each of inputs whole and its parts: pieces
// between separators (". _ - + ' @" and spaces) and the letter runs inside
// those pieces ("john" of "john1985"). Runs of digits alone are left out:
// "123" or "2024" is no more personal than any other number. Words shorter
// than minPersonalPart are dropped.
func words(inputs ...string) []string {
	fold := cases.Fold()
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if utf8.RuneCountInString(s) >= minPersonalPart && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, whole := range inputs {
		whole = fold.String(norm.NFKC.String(whole))
		add(whole)
		for _, piece := range strings.FieldsFunc(whole, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
			add(piece)
			for _, run := range strings.FieldsFunc(piece, func(r rune) bool { return !unicode.IsLetter(r) }) {
				add(run)
			}
		}
	}
	return out
}

// containsPersonal reports whether pw contains any of parts, ignoring case.
func containsPersonal(pw string, parts []string) bool {
	if len(parts) == 0 {
		return false
	}
	folded := cases.Fold().String(pw)
	for _, p := range parts {
		if strings.Contains(folded, p) {
			return true
		}
	}
	return false
}
