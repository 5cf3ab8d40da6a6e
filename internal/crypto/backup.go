package crypto

import (
	"context"

	"bufio"
	"errors"
	"fmt"
	"github.com/portico/portico/internal/db"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// backupAD binds a backup's ciphertext to its purpose: a backup cannot be
// passed off as any other ciphertext of the keyring, nor the reverse.
var backupAD = []byte("portico-backup-v1")

// ErrBackupKey means the keyset cannot open a backup: it lacks the master
// key the backup was sealed with, or the backup was altered.
var ErrBackupKey = errors.New("this backup cannot be opened with this master keyset")

// SealBackup encrypts a backup under the primary master key and returns
// the ciphertext and that key's ID (for the manifest).
//
// Enforces CP-5.1, MTL-1.1: backups are encrypted at rest under a key that
// is not inside them.
func (k *Keyring) SealBackup(plaintext []byte) ([]byte, uint32, error) {
	m := k.cur.Load()
	ct, err := m.aead.Encrypt(plaintext, backupAD)
	if err != nil {
		return nil, 0, fmt.Errorf("crypto: seal backup: %w", err)
	}
	return ct, m.primary, nil
}

// OpenBackup decrypts a backup sealed under master key keyID. A keyset
// without that key, or an altered backup, fails with ErrBackupKey.
func (k *Keyring) OpenBackup(ciphertext []byte, keyID uint32) ([]byte, error) {
	var pt []byte
	err := k.withMasterKey(keyID, func(m *master) error {
		var err error
		pt, err = m.aead.Decrypt(ciphertext, backupAD)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w (it was sealed with master key %d; the keyset %s has %s): %v", ErrBackupKey, keyID, k.path, k.keyIDs(), err)
	}
	return pt, nil
}

func (k *Keyring) keyIDs() string {
	m := k.cur.Load()
	var ids []string
	for id := range m.keys {
		ids = append(ids, fmt.Sprint(id))
	}
	return "keys " + strings.Join(ids, ", ")
}

// LedgerFileName is the erasure ledger's name, next to the keyset.
const LedgerFileName = "erased-subjects.log"

var ledgerMu sync.Mutex

// LedgerPath is where this keyring records erased subjects.
func (k *Keyring) LedgerPath() string { return filepath.Join(filepath.Dir(k.path), LedgerFileName) }

// recordErasures appends destroyed subjects to the erasure ledger and
// syncs it. The ledger lives with the keyset, outside the database and its
// backups, so that restoring a backup taken before an erasure destroys the
// subject's key again (ErasedSubjects).
//
// Enforces CP-5.2, CP-11.1: an erasure survives a restore.
func (k *Keyring) recordErasures(subjectIDs []string) error {
	if len(subjectIDs) == 0 {
		return nil
	}
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	f, err := os.OpenFile(k.LedgerPath(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("crypto: erasure ledger: %w", err)
	}
	if _, err := f.WriteString(strings.Join(subjectIDs, "\n") + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("crypto: erasure ledger: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("crypto: erasure ledger: %w", err)
	}
	return f.Close()
}

// ErasedSubjects reads the erasure ledger: every subject whose key this
// installation destroyed (empty if none yet).
func (k *Keyring) ErasedSubjects() ([]string, error) {
	f, err := os.Open(k.LedgerPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: erasure ledger: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			out = append(out, id)
		}
	}
	return out, sc.Err()
}

// ReconcileLedger appends to the erasure ledger every subject whose key
// the database holds destroyed and the ledger does not name, and returns
// how many it appended. DestroySubjectKey writes the ledger after its
// transaction commits, so a crash (or a full disk) between the commit and
// the write leaves an erasure only the database knows of; a restore of an
// older backup would then bring the person back. The server runs this at
// every start, before it serves or backs anything up, which closes that
// gap: the database's own tombstones are the record of what was erased,
// the ledger is their copy outside it. (Writing a "pending" entry before
// the commit was the other way; it leaves a restore to guess about
// entries never confirmed, where the tombstones are certain.)
//
// Enforces CP-5.2, CP-11.1: every committed erasure, and only those, is in
// the ledger that a restore re-applies.
func (k *Keyring) ReconcileLedger(ctx context.Context, d *db.DB) (int, error) {
	known, err := k.ErasedSubjects()
	if err != nil {
		return 0, err
	}
	inLedger := make(map[string]bool, len(known))
	for _, id := range known {
		inLedger[id] = true
	}
	rows, err := d.QueryContext(ctx, `SELECT subject_id FROM subject_keys WHERE destroyed_at IS NOT NULL ORDER BY destroyed_at, subject_id`)
	if err != nil {
		return 0, fmt.Errorf("crypto: erasure ledger: %w", err)
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		if !inLedger[id] {
			missing = append(missing, id)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return len(missing), k.recordErasures(missing)
}

// DestroySubjectKeyAgain destroys a subject's key in tx without recording
// it in the ledger again: a restore re-applying the ledger's erasures.
func (k *Keyring) DestroySubjectKeyAgain(ctx context.Context, tx *db.Tx, subjectID string) error {
	return k.destroyKeyRow(ctx, tx, subjectID)
}
