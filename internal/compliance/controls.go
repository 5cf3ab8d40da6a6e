package compliance

import "github.com/portico/portico/internal/policy"

// Controls lists the live compliance report's controls, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-7.2", Name: "compliance.evidence-status",
			Description: "Evidence checks query the running system on a schedule (leased, one node) and on demand; each run is stored with its results and audited; a clause's status is computed from its controls and its latest evidence, never typed, with the history and the periods in which it failed.",
			Test:        "internal/compliance: TestEvidenceDrivesClauseStatus"},
		{Clause: "MTL-7.2", Name: "compliance.report-page",
			Description: "/admin/compliance shows administrators, auditors and the security team every clause with its status and reasons, controls and tests, evidence and history, filtered by status; administrators and the security team take the evidence on demand (once a minute at most), auditors cannot; each download (JSON, HTML, PDF) is audited.",
			Test:        "internal/web: TestCompliancePage"},
		{Clause: "MTL-7.2", Name: "compliance.report-offline",
			Description: "The same report offline (`portico compliance report --format html|json|pdf`): a self-contained HTML page with no script and every value escaped, and a PDF whose text is read back in tests.",
			Test:        "internal/compliance: TestReportHTML"},
		{Clause: "MTL-7.2", Name: "compliance.signing-key",
			Description: "The evidence bundle is signed with an Ed25519 key whose seed is a server secret wrapped by the master keyset: created once on first use (one current key even when two nodes race), rotatable with the old key kept, each creation and rotation audited; public keys served at /.well-known/portico-evidence-keys.json.",
			Test:        "internal/compliance: TestSigningKeyCreatedOnceRotatedAndKept"},
		{Clause: "MTL-7.2", Name: "compliance.signing-key-integrity",
			Description: "Before signing, the key's seed from the keyset must give the stored public key and fingerprint: a public key changed in the database is refused, not published.",
			Test:        "internal/compliance: TestSigningKeyMatchesItsSeed"},
		{Clause: "MTL-7.2", Name: "compliance.signed-bundle",
			Description: "`portico compliance bundle` writes the report, the effective profile and its digest, the build, the audit chain head and anchors and the key fingerprints with a manifest of SHA-256 digests signed with Ed25519 (checkable with openssl alone); the zip comment signs every other byte of the archive; the making is audited.",
			Test:        "internal/compliance: TestBundleRoundTrip"},
		{Clause: "MTL-7.2", Name: "compliance.bundle-verification",
			Description: "`portico compliance verify` fails on any edit of any byte of the bundle, naming the file, the manifest, the signature or the archive bytes that changed, and on a key other than the installation's.",
			Test:        "internal/compliance: TestBundleTamperingIsNamed"},
		{Clause: "MTL-7.2", Name: "compliance.archive-signature",
			Description: "A bit flipped anywhere in the bundle's raw bytes (headers, central directory, comment, compressed data) fails verification.",
			Test:        "internal/compliance: TestBundleEveryByteCounts"},
		{Clause: "CP-5.3", Name: "compliance.bundle-chain-anchor",
			Description: "The bundle carries the audit chain's head: `portico compliance verify --chain` fails when anything recorded before it was edited, deleted or cut off since, even when the chain alone looks intact.",
			Test:        "internal/compliance: TestBundleChainHead"},
	}
}
