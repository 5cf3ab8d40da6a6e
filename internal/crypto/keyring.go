// Package crypto is Portico's keyring: envelope encryption of personal data
// with Tink AEAD (AES-256-GCM).
//
// The hierarchy has two levels. The master keyset is a file (in the data
// directory, or wherever PORTICO_MASTER_KEY_FILE points, so that an operator
// can keep it off the database host). Each data subject (a customer) has its
// own data key, a Tink keyset stored in the database wrapped by the master
// keyset. A personal field is encrypted under its subject's data key with
// associated data that binds the ciphertext to the subject, table, column
// and row it belongs to.
//
// Destroying a subject's data key (crypto-shredding) makes every copy of
// that subject's fields in the database unreadable. A database backup taken
// before the erasure still holds the wrapped data key: making erasure reach
// backups is the backup capability's job (it must not restore an erased
// subject's key). Rotating the master
// keyset adds a new primary key and re-wraps the data keys; old keys stay in
// the keyset, so nothing already written stops decrypting.
package crypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/portico/portico/internal/db"
)

// Errors a caller can test for with errors.Is.
var (
	// ErrSubjectKeyDestroyed means the subject's data key was destroyed
	// (crypto-shredded): its fields can never be decrypted again, and no
	// new field can be encrypted for it.
	ErrSubjectKeyDestroyed = errors.New("crypto: subject key destroyed")
	// ErrNoSubjectKey means the subject never had a data key, so nothing
	// was ever encrypted for it.
	ErrNoSubjectKey = errors.New("crypto: no subject key")
	// ErrAuthentication means a ciphertext failed authentication: it was
	// tampered with, truncated, or belongs to another row, column or
	// subject. No plaintext is returned.
	ErrAuthentication = errors.New("crypto: ciphertext failed authentication")
	// ErrUnwrap means a wrapped key or secret could not be opened with the
	// master keyset: the keyset lacks the master key that wrapped it (a
	// rotated keyset not copied to this node, or the wrong file), or the
	// stored bytes were altered.
	ErrUnwrap = errors.New("crypto: cannot unwrap with the master keyset")
)

// Defaults for the options.
const (
	DefaultCacheSize       = 4096
	DefaultRotateBatchSize = 500
)

// Option adjusts a Keyring.
type Option func(*Keyring)

// WithCacheSize bounds the number of unwrapped data keys kept in memory
// (least recently used are dropped first). Zero disables the cache.
func WithCacheSize(n int) Option {
	return func(k *Keyring) { k.cache = newKeyCache(max(n, 0)) }
}

// WithRotateBatchSize sets how many wrapped keys Rotate re-wraps per
// transaction. Small batches keep each transaction, and the writer lock
// that SQLite takes for it, short.
func WithRotateBatchSize(n int) Option {
	return func(k *Keyring) {
		if n > 0 {
			k.batch = n
		}
	}
}

// Keyring encrypts and decrypts personal fields, and holds the server's
// named secrets. It is safe for concurrent use, and several processes (nodes,
// or a server and `portico keys rotate`) may share one database and keyset.
type Keyring struct {
	d     *db.DB
	path  string
	cache *keyCache
	batch int

	cur      atomic.Pointer[master]
	reloadMu sync.Mutex // one reload of the keyset file at a time

	secretsMu sync.Mutex
	secrets   map[string][]byte
}

// Open loads the master keyset from masterPath and returns a keyring over
// the database d (which must be migrated). A missing, unreadable, corrupt
// or group/world-readable keyset file is an error whose one-line message
// names the file; Open never creates or replaces the file (see
// CreateMasterKeyset). The error wraps fs.ErrNotExist when the file is
// missing, so that start-up can tell a first run from a lost keyset.
func Open(d *db.DB, masterPath string, opts ...Option) (*Keyring, error) {
	m, err := loadMaster(masterPath)
	if err != nil {
		return nil, err
	}
	k := &Keyring{
		d:       d,
		path:    masterPath,
		cache:   newKeyCache(DefaultCacheSize),
		batch:   DefaultRotateBatchSize,
		secrets: map[string][]byte{},
	}
	for _, o := range opts {
		o(k)
	}
	k.cur.Store(m)
	return k, nil
}

// Path is the master keyset file.
func (k *Keyring) Path() string { return k.path }

// PrimaryKeyID is the ID of the master key that wraps new data keys, as
// this process last loaded it.
func (k *Keyring) PrimaryKeyID() uint32 { return k.cur.Load().primary }

