package password_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
)

// TestCheckLength: CP-4.3 length criteria, counted in Unicode characters
// after NFKC, at both boundaries. The strength estimate is off so that
// each case tests the length alone.
func TestCheckLength(t *testing.T) {
	c := newChecker(t, noStrength, "")
	const (
		eAcute     = "é"       // one character, two bytes
		eCombining = "e\u0301" // NFKC makes it one é
		ligature   = "ﬃ"       // NFKC makes it three letters: ffi
	)
	emoji := strings.Repeat("🐱🚀🎻🌵", 33) // four bytes each
	cases := []struct {
		name     string
		password string
		want     string // "" for accepted
	}{
		{"empty", "", msgTooShort12},
		{"11 accented letters (22 bytes)", strings.Repeat(eAcute, 11), msgTooShort12},
		{"exactly 12 accented letters", strings.Repeat(eAcute, 12), ""},
		{"11 letters with combining accents (22 code points)", strings.Repeat(eCombining, 11), msgTooShort12},
		{"12 letters with combining accents", strings.Repeat(eCombining, 12), ""},
		{"ligature counts as its letters: 10 code points, 12 characters", ligature + "xq7zkw2vb", ""},
		{"ligature counts as its letters: 9 code points, 11 characters", ligature + "xq7zkw2v", msgTooShort12},
		{"exactly 12 emoji", string([]rune(emoji)[:12]), ""},
		{"exactly 128 emoji (512 bytes)", string([]rune(emoji)[:128]), ""},
		{"129 emoji", string([]rune(emoji)[:129]), msgTooLong128},
		{"128 letters with combining accents (256 code points)", strings.Repeat(eCombining, 128), ""},
		{"129 letters with combining accents", strings.Repeat(eCombining, 129), msgTooLong128},
		{"127 letters and a ligature: 130 characters, never truncated", strings.Repeat("q", 127) + ligature, msgTooLong128},
		{"a megabyte", strings.Repeat("x", 1<<20), msgTooLong128},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(password.Input{Password: tc.password})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefused(t, err, tc.want)
		})
	}

	t.Run("limits come from the profile", func(t *testing.T) {
		c := newChecker(t, func(p *policy.Password) { p.MinLength, p.MaxLength, p.MinStrength = 15, 64, 0 }, "")
		wantRefused(t, c.Check(password.Input{Password: strings.Repeat("é", 14)}),
			"The password is too short: use at least 15 characters.")
		if err := c.Check(password.Input{Password: strings.Repeat("é", 15)}); err != nil {
			t.Fatal(err)
		}
		if err := c.Check(password.Input{Password: strings.Repeat("é", 64)}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, c.Check(password.Input{Password: strings.Repeat("é", 65)}),
			"The password is too long: use at most 64 characters.")
	})
}

// TestCheckRequiredClasses: CP-4.3 composition, only when the profile sets
// required_classes.
func TestCheckRequiredClasses(t *testing.T) {
	classes := func(n int) func(*policy.Password) {
		return func(p *policy.Password) { p.MinStrength, p.RequiredClasses = 0, n }
	}
	cases := []struct {
		required int
		password string
		ok       bool
	}{
		{0, "lowercaseonlyletters", true},
		{3, "lowercaseonlyletters", false},
		{3, "correct horse battery staple", false}, // lower case and a symbol (space)
		{3, "Correct horse battery staple", true},  // upper, lower, space
		{3, "correcthorsebattery42", false},
		{3, "CorrectHorseBattery42", true},
		{3, "我的密码是非常安全的句子42", false}, // letters without case count as lower case
		{3, "我的密码是非常安全的句子42!", true},
		{4, "Correct horse battery staple", false},
		{4, "Correct horse battery staple 42", true},
		{4, "ÉCOLE forestière 42 ½", true}, // accented upper and lower case; ½ is not a decimal digit
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d classes %q", tc.required, tc.password), func(t *testing.T) {
			c := newChecker(t, classes(tc.required), "")
			err := c.Check(password.Input{Password: tc.password})
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefused(t, err, msgClasses(tc.required))
		})
	}
}

