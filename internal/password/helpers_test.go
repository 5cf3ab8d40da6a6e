package password_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
)

// settings returns the Customer Portal profile's password settings (min 12,
// max 128, strength 3, no composition rule), changed by edit.
func settings(t testing.TB, edit func(*policy.Password)) policy.Password {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&p.Password)
	}
	return p.Password
}

// newChecker returns a Checker for settings(edit) and breachedFile,
// closed at the end of the test.
func newChecker(t testing.TB, edit func(*policy.Password), breachedFile string) *password.Checker {
	t.Helper()
	c, err := password.New(settings(t, edit), breachedFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// noStrength isolates the other rules from the strength estimate.
func noStrength(p *policy.Password) { p.MinStrength = 0 }

// wantRefused fails unless err is an apperr.Invalid error with message msg.
func wantRefused(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want refused with %q", msg)
	}
	if apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("error %v has code %s, want %s", err, apperr.CodeOf(err), apperr.Invalid)
	}
	if got := apperr.MessageOf(err); got != msg {
		t.Fatalf("message\n got %q\nwant %q", got, msg)
	}
}

// The messages, as the user reads them.
const (
	msgTooShort12 = "The password is too short: use at least 12 characters."
	msgTooLong128 = "The password is too long: use at most 128 characters."
	msgPersonal   = "The password contains your email address or your name: leave them out."
	msgCommon     = "The password is a commonly used password, or a common word or name with a few digits or symbols added: choose something less predictable, such as several unrelated words."
	msgWeak       = "The password is too easy to guess: use a passphrase of several unrelated words, for example four or more words that have nothing to do with each other or with you."
	msgBreached   = "The password has appeared in a data breach, so attackers will try it first: choose another one."
)

func msgClasses(n int) string {
	return fmt.Sprintf("The password needs more kinds of characters: mix at least %d of these four: lower-case letters, upper-case letters, digits and symbols (a space counts as a symbol).", n)
}

// sha1Hex is the upper-case hex SHA-1 of s, as in Pwned Passwords files.
func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// breachedLines returns the sorted "HASH:count" lines of passwords.
func breachedLines(passwords []string) []string {
	lines := make([]string, len(passwords))
	for i, p := range passwords {
		lines[i] = fmt.Sprintf("%s:%d", sha1Hex(p), i%977+1)
	}
	slices.Sort(lines)
	return lines
}

// writeLines writes lines to a new file in a temporary directory, each
// ended with eol, the last one too unless lastEOL is false.
func writeLines(t testing.TB, lines []string, eol string, lastEOL bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pwned-passwords-sha1-ordered-by-hash.txt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i, l := range lines {
		w.WriteString(l)
		if i < len(lines)-1 || lastEOL {
			w.WriteString(eol)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// numbered returns n passwords "prefix-0", "prefix-1", ...
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}
