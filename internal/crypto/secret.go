package crypto

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"

	"github.com/portico/portico/internal/db"
)

// SecretSize is the length in bytes of every server secret.
const SecretSize = 32

func secretAD(name string) []byte { return associatedData(adSecret, name) }

// Secret returns the server secret called name (for example the key of the
// CSRF tokens, or of the keyed hash that finds accounts by email). The first
// call on any node generates it with crypto/rand and stores it wrapped by
// the master keyset; every node then reads the same value. It is cached in
// memory after the first read. The caller gets its own copy.
//
// Secret runs its own transaction when the secret does not exist yet, so do
// not call it from inside a Transact (on SQLite, with one writer, that
// would wait for itself); fetch secrets at start-up.
//
// Enforces CP-5.1: server secrets are at rest only in wrapped form.
func (k *Keyring) Secret(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("crypto: empty secret name")
	}
	k.secretsMu.Lock()
	s, ok := k.secrets[name]
	k.secretsMu.Unlock()
	if ok {
		return bytes.Clone(s), nil
	}

	s, err := k.readSecret(ctx, k.d, name)
	if errors.Is(err, sql.ErrNoRows) {
		s, err = k.createSecret(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	k.secretsMu.Lock()
	k.secrets[name] = s
	k.secretsMu.Unlock()
	return bytes.Clone(s), nil
}

func (k *Keyring) readSecret(ctx context.Context, q RowQuerier, name string) ([]byte, error) {
	var (
		wrapped []byte
		by      int64
	)
	err := q.QueryRowContext(ctx, `SELECT wrapped, wrapped_by FROM server_secrets WHERE name = $1`, name).Scan(&wrapped, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: read secret %s: %w", name, err)
	}
	return k.unwrapSecret(name, wrapped, uint32(by))
}

func (k *Keyring) unwrapSecret(name string, wrapped []byte, by uint32) ([]byte, error) {
	var s []byte
	err := k.withMasterKey(by, func(m *master) error {
		var err error
		s, err = m.aead.Decrypt(wrapped, secretAD(name))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrUnwrap) {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		return nil, fmt.Errorf("secret %s: %w: wrapped by master key %d", name, ErrUnwrap, by)
	}
	if len(s) != SecretSize {
		return nil, fmt.Errorf("secret %s: %w: wrong length", name, ErrUnwrap)
	}
	return s, nil
}

// createSecret generates the secret and stores it unless another node got
// there first; either way the stored one is returned.
func (k *Keyring) createSecret(ctx context.Context, name string) ([]byte, error) {
	m, err := k.refresh()
	if err != nil {
		return nil, err
	}
	fresh := make([]byte, SecretSize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("crypto: generate secret: %w", err)
	}
	wrapped, err := m.aead.Encrypt(fresh, secretAD(name))
	if err != nil {
		return nil, fmt.Errorf("crypto: wrap secret %s: %w", name, err)
	}
	var s []byte
	err = k.d.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO server_secrets (name, wrapped, wrapped_by, created_at)
			 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
			name, wrapped, int64(m.primary), tx.Now()); err != nil {
			return fmt.Errorf("crypto: store secret %s: %w", name, err)
		}
		var err error
		s, err = k.readSecret(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
