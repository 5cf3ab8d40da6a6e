package crypto

import "github.com/portico/portico/internal/policy"

// Controls lists the keyring's controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-5.1", Name: "crypto.field-encryption",
			Description: "Personal fields are encrypted with AES-256-GCM (Tink) under the data subject's own data key; associated data binds each ciphertext to its table, column and row.",
			Test:        "internal/crypto: TestCiphertextBoundToItsPlace"},
		{Clause: "MTL-2.1.3", Name: "crypto.field-encryption",
			Description: "Personal data is encrypted at rest under per-subject keys wrapped by a master keyset kept outside the database.",
			Test:        "internal/crypto: TestEncryptDecrypt"},
		{Clause: "CP-5.1", Name: "crypto.key-rotation",
			Description: "`portico keys rotate` adds a primary master key and re-wraps every data key, resumably, while the server runs; old ciphertexts keep decrypting.",
			Test:        "internal/crypto: TestRotate"},
		{Clause: "CP-5.2", Name: "crypto.shredding",
			Description: "DestroySubjectKey makes every field of a subject unreadable (a typed error, not garbage), and leaves no trace of the key in the database file.",
			Test:        "internal/crypto: TestDestroySubjectKey"},
		{Clause: "CP-5.2", Name: "crypto.erasure-ledger-after-commit",
			Description: "The erasure ledger that a restore re-applies is written only after the erasure commits, never for one that rolled back; an erasure committed without its entry (a crash in between) is added from the database's tombstones at every start.",
			Test:        "internal/crypto: TestErasureLedgerFollowsCommits"},
		{Clause: "MTL-1.1", Name: "crypto.field-encryption",
			Description: "Confidentiality of user data: encryption at rest with managed, rotatable keys; a missing or corrupt keyset stops the server instead of being regenerated.",
			Test:        "internal/app: TestStartRefusesBadFiles"},
	}
}
