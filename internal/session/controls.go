package session

import "github.com/portico/portico/internal/policy"

// Controls lists the session controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-6.3", Name: "session.timeouts",
			Description: "Every request is authenticated against the server-side session record; a session ends after the profile's idle timeout (30 minutes) and absolute timeout (12 hours), and the end is audited.",
			Test:        "internal/session: TestTimeouts"},
		{Clause: "CP-6.3", Name: "session.revocation",
			Description: "Sessions are revoked on the server at once, on every node: logout, ending one session, signing out everywhere else, and ending all on password reset, role change or a disabled account; an account cannot end another's sessions.",
			Test:        "internal/session: TestEndAndEndAll"},
		{Clause: "CP-6.3", Name: "session.token",
			Description: "Session tokens are an ID and a 130-bit secret from crypto/rand; only the secret's SHA-256 is stored and compared in constant time; malformed, forged, ended and expired tokens get one indistinguishable refusal; the cookie is __Host-, Secure, HttpOnly, SameSite=Lax.",
			Test:        "internal/session: TestRejectsForgedTokens"},
		{Clause: "CP-6.3", Name: "session.rotation",
			Description: "The session token is replaced after the second factor and on privilege change; the old token stops working, and rotation never extends the session's lifetime.",
			Test:        "internal/session: TestRotate"},
		{Clause: "CP-6.3", Name: "session.credentials-epoch",
			Description: "Each session records its account's credentials epoch; a session behind the account's epoch is refused and ended on its next request on any node, so that a session created by a sign-in that raced a reset (it checked the old password) or rotated from one is never usable.",
			Test:        "internal/session: TestCredentialsEpoch"},
		{Clause: "CP-6.3", Name: "session.step-up",
			Description: "Sensitive actions need an authentication within the profile's step-up window (5 minutes), recorded per session and audited.",
			Test:        "internal/session: TestStepUp"},
		{Clause: "CP-4.1", Name: "session.assurance-level",
			Description: "Each session records the assurance level it reached (1: password, 2: multi-factor) and the methods used, so that no session below the MFA requirement reaches customer data.",
			Test:        "internal/session: TestCreateAndAuthenticate"},
		{Clause: "CP-5.1", Name: "session.context-encrypted",
			Description: "A session's IP address and user agent are stored encrypted under the account's data key; only a coarse device and country are kept in clear; no token secret is stored.",
			Test:        "internal/session: TestContextEncryptedAtRest"},
		{Clause: "CP-5.2", Name: "session.purge",
			Description: "Sessions nobody presents again are swept at their deadlines, and ended sessions are deleted with their encrypted IP address and user agent after the retention cut-off.",
			Test:        "internal/session: TestSweepAndPurge"},
		{Clause: "CP-5.3", Name: "session.audit",
			Description: "Session creation, rotation, re-authentication, end, expiry and purge are audited in the same transaction, with opaque IDs and no personal data or secret.",
			Test:        "internal/session: TestAuditTrail"},
	}
}
