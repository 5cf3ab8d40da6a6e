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

// recordErasure appends a destroyed subject to the erasure ledger and
// syncs it. The ledger lives with the keyset, outside the database and its
// backups, so that restoring a backup taken before an erasure destroys the
// subject's key again (ErasedSubjects).
//
// Enforces CP-5.2, CP-11.1: an erasure survives a restore.
func (k *Keyring) recordErasure(subjectID string) error {
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	f, err := os.OpenFile(k.LedgerPath(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("crypto: erasure ledger: %w", err)
	}
	if _, err := f.WriteString(subjectID + "\n"); err != nil {
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

// DestroySubjectKeyAgain destroys a subject's key in tx without recording
// it in the ledger again: a restore re-applying the ledger's erasures.
func (k *Keyring) DestroySubjectKeyAgain(ctx context.Context, tx *db.Tx, subjectID string) error {
	return k.destroyKeyRow(ctx, tx, subjectID)
}
