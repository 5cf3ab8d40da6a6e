package passkey

import "github.com/portico/portico/internal/policy"

// Controls lists the passkey controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-4.1", Name: "passkey.second-factor",
			Description: "Passkeys (WebAuthn) serve as a phishing-resistant second factor: the signature is verified against the stored public key, Portico's origin and RP ID, and a single-use challenge that expires after 5 minutes and belongs to the signing-in account; a credential of another account, a replayed or expired ceremony, and a bad signature are refused and audited.",
			Test:        "internal/passkey: TestPasskeyCeremoniesInBrowser"},
		{Clause: "CP-4.1", Name: "passkey.passwordless-user-verification",
			Description: "A passwordless sign-in with a discoverable passkey requires user verification (PIN or biometric on the device), so one passkey gesture stands for two factors; an answer without it is refused.",
			Test:        "internal/passkey: TestPasskeyCeremoniesInBrowser"},
		{Clause: "CP-4.1", Name: "passkey.clone-detection",
			Description: "A signature counter that does not move forward (a cloned authenticator) is refused, atomically across nodes, and audited as denied with the stored and received counts.",
			Test:        "internal/passkey: TestPasskeyCeremoniesInBrowser"},
		{Clause: "CP-4.1", Name: "passkey.single-use-challenge",
			Description: "WebAuthn ceremonies are stored in the database so any node can finish them; a challenge is claimed by one conditional UPDATE (exactly one of concurrent finishes wins), expires by the database clock, and is bound to its account and kind.",
			Test:        "internal/passkey: TestChallengeSingleUseAndExpiry"},
		{Clause: "MTL-3.1.2", Name: "passkey.enrolment",
			Description: "Customers add passkeys (discoverable, user verification preferred, existing ones excluded), name, list and remove them; every change is audited and scoped to the account, and another account's passkey answers not found.",
			Test:        "internal/passkey: TestPasskeysScopedToAccount"},
		{Clause: "MTL-3.1.2", Name: "passkey.second-factor",
			Description: "Passkeys are implemented as a second factor and for passwordless sign-in, proven end to end in Chromium with a virtual authenticator.",
			Test:        "internal/passkey: TestPasskeyCeremoniesInBrowser"},
		{Clause: "CP-5.1", Name: "passkey.label-encrypted",
			Description: "A passkey's label is free text that may name a person: it is encrypted under the account's data key, and kept out of the audit trail.",
			Test:        "internal/passkey: TestPasskeysScopedToAccount"},
	}
}
