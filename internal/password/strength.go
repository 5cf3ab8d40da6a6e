package password

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portico/portico/internal/password/zxcvbn"
	"github.com/portico/portico/internal/password/zxcvbn/frequency"
	"golang.org/x/text/unicode/norm"
)

// maxEstimate is how many characters of a password zxcvbn looks at. Its
// matching grows faster than the square of the length (a Check takes about
// 8 ms at 64 characters, 25 ms at 100 and half a second at 400), and
// looking at fewer characters can only underestimate: whatever follows a
// hard-to-guess start must be guessed too.
const maxEstimate = 64

// Strength returns the zxcvbn score of password, from 0 (guessed at once)
// to 4 (safely unguessable), counting userInputs (email address, name) and
// their parts as words an attacker would try first. It is what Check
// compares with the profile's MinStrength, for a strength meter.
func Strength(password string, userInputs ...string) int {
	return strength(norm.NFKC.String(password), words(userInputs...))
}

// strength scores a normalised password. zxcvbn-go counts bytes where it
// should count characters, so that "éééééééééééé" or a row of one emoji
// scores 4; the score is therefore capped by an estimate that counts
// characters: n characters drawn from the password's own d distinct
// characters take at most d^n guesses.
func strength(pw string, userInputs []string) int {
	if utf8.RuneCountInString(pw) > maxEstimate {
		i, n := 0, 0
		for i = range pw {
			if n == maxEstimate {
				break
			}
			n++
		}
		pw = pw[:i]
	}
	score := zxcvbn.PasswordStrength(pw, userInputs).Score
	return min(score, alphabetScore(pw))
}

// alphabetScore is the zxcvbn score of log2(d^n) bits of entropy, with
// zxcvbn's own guessing rate and thresholds.
func alphabetScore(pw string) int {
	distinct := map[rune]bool{}
	n := 0
	for _, r := range pw {
		distinct[r] = true
		n++
	}
	if n == 0 {
		return 0
	}
	bits := float64(n) * math.Log2(float64(len(distinct)))
	seconds := 0.5 * math.Pow(2, bits) * 0.0001 // zxcvbn: 10 ms per guess on 100 cores
	switch {
	case seconds < 1e2:
		return 0
	case seconds < 1e4:
		return 1
	case seconds < 1e6:
		return 2
	case seconds < 1e8:
		return 3
	}
	return 4
}

// isCommonWord reports whether w is on the common-password blocklist:
// every word of zxcvbn's frequency lists (common passwords, English words,
// first names and surnames), which NIST SP 800-63B names among the values
// to refuse. The lists are searched in place in the binary's read-only
// data (see zxcvbn/frequency): no set is built, so nothing of them stays on
// the heap for the garbage collector to scan.
func isCommonWord(w string) bool { return frequency.Contains(w) }

// maxAffix is the longest run of digits or symbols that isCommon strips from
// either end of a password.
const maxAffix = 8

// isCommon reports whether pw is a word of the blocklist, whole or dressed
// up the way people meet composition rules: a capital letter, digits and
// symbols around it, letters swapped for look-alikes ("P@ssw0rd2024!"), or
// spaces inside ("pass word 123"). Stripped digits and symbols must be no
// longer than the word they surround, so that a short word followed by
// many random symbols is left to the strength estimate, which rates it
// fairly.
//
// Enforces MTL-3.1.1: common passwords are refused.
func isCommon(pw string) bool {
	lower := strings.ToLower(pw)
	if isCommonCore(lower) {
		return true
	}
	joined := strings.Join(strings.Fields(lower), "")
	return joined != lower && isCommonCore(joined)
}

func isCommonCore(s string) bool {
	r := []rune(s)
	lead, trail := 0, 0
	for lead < len(r) && lead < maxAffix && !unicode.IsLetter(r[lead]) {
		lead++
	}
	for trail < len(r) && trail < maxAffix && !unicode.IsLetter(r[len(r)-1-trail]) {
		trail++
	}
	for a := 0; a <= lead; a++ {
		for b := 0; b <= trail; b++ {
			core := len(r) - a - b
			if core <= 0 || a+b > core {
				continue
			}
			word := r[a : len(r)-b]
			for _, w := range []string{string(word), unleet(word, 'i'), unleet(word, 'l')} {
				if isCommonWord(w) {
					return true
				}
			}
		}
	}
	return false
}

// unleet undoes common look-alike substitutions; one stands for either "i"
// or "l", as given.
func unleet(word []rune, one rune) string {
	out := make([]rune, len(word))
	for i, r := range word {
		switch r {
		case '@', '4':
			r = 'a'
		case '3':
			r = 'e'
		case '1', '|':
			r = one
		case '!':
			r = 'i'
		case '0':
			r = 'o'
		case '$', '5':
			r = 's'
		case '7', '+':
			r = 't'
		}
		out[i] = r
	}
	return string(out)
}
