package compliance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// SigningKey is the public half of a key that signs evidence bundles.
// The private half never leaves the service: its seed is a server secret
// wrapped by the master keyset.
type SigningKey struct {
	ID string `json:"id"`
	// Fingerprint is the hex SHA-256 of the public key's PKIX (DER)
	// encoding: `openssl pkey -pubin -in key.pem -outform DER | sha256sum`.
	Fingerprint string            `json:"fingerprint"`
	Public      ed25519.PublicKey `json:"-"`
	CreatedAt   time.Time         `json:"created_at"`
	// RetiredAt is when a rotation replaced the key (zero while current).
	// A retired key still verifies the bundles it signed.
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// Current reports whether the key signs new bundles.
func (k SigningKey) Current() bool { return k.RetiredAt.IsZero() }

// PEM is the public key as a PEM "PUBLIC KEY" block (PKIX), the form
// openssl and most tools read.
func (k SigningKey) PEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		// An ed25519.PublicKey of the right length always marshals.
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Fingerprint returns the fingerprint of an Ed25519 public key: the hex
// SHA-256 of its PKIX (DER) encoding ("" for a key of the wrong length).
func Fingerprint(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ParsePublicKey reads an Ed25519 public key from a PEM "PUBLIC KEY"
// block, as public-key.pem and the well-known URL hold it.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return pub, nil
}

// SetKeyring gives the service the keyring that holds the signing keys'
// seeds. Without it, SigningKey and bundles fail saying so.
func (s *Service) SetKeyring(k *crypto.Keyring) { s.keys = k }

// secretName is the server secret that holds a signing key's seed.
func secretName(id string) string { return "compliance-signing:" + id }

// errNoKeyring is the error of a service without its keyring.
var errNoKeyring = errors.New("compliance: the evidence signing key needs the master keyset, which this process has not opened")

// SigningKeys returns every signing key, current and retired, newest
// first. It creates nothing (the web's well-known URL reads it).
func (s *Service) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, public_key, fingerprint, created_at, retired_at FROM compliance_signing_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("compliance: read signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func scanKey(row interface{ Scan(...any) error }) (SigningKey, error) {
	var (
		k       SigningKey
		pub     []byte
		retired sql.NullTime
	)
	if err := row.Scan(&k.ID, &pub, &k.Fingerprint, &k.CreatedAt, &retired); err != nil {
		return SigningKey{}, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return SigningKey{}, fmt.Errorf("compliance: signing key %s: stored public key has %d bytes", k.Fingerprint, len(pub))
	}
	k.Public, k.CreatedAt = ed25519.PublicKey(pub), db.Time(k.CreatedAt)
	if retired.Valid {
		k.RetiredAt = db.Time(retired.Time)
	}
	return k, nil
}

// currentKey reads the current key (sql.ErrNoRows when there is none).
func (s *Service) currentKey(ctx context.Context, q crypto.RowQuerier) (SigningKey, error) {
	return scanKey(q.QueryRowContext(ctx,
		`SELECT id, public_key, fingerprint, created_at, retired_at FROM compliance_signing_keys WHERE retired_at IS NULL`))
}

// SigningKey returns the current signing key, creating it on first use.
//
// Enforces MTL-7.2: the evidence bundle is signed with a key held in the
// keyset (its seed wrapped by the master keyset, never stored in clear),
// so that an auditor can verify the evidence without trusting the
// operator.
func (s *Service) SigningKey(ctx context.Context) (SigningKey, error) {
	k, _, err := s.signer(ctx)
	return k, err
}

// signer returns the current key and its private half, creating the key
// when there is none. Two nodes creating it at once agree on one: the
// unique index on the current key lets only one insert win, and the other
// reads the winner's.
func (s *Service) signer(ctx context.Context) (SigningKey, ed25519.PrivateKey, error) {
	if s.keys == nil {
		return SigningKey{}, nil, errNoKeyring
	}
	k, err := s.currentKey(ctx, s.db)
	if errors.Is(err, sql.ErrNoRows) {
		k, err = s.newKey(ctx, audit.ActorSystem, false)
	}
	if err != nil {
		return SigningKey{}, nil, fmt.Errorf("compliance: signing key: %w", err)
	}
	priv, err := s.privateKey(ctx, k)
	if err != nil {
		return SigningKey{}, nil, err
	}
	return k, priv, nil
}

// privateKey unwraps k's seed and checks that it still makes k's public
// key: a stored public key changed by hand is caught here, not by an
// auditor whose verification then fails.
func (s *Service) privateKey(ctx context.Context, k SigningKey) (ed25519.PrivateKey, error) {
	seed, err := s.keys.Secret(ctx, secretName(k.ID))
	if err != nil {
		return nil, fmt.Errorf("compliance: signing key %s: %w", k.Fingerprint, err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.Public) || Fingerprint(k.Public) != k.Fingerprint {
		return nil, fmt.Errorf("compliance: signing key %s: the stored public key does not match its private key", k.Fingerprint)
	}
	return priv, nil
}

// RotateSigningKey makes a new current signing key and retires the old
// one, which is kept so that the bundles it signed still verify. actor is
// who asked (an account ID, or audit.ActorCLI).
//
// Enforces MTL-7.2: the signing key is rotatable, and each rotation is in
// the audit trail.
func (s *Service) RotateSigningKey(ctx context.Context, actor string) (SigningKey, error) {
	if s.keys == nil {
		return SigningKey{}, errNoKeyring
	}
	return s.newKey(ctx, actor, true)
}

// newKey makes a key (its seed a new server secret) and stores it as the
// current one. With rotate, the current key is retired first; without,
// another node's key made in the meantime wins and is returned.
func (s *Service) newKey(ctx context.Context, actor string, rotate bool) (SigningKey, error) {
	id := strings.ToLower(rand.Text())
	// The secret is made outside the transaction: Secret runs its own
	// (on SQLite, one writer, it would wait for ours).
	seed, err := s.keys.Secret(ctx, secretName(id))
	if err != nil {
		return SigningKey{}, fmt.Errorf("compliance: signing key seed: %w", err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	clear(seed)
	k := SigningKey{ID: id, Public: pub, Fingerprint: Fingerprint(pub)}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		k.CreatedAt = tx.Now()
		action, details := "compliance.signing_key.create", map[string]any{"algorithm": "Ed25519"}
		if rotate {
			action = "compliance.signing_key.rotate"
			old, err := s.currentKey(ctx, tx)
			switch {
			case err == nil:
				details["retired"] = old.Fingerprint
				if _, err := tx.ExecContext(ctx,
					`UPDATE compliance_signing_keys SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL`, k.CreatedAt, old.ID); err != nil {
					return fmt.Errorf("retire signing key: %w", err)
				}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO compliance_signing_keys (id, public_key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
			 ON CONFLICT DO NOTHING`, k.ID, []byte(k.Public), k.Fingerprint, k.CreatedAt)
		if err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if rotate {
				return errors.New("another rotation of the signing key ran at the same time; try again")
			}
			// Another node made the first key at the same moment: use it.
			k, err = s.currentKey(ctx, tx)
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{
			Actor: actor, Action: action, Target: "signing-key:" + k.Fingerprint, Outcome: audit.Success, Details: details,
		})
		return err
	})
	if err != nil {
		return SigningKey{}, err
	}
	return k, nil
}
