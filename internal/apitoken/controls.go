package apitoken

import "github.com/portico/portico/internal/policy"

// Controls lists the API tokens' controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-6.3", Name: "apitoken.scoped-expiring",
			Description: "Personal access tokens are for staff only, scoped to non-sensitive permissions of the holder's role, expire within the profile's api_token_max_lifetime, are stored as SHA-256 hashes compared in constant time, shown once, revocable, with last use (time, encrypted address) recorded.",
			Test:        "internal/apitoken: TestTokenScopesAndLifetime"},
		{Clause: "CP-6.3", Name: "apitoken.revocation",
			Description: "A revoked or expired token, or any forged value, is refused at once with one answer; a foreign token ID cannot be revoked.",
			Test:        "internal/apitoken: TestTokenRevocation"},
		{Clause: "CP-6.3", Name: "apitoken.credentials-epoch",
			Description: "A token records the credentials epoch of the session that made it and is refused once its holder's epoch moves past it (a password reset or change, sign out everywhere, an administrator's end sessions, a risk sign-out, a suspicious-activity report), on every node, even when the token was minted by a request that raced the reset.",
			Test:        "internal/apitoken: TestTokenCredentialsEpoch"},
		{Clause: "CP-6.3", Name: "apitoken.create-step-up",
			Description: "Creating a token needs a step-up re-authentication within the profile's window, from a session that is still live.",
			Test:        "internal/apitoken: TestTokenCreationNeedsStepUp"},
		{Clause: "CP-8.2", Name: "apitoken.new-network",
			Description: "Each token remembers the networks (/24, /56) it was used from, as keyed hashes (at most 16, the most recent); a use from a network new to the token is audited as token.new_network in the same transaction that records it, once, and detection raises token_new_network from it; the first use teaches the first network. A use within the minute from a known network writes nothing.",
			Test:        "internal/apitoken: TestTokenNewNetwork"},
	}
}