// TestCheckPersonalInfo: MTL-3.1.1, a password is not built from the
// user's own email address or name; parts shorter than 3 characters do
// not count.
func TestCheckPersonalInfo(t *testing.T) {
	c := newChecker(t, noStrength, "")
	const (
		email = "j.smith-jones+shop@example.com"
		name  = "Maria Ann Li"
	)
	cases := []struct {
		name     string
		password string
		refused  bool
	}{
		{"whole local part", "xq J.Smith-Jones+shop zv", true},
		{"local part, other case", "zz J.SMITH-JONES+SHOP 77", true},
		{"part of the local part", "violet smith quarry", true},
		{"another part", "quarry JONES lantern", true},
		{"plus tag", "lantern shop quarry 86", true},
		{"name part", "MARIA quarry lantern", true},
		{"name part of exactly 3 characters", "planning quarry lantern", true}, // "ann"
		{"whole name", "quarry maria ann li 86", true},
		{"email in full", "j.smith-jones+shop@example.com", true},
		{"short parts do not count: j, li", "jolly limerick quartz 77", false},
		{"the domain does not count", "example quartz violin 59", false},
		{"no personal word", "violet quarry lantern 86", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(password.Input{Password: tc.password, Email: email, Name: name})
			if tc.refused {
				wantRefused(t, err, msgPersonal)
			} else if err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}

	t.Run("case folding beyond ASCII", func(t *testing.T) {
		err := c.Check(password.Input{Password: "violet STRASSE quarry", Name: "Jürgen Straße"})
		wantRefused(t, err, msgPersonal)
		err = c.Check(password.Input{Password: "violet JÜRGEN quarry", Name: "Jürgen Straße"})
		wantRefused(t, err, msgPersonal)
	})
	t.Run("name normalised too", func(t *testing.T) {
		err := c.Check(password.Input{Password: "violet FIONA quarry", Name: "ﬁona"})
		wantRefused(t, err, msgPersonal)
	})
	t.Run("letters inside a local part with digits", func(t *testing.T) {
		err := c.Check(password.Input{Password: "violet support quarry", Email: "support1985@example.com"})
		wantRefused(t, err, msgPersonal)
	})
	t.Run("digits alone are not personal", func(t *testing.T) {
		if err := c.Check(password.Input{Password: "violet quarry 1985 lantern", Email: "support1985@example.com"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no email or name", func(t *testing.T) {
		if err := c.Check(password.Input{Password: "violet quarry lantern 86"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("email without @", func(t *testing.T) {
		err := c.Check(password.Input{Password: "violet quarry weirdo", Email: "weirdo"})
		wantRefused(t, err, msgPersonal)
	})
}

// TestCheckCommonPasswords: MTL-3.1.1, common passwords are refused, also
// dressed up with capitals, look-alikes, digits and symbols.
func TestCheckCommonPasswords(t *testing.T) {
	common := []string{
		"password1234",
		"Password123!",
		"P@ssw0rd2024",
		"Summer2024!!",
		"!!Monkey2024",
		"pass word 1234",
		"understanding", // a single dictionary word
		"Christiansen99",
		"basketball12",
		"QWERTYUIOP12",
	}
	t.Run("refused by the blocklist itself", func(t *testing.T) {
		c := newChecker(t, noStrength, "")
		for _, p := range common {
			wantRefused(t, c.Check(password.Input{Password: p}), msgCommon)
		}
	})
	t.Run("refused with the default profile", func(t *testing.T) {
		c := newChecker(t, nil, "")
		for _, p := range append(common, "qwertyuiopasdf") {
			if err := c.Check(password.Input{Password: p}); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%q: got %v, want refused", p, err)
			}
		}
		// A keyboard walk is not in the lists: the strength estimate catches it.
		wantRefused(t, c.Check(password.Input{Password: "qwertyuiopasdf"}), msgWeak)
	})
	t.Run("a passphrase is accepted", func(t *testing.T) {
		c := newChecker(t, nil, "")
		const phrase = "correct horse battery staple 42"
		if s := password.Strength(phrase); s != 4 {
			t.Errorf("Strength(%q) = %d, want 4", phrase, s)
		}
		if err := c.Check(password.Input{Password: phrase, Email: "randall@example.com", Name: "Randall Munroe"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a short word among many random symbols is left to the estimate", func(t *testing.T) {
		c := newChecker(t, nil, "")
		if err := c.Check(password.Input{Password: "dog&9%3$8#5!2@7"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCheckStrength: CP-4.3 complexity and MTL-3.1.1 strong passwords,
// measured by zxcvbn against the profile's min_strength.
func TestCheckStrength(t *testing.T) {
	c := newChecker(t, nil, "")
	for _, p := range []string{
		"qwertyuiopasdf",
		"aaaaaaaaaaaaaaaa",
		"abcdefghijklmnop",
		"abcabcabcabcabcabc", // zxcvbn-go misses repeated sequences; the cap does not
		// zxcvbn-go counts bytes: without the cap these would score 4.
		"éééééééééééééééé",
		strings.Repeat("🙂", 16),
		strings.Repeat("éà", 8),
	} {
		wantRefused(t, c.Check(password.Input{Password: p}), msgWeak)
	}
	for _, p := range []string{
		"correct horse battery staple 42",
		"violet quarry lantern 86",
		"我的密码是非常安全的句子",
		"🐱🚀🎻🌵🍩🧲🦉🎈🛶🪁🧊🎲",
	} {
		if err := c.Check(password.Input{Password: p}); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}

	t.Run("email and name are words an attacker tries first", func(t *testing.T) {
		if s := password.Strength("quentinbarnaby7"); s < 2 {
			t.Fatalf("without user inputs: %d", s)
		}
		if s := password.Strength("quentinbarnaby7", "Quentin Barnaby", "qb@example.com"); s != 0 {
			t.Fatalf("with user inputs: %d, want 0", s)
		}
	})
	t.Run("min_strength 0 turns the estimate off", func(t *testing.T) {
		c := newChecker(t, noStrength, "")
		if err := c.Check(password.Input{Password: "qwertyuiopasdf"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("min_strength 4", func(t *testing.T) {
		c := newChecker(t, func(p *policy.Password) { p.MinStrength = 4 }, "")
		const three = "purple monkey dishwasher"
		if s := password.Strength(three); s != 3 {
			t.Fatalf("Strength(%q) = %d, want 3", three, s)
		}
		wantRefused(t, c.Check(password.Input{Password: three}), msgWeak)
	})
	t.Run("long passwords are estimated on their start", func(t *testing.T) {
		long := strings.Repeat("violet quarry lantern 86 ", 6)[:128]
		if utf8.RuneCountInString(long) != 128 {
			t.Fatal("bad fixture")
		}
		if err := c.Check(password.Input{Password: long}); err != nil {
			t.Fatal(err)
		}
		// Only the first 64 characters are estimated, which can only
		// underestimate: a strong end does not rescue a trivial start.
		wantRefused(t, c.Check(password.Input{Password: strings.Repeat("a", 64) + "violet quarry lantern 86"}), msgWeak)
	})
}

// TestCheckRuleOrder: the first rule that fails is the one reported, in
// the order that Rules lists them (CP-4.3, MTL-3.1.1).
func TestCheckRuleOrder(t *testing.T) {
	pwned := "violet quarry lantern 86"
	file := writeLines(t, breachedLines([]string{pwned, "password", "qwertyuiopasdf", "maria quarry lantern"}), "\n", true)
	c := newChecker(t, func(p *policy.Password) { p.RequiredClasses = 2 }, file)
	cases := []struct {
		password string
		want     string
	}{
		{"password", msgTooShort12},               // short, common, breached
		{"aaaaaaaaaaaaaaaaaaaa", msgClasses(2)},   // one class, weak
		{"maria quarry lantern", msgPersonal},     // personal, breached
		{"Password123!", msgCommon},               // common, weak
		{"qwertyuiopasdf 1", msgWeak},             // weak
		{pwned, msgBreached},                      // strong, breached
		{"violet quarry lantern 87", ""},          // fine
		{strings.Repeat("a", 129), msgTooLong128}, // long, one class
	}
	for _, tc := range cases {
		err := c.Check(password.Input{Password: tc.password, Name: "Maria"})
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tc.password, err)
			}
			continue
		}
		t.Run(tc.password, func(t *testing.T) { wantRefused(t, err, tc.want) })
	}
}

// TestCheckMessagesHoldNoSecrets: a refusal never repeats the password,
// the email address or the name, which may end up in logs.
func TestCheckMessagesHoldNoSecrets(t *testing.T) {
	file := writeLines(t, breachedLines([]string{"Violet quarry lantern 86"}), "\n", true)
	c := newChecker(t, func(p *policy.Password) { p.RequiredClasses = 3 }, file)
	in := []password.Input{
		{Password: "tiny", Email: "someone.private@example.com", Name: "Private Person"},
		{Password: "onlylowercaseletters", Email: "someone.private@example.com", Name: "Private Person"},
		{Password: "Someone.Private 12", Email: "someone.private@example.com", Name: "Private Person"},
		{Password: "Password123!", Email: "someone.private@example.com", Name: "Private Person"},
		{Password: "Qwertyuiopasdf 1", Email: "someone.private@example.com", Name: "Private Person"},
		{Password: "Violet quarry lantern 86", Email: "someone.private@example.com", Name: "Private Person"},
	}
	for _, i := range in {
		err := c.Check(i)
		if err == nil {
			t.Fatalf("%q accepted", i.Password)
		}
		text := strings.ToLower(err.Error())
		for _, secret := range []string{i.Password, i.Email, "someone", "private", "person"} {
			if strings.Contains(text, strings.ToLower(secret)) {
				t.Errorf("error %q contains %q", err, secret)
			}
		}
	}
}

// TestRulesReflectSettings: CP-3.1, the rules shown before the user types
// are built from the same settings, in the order Check applies them.
func TestRulesReflectSettings(t *testing.T) {
	const (
		personal = "Not containing your email address or your name."
		common   = "Not a commonly used password, nor a common word or name with a few digits or symbols added."
		strong   = "Not easy to guess: a passphrase of several unrelated words is both strong and easy to remember."
		breached = "Not found in known data breaches."
	)
	file := writeLines(t, breachedLines([]string{"x"}), "\n", true)
	cases := []struct {
		name string
		edit func(*policy.Password)
		file string
		want []string
	}{
		{"customer portal profile", nil, "", []string{
			"At least 12 characters (up to 128); spaces and any characters are welcome.",
			personal, common, strong,
		}},
		{"with a breached file", nil, file, []string{
			"At least 12 characters (up to 128); spaces and any characters are welcome.",
			personal, common, strong, breached,
		}},
		{"composition rule, other lengths, no estimate", func(p *policy.Password) {
			p.MinLength, p.MaxLength, p.RequiredClasses, p.MinStrength = 15, 64, 3, 0
		}, file, []string{
			"At least 15 characters (up to 64); spaces and any characters are welcome.",
			"At least 3 of these four kinds of characters: lower-case letters, upper-case letters, digits and symbols (a space counts as a symbol).",
			personal, common, breached,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := newChecker(t, tc.edit, tc.file).Rules()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Rules()\n got %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("the 1642MTL profile", func(t *testing.T) {
		p, err := policy.Builtin(policy.MTLWeb)
		if err != nil {
			t.Fatal(err)
		}
		c, err := password.New(p.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.Rules()[0]; !strings.HasPrefix(got, "At least 15 characters") {
			t.Errorf("first rule %q", got)
		}
	})
}

// TestNewRefusesBadSettings: a Checker is never built from settings that
// would accept empty passwords or compare with an impossible score.
func TestNewRefusesBadSettings(t *testing.T) {
	cases := map[string]func(*policy.Password){
		"zero min length":        func(p *policy.Password) { p.MinLength = 0 },
		"max below min":          func(p *policy.Password) { p.MaxLength = 11 },
		"strength above 4":       func(p *policy.Password) { p.MinStrength = 5 },
		"negative strength":      func(p *policy.Password) { p.MinStrength = -1 },
		"five character classes": func(p *policy.Password) { p.RequiredClasses = 5 },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			if c, err := password.New(settings(t, edit), ""); err == nil {
				c.Close()
				t.Fatal("accepted")
			}
		})
	}
}

// TestControls: the controls name known clauses and tests of this package.
func TestControls(t *testing.T) {
	if _, err := policy.Coverage(password.Controls()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*_test.go")
	var src strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	clauses := map[string]bool{}
	for _, c := range password.Controls() {
		clauses[c.Clause] = true
		name, ok := strings.CutPrefix(c.Test, "internal/password: ")
		if !ok || !regexp.MustCompile(`(?m)^func `+regexp.QuoteMeta(name)+`\(t \*testing\.T\)`).MatchString(src.String()) {
			t.Errorf("control %s (%s): test %q not found", c.Name, c.Clause, c.Test)
		}
	}
	for _, want := range []string{"CP-4.3", "MTL-3.1.1", "CP-3.1"} {
		if !clauses[want] {
			t.Errorf("no control for %s", want)
		}
	}
}

// FuzzCheck: no input makes Check panic or fail with anything but a
// refusal.
func FuzzCheck(f *testing.F) {
	f.Add("correct horse battery staple 42", "a.b@example.com", "Ann Li")
	f.Add("ééééééééééééé", "", "")
	f.Add("P@ssw0rd2024", "p@ssw0rd@example.com", "P@ss W0rd")
	f.Add("ﬃﬃﬃﬃ\u0301\u0301🙂🙂", "🙂@🙂", "ﬃ")
	f.Add("\xff\xfe invalid utf-8 \xc3", "\xff", "\xc3")
	c, err := password.New(settings(f, nil), "")
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	f.Fuzz(func(t *testing.T, pw, email, name string) {
		err := c.Check(password.Input{Password: pw, Email: email, Name: name})
		if err != nil && apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("Check: %v", err)
		}
		if s := password.Strength(pw, email, name); s < 0 || s > 4 {
			t.Fatalf("Strength = %d", s)
		}
	})
}