// refresh returns the current master keyset, first reloading the file if
// it changed on disk. The check is one stat call. It is how a server keeps
// working after `portico keys rotate` ran in another process: new wraps use
// the new primary key, and keys re-wrapped under it can be opened.
//
// Wrapping goes through refresh, so while the file is missing or broken no
// new key is wrapped: the operator hears about it from the first sign-up,
// not from the next restart. Unwrapping with the keys in memory goes on.
func (k *Keyring) refresh() (*master, error) {
	m := k.cur.Load()
	if fi, err := os.Stat(k.path); err == nil && m.stamp.same(fi) {
		return m, nil
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	m = k.cur.Load()
	if fi, err := os.Stat(k.path); err == nil && m.stamp.same(fi) {
		return m, nil // another goroutine reloaded it meanwhile
	}
	nm, err := loadMaster(k.path)
	if err != nil {
		return m, err
	}
	if id, ok := nm.keepsKeysOf(m); !ok {
		return m, keysetErr(k.path, fmt.Sprintf("file changed on disk and no longer holds master key %d, which is in use; refusing to load it", id), ErrInvalidKeyset)
	}
	k.cur.Store(nm)
	return nm, nil
}

// withMasterKey runs open with a master keyset that holds keyID, reloading
// the keyset file first if the one in memory lacks it, and once more if
// open fails (the file may have changed between the two).
func (k *Keyring) withMasterKey(keyID uint32, open func(m *master) error) error {
	m := k.cur.Load()
	if !m.has(keyID) {
		var err error
		if m, err = k.refresh(); err != nil {
			return fmt.Errorf("%w: %w", ErrUnwrap, err)
		}
		if !m.has(keyID) {
			return fmt.Errorf("%w: master key %d is not in %s (if `portico keys rotate` ran on another node, copy its keyset file here)", ErrUnwrap, keyID, k.path)
		}
	}
	err := open(m)
	if err == nil {
		return nil
	}
	if m2, rerr := k.refresh(); rerr == nil && m2 != m {
		if err = open(m2); err == nil {
			return nil
		}
	}
	return err
}

// RowQuerier is what Decrypt reads a subject's key through: *db.DB (the
// read pool, outside any transaction) or *db.Tx. It is narrower than
// db.Querier because *db.DB offers no ExecContext.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Field names where a ciphertext lives. It is bound into the ciphertext as
// associated data, so a ciphertext copied to another table, column or row
// does not decrypt there.
type Field struct {
	Table, Column, Row string
}

// String shows the field as table.column[row], for error messages. It
// holds names and IDs, never field content.
func (f Field) String() string { return f.Table + "." + f.Column + "[" + f.Row + "]" }

// Domain labels keep the three kinds of associated data apart, so that
// bytes made for one purpose can never be accepted for another.
const (
	adField     = "portico/field/v1"
	adSubjectKy = "portico/subject-key/v1"
	adSecret    = "portico/server-secret/v1"
)

// associatedData encodes parts canonically: each part is prefixed with its
// length (4 bytes, big-endian), so no two different lists of parts encode
// to the same bytes ("ab"+"c" differs from "a"+"bc").
func associatedData(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func fieldAD(subjectID string, f Field) []byte {
	return associatedData(adField, subjectID, f.Table, f.Column, f.Row)
}

func subjectKeyAD(subjectID string) []byte { return associatedData(adSubjectKy, subjectID) }

func checkField(subjectID string, f Field) error {
	if subjectID == "" {
		return errors.New("crypto: empty subject ID")
	}
	if f.Table == "" || f.Column == "" || f.Row == "" {
		return fmt.Errorf("crypto: field %s: table, column and row are all required", f)
	}
	return nil
}

// Encrypt encrypts plaintext for one field of a subject's personal data,
// under the subject's own data key, which is created on first use in tx.
// For a subject whose key was destroyed it returns ErrSubjectKeyDestroyed:
// an erased subject does not quietly get a new key.
//
// Enforces CP-5.1 and MTL-2.1.3: personal data is encrypted at rest, with
// AES-256-GCM under a per-subject key, and bound to its place by associated
// data.
func (k *Keyring) Encrypt(ctx context.Context, tx *db.Tx, subjectID string, f Field, plaintext []byte) ([]byte, error) {
	if err := checkField(subjectID, f); err != nil {
		return nil, err
	}
	a, err := k.dataKey(ctx, tx, tx, subjectID)
	if err != nil {
		return nil, err
	}
	ct, err := a.Encrypt(plaintext, fieldAD(subjectID, f))
	if err != nil {
		return nil, fmt.Errorf("crypto: encrypt %s.%s: %w", f.Table, f.Column, err)
	}
	return ct, nil
}

// Decrypt returns the plaintext of a ciphertext made by Encrypt for the same
// subject and field. It never returns unauthenticated bytes: a ciphertext
// that was altered or moved fails with ErrAuthentication, and one whose
// subject key was destroyed fails with ErrSubjectKeyDestroyed. q may be the
// database (reads) or a transaction.
func (k *Keyring) Decrypt(ctx context.Context, q RowQuerier, subjectID string, f Field, ciphertext []byte) ([]byte, error) {
	if err := checkField(subjectID, f); err != nil {
		return nil, err
	}
	a, err := k.dataKey(ctx, q, nil, subjectID)
	if err != nil {
		return nil, err
	}
	pt, err := a.Decrypt(ciphertext, fieldAD(subjectID, f))
	if err != nil {
		// Tink's error says nothing more useful and nothing secret;
		// the typed error is what callers act on.
		return nil, fmt.Errorf("decrypt %s.%s: %w", f.Table, f.Column, ErrAuthentication)
	}
	return pt, nil
}

// Sealed is one ciphertext of a subject and the field it belongs to.
type Sealed struct {
	Field      Field
	Ciphertext []byte
}

// DecryptAll decrypts several ciphertexts of one subject with one read of
// its key: a list page decrypts fifty fields for the price of one key
// lookup. It fails as a whole, as Decrypt would for the first bad item.
func (k *Keyring) DecryptAll(ctx context.Context, q RowQuerier, subjectID string, items []Sealed) ([][]byte, error) {
	if len(items) == 0 {
		return nil, nil
	}
	for _, it := range items {
		if err := checkField(subjectID, it.Field); err != nil {
			return nil, err
		}
	}
	a, err := k.dataKey(ctx, q, nil, subjectID)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		pt, err := a.Decrypt(it.Ciphertext, fieldAD(subjectID, it.Field))
		if err != nil {
			return nil, fmt.Errorf("decrypt %s.%s: %w", it.Field.Table, it.Field.Column, ErrAuthentication)
		}
		out[i] = pt
	}
	return out, nil
}

// subjectKeyRow is a subject_keys row.
type subjectKeyRow struct {
	wrapped   []byte
	wrappedBy uint32
	destroyed bool
}

func readSubjectKey(ctx context.Context, q RowQuerier, subjectID string) (subjectKeyRow, error) {
	var (
		r         subjectKeyRow
		by        sql.NullInt64
		destroyed int64
	)
	err := q.QueryRowContext(ctx,
		`SELECT wrapped_key, wrapped_by, CASE WHEN destroyed_at IS NULL THEN 0 ELSE 1 END
		 FROM subject_keys WHERE subject_id = $1`, subjectID).Scan(&r.wrapped, &by, &destroyed)
	if err != nil {
		return r, err
	}
	r.wrappedBy = uint32(by.Int64)
	r.destroyed = destroyed != 0
	return r, nil
}

// dataKey returns the subject's data key. The row is read on every call,
// even when the key is cached, so that destruction by any node takes effect
// at once; the cache only saves the unwrap. With tx non-nil a missing key
// is created.
func (k *Keyring) dataKey(ctx context.Context, q RowQuerier, tx *db.Tx, subjectID string) (tink.AEAD, error) {
	row, err := readSubjectKey(ctx, q, subjectID)
	switch {
	case errors.Is(err, sql.ErrNoRows) && tx != nil:
		return k.createDataKey(ctx, tx, subjectID)
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("subject %s: %w", subjectID, ErrNoSubjectKey)
	case err != nil:
		return nil, fmt.Errorf("crypto: read subject key: %w", err)
	case row.destroyed:
		return nil, fmt.Errorf("subject %s: %w", subjectID, ErrSubjectKeyDestroyed)
	}
	return k.openDataKey(subjectID, row)
}

// openDataKey unwraps a subject key, or takes it from the cache if the
// cached one was unwrapped from these very bytes.
func (k *Keyring) openDataKey(subjectID string, row subjectKeyRow) (tink.AEAD, error) {
	sum := sha256.Sum256(row.wrapped)
	if a := k.cache.get(subjectID, sum); a != nil {
		return a, nil
	}
	h, err := k.unwrapSubjectKey(subjectID, row)
	if err != nil {
		return nil, err
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("crypto: subject %s: data key: %w", subjectID, err)
	}
	k.cache.put(subjectID, sum, a)
	return a, nil
}

func (k *Keyring) unwrapSubjectKey(subjectID string, row subjectKeyRow) (*keyset.Handle, error) {
	var h *keyset.Handle
	err := k.withMasterKey(row.wrappedBy, func(m *master) error {
		var err error
		h, err = keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(row.wrapped)), m.aead, subjectKeyAD(subjectID))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrUnwrap) {
			return nil, fmt.Errorf("subject %s: %w", subjectID, err)
		}
		return nil, fmt.Errorf("subject %s: %w: wrapped by master key %d", subjectID, ErrUnwrap, row.wrappedBy)
	}
	return h, nil
}

