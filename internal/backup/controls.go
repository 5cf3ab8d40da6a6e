package backup

import "github.com/portico/portico/internal/policy"

// Controls lists the backup controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-1.1", Name: "backup.encrypted-snapshot",
			Description: "portico backup create writes every table from one consistent snapshot while the server runs, compressed and sealed under the master keyset, with a manifest of row counts and SHA-256 checksums; restore verifies the checksum, refuses a keyset that cannot open it and a non-empty target, and the restored audit chain verifies.",
			Test:        "internal/backup: TestBackupRoundTrip"},
		{Clause: "CP-5.1", Name: "backup.encrypted-snapshot",
			Description: "Backups hold no personal data in clear: the payload is sealed with a master key that is not inside the backup.",
			Test:        "internal/backup: TestBackupRoundTrip"},
		{Clause: "CP-11.1", Name: "backup.erasure-ledger",
			Description: "Erasures are recorded in a ledger next to the keyset; restoring a backup taken before an erasure destroys the person's key and account again, so nothing of them comes back (no sign-in, no export, no decryptable field).",
			Test:        "internal/backup: TestErasureSurvivesRestore"},
		{Clause: "CP-5.2", Name: "backup.erasure-ledger",
			Description: "Secure deletion reaches backups: a restore re-applies every crypto-shredding made since the backup.",
			Test:        "internal/backup: TestErasureSurvivesRestore"},
	}
}
