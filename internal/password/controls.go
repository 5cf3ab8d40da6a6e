package password

import "github.com/portico/portico/internal/policy"

// Controls lists the password policy engine's controls, for the compliance
// map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-4.3", Name: "password.length",
			Description: "New passwords are NFKC-normalised and counted in Unicode characters; fewer than password.min_length or more than password.max_length characters are refused with a message naming the limit, never truncated.",
			Test:        "internal/password: TestCheckLength"},
		{Clause: "CP-4.3", Name: "password.complexity",
			Description: "Complexity is measured as guessability, as NIST SP 800-63B advises: the zxcvbn score (with the user's email and name as known words, capped for repeated characters) must reach password.min_strength.",
			Test:        "internal/password: TestCheckStrength"},
		{Clause: "CP-4.3", Name: "password.composition",
			Description: "When password.required_classes is set, a password must mix that many of lower case, upper case, digits and symbols.",
			Test:        "internal/password: TestCheckRequiredClasses"},
		{Clause: "MTL-3.1.1", Name: "password.strength",
			Description: "Strong passwords: a zxcvbn score below password.min_strength is refused with advice to use a passphrase of unrelated words.",
			Test:        "internal/password: TestCheckStrength"},
		{Clause: "MTL-3.1.1", Name: "password.common-blocklist",
			Description: "Common passwords, words and names from zxcvbn's frequency lists are refused, also with a capital, look-alike characters or a few digits and symbols added (\"Password123!\", \"P@ssw0rd2024\").",
			Test:        "internal/password: TestCheckCommonPasswords"},
		{Clause: "MTL-3.1.1", Name: "password.no-personal-info",
			Description: "A password containing the email address's local part, the name, or a part of either of 3 or more characters is refused, ignoring case.",
			Test:        "internal/password: TestCheckPersonalInfo"},
		{Clause: "MTL-3.1.1", Name: "password.breached-blocklist",
			Description: "Passwords found in a local Pwned Passwords file are refused (binary search by byte offset, never loaded into memory); the same lookup flags compromised passwords at sign-in. A missing or malformed file stops the start.",
			Test:        "internal/password: TestBreached"},
		{Clause: "CP-3.1", Name: "password.rules-shown",
			Description: "The password rules are shown in plain language before the user types, generated from the same settings and in the same order as the checks.",
			Test:        "internal/password: TestRulesReflectSettings"},
	}
}
