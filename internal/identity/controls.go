package identity

import "github.com/portico/portico/internal/policy"

// Controls lists the identity controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-4.3", Name: "identity.password-hashing",
			Description: "Passwords are stored only as salted argon2id hashes with the profile's parameters (default m=19 MiB, t=2, p=1), NFKC-normalised, never truncated or case-folded.",
			Test:        "internal/identity: TestPasswordHash"},
		{Clause: "CP-4.3", Name: "identity.password-rules",
			Description: "Minimum and maximum length from the profile and no email address in the password; every rejection names the rule.",
			Test:        "internal/identity: TestCheckPasswordSaysWhichRuleFailed"},
		{Clause: "MTL-3.1.1", Name: "identity.password-rules",
			Description: "The same password rules apply to sign-up and `portico user create`.",
			Test:        "cmd/portico: TestUserCreate"},
		{Clause: "CP-5.1", Name: "identity.email-encrypted",
			Description: "The email address is stored encrypted under the account's data key and found through an HMAC lookup key, never in clear text.",
			Test:        "internal/identity: TestCreateAccount"},
		{Clause: "MTL-2.1.3", Name: "identity.email-encrypted",
			Description: "Personal fields of accounts are encrypted at rest; audit events hold only opaque account IDs.",
			Test:        "internal/identity: TestCreateAccount"},
	}
}