// wrapSubjectKey wraps h under m's primary key, bound to the subject.
func wrapSubjectKey(m *master, subjectID string, h *keyset.Handle) ([]byte, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), m.aead, subjectKeyAD(subjectID)); err != nil {
		return nil, fmt.Errorf("crypto: subject %s: wrap data key: %w", subjectID, err)
	}
	return buf.Bytes(), nil
}

// createDataKey makes the subject's data key: a fresh AES-256-GCM keyset
// wrapped by the master keyset's primary key. Two nodes may do this for the
// same subject at once; the insert does nothing if a row exists (on
// PostgreSQL it waits for the other transaction), and the key read back is
// the one everybody uses.
func (k *Keyring) createDataKey(ctx context.Context, tx *db.Tx, subjectID string) (tink.AEAD, error) {
	m, err := k.refresh()
	if err != nil {
		return nil, err
	}
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("crypto: new data key: %w", err)
	}
	wrapped, err := wrapSubjectKey(m, subjectID, h)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO subject_keys (subject_id, wrapped_key, wrapped_by, created_at)
		 VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id) DO NOTHING`,
		subjectID, wrapped, int64(m.primary), tx.Now()); err != nil {
		return nil, fmt.Errorf("crypto: store subject key: %w", err)
	}
	row, err := readSubjectKey(ctx, tx, subjectID)
	if err != nil {
		return nil, fmt.Errorf("crypto: read subject key: %w", err)
	}
	if row.destroyed {
		return nil, fmt.Errorf("subject %s: %w", subjectID, ErrSubjectKeyDestroyed)
	}
	if bytes.Equal(row.wrapped, wrapped) {
		a, err := aead.New(h)
		if err != nil {
			return nil, fmt.Errorf("crypto: subject %s: data key: %w", subjectID, err)
		}
		// If tx rolls back, this entry's hash matches no stored row
		// and is never used.
		k.cache.put(subjectID, sha256.Sum256(wrapped), a)
		return a, nil
	}
	return k.openDataKey(subjectID, row) // another node won the race
}

// DestroySubjectKey crypto-shreds a subject: its wrapped data key is
// overwritten with NULL and destroyed_at is set, in tx. Afterwards every
// field encrypted for the subject, wherever its ciphertext was copied, fails
// to decrypt with ErrSubjectKeyDestroyed against this database (a backup
// taken earlier still holds the wrapped key: see the package comment). The row stays as a
// tombstone, which is evidence of the erasure and stops Encrypt from
// creating a new key for the subject. A subject that never had a key gets a
// tombstone too. Calling it again changes nothing.
//
// Enforces CP-5.2: personal data past its retention, or erased on request,
// is securely deleted by destroying the only key that can read it.
func (k *Keyring) DestroySubjectKey(ctx context.Context, tx *db.Tx, subjectID string) error {
	if subjectID == "" {
		return errors.New("crypto: empty subject ID")
	}
	if err := k.destroyKeyRow(ctx, tx, subjectID); err != nil {
		return err
	}
	// A backup taken before now still holds the wrapped key: the ledger
	// next to the keyset lets a restore destroy it again. It is written
	// only once tx has committed: an erasure that rolls back must not
	// erase the person at the next restore. A crash between the commit
	// and this write leaves a tombstone the ledger lacks; ReconcileLedger,
	// run at every start, appends it (see there).
	tx.AfterCommit(func() error { return k.recordErasures([]string{subjectID}) })
	return nil
}

// destroyKeyRow overwrites a subject's wrapped key with NULL and leaves
// the tombstone, in tx.
func (k *Keyring) destroyKeyRow(ctx context.Context, tx *db.Tx, subjectID string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO subject_keys (subject_id, wrapped_key, wrapped_by, created_at, destroyed_at)
		 VALUES ($1, NULL, NULL, $2, $2)
		 ON CONFLICT (subject_id) DO UPDATE
		 SET wrapped_key = NULL,
		     destroyed_at = COALESCE(subject_keys.destroyed_at, excluded.destroyed_at)`,
		subjectID, tx.Now())
	if err != nil {
		return fmt.Errorf("crypto: destroy subject key: %w", err)
	}
	// Every use reads the row first, so the cache could not serve the key
	// anyway; dropping it lets the memory go.
	k.cache.drop(subjectID)
	return nil
}
