package crypto

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/portico/portico/internal/db"
)

// RotateResult says what Rotate did.
type RotateResult struct {
	// PrimaryKeyID is the master key everything is now wrapped by.
	PrimaryKeyID uint32
	// PreviousKeyID was the primary key before this rotation began.
	PreviousKeyID uint32
	// Resumed is true when this run finished an interrupted rotation
	// instead of adding a new key.
	Resumed bool
	// MasterKeys is the number of keys in the master keyset.
	MasterKeys int
	// SubjectKeys and Secrets count what this run re-wrapped.
	SubjectKeys, Secrets int
}

// Rotate rotates the master keyset: it adds a new AES-256-GCM key, makes it
// primary, writes the keyset file (atomically, mode 0600), then re-wraps
// every live subject key and server secret under the new key, in batches of
// one transaction each, writing a line of progress to progress (which may
// be nil) after each batch. Old keys stay in the keyset, so ciphertexts and
// wrapped keys from before keep opening, here and on servers still running.
//
// Rotate is resumable. Each rotation is recorded in key_rotations before
// the keyset file is written, and marked finished once nothing is left to
// re-wrap. If the keyset's primary key belongs to an unfinished rotation,
// an earlier run was interrupted (cancelled, killed, a database error):
// this run finishes its re-wrap and adds no key. Otherwise it adds one.
// A rotation recorded for a key that never reached the file (a crash
// between the two writes) is marked abandoned.
//
// The keyset file is locked (flock on its directory, see lockKeysetFile)
// only while a key is added, not during the re-wrap; the kernel drops the
// lock if the process dies, so an interrupted run never blocks the next.
//
// Enforces CP-5.1 and MTL-2.1.3: encryption keys are managed and rotatable.
func (k *Keyring) Rotate(ctx context.Context, progress io.Writer) (RotateResult, error) {
	if progress == nil {
		progress = io.Discard
	}
	res, err := k.beginRotation(ctx, progress)
	if err != nil {
		return res, err
	}

	m := k.cur.Load()
	subjects, secrets, err := k.countNotUnder(ctx, m.primary)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(progress, "re-wrapping %d subject keys and %d server secrets under master key %d\n", subjects, secrets, m.primary)

	if err := k.rewrapAll(ctx, progress, "subject keys", subjects, k.rewrapSubjectBatch, &res.SubjectKeys); err != nil {
		return res, err
	}
	if err := k.rewrapAll(ctx, progress, "server secrets", secrets, k.rewrapSecretBatch, &res.Secrets); err != nil {
		return res, err
	}

	// The rotation this run began (or resumed) is done. If another
	// process rotated meanwhile, rewrapAll followed its newer primary.
	target := res.PrimaryKeyID
	m = k.cur.Load()
	res.PrimaryKeyID, res.MasterKeys = m.primary, m.handle.Len()
	err = k.d.Transact(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE key_rotations SET finished_at = $1, outcome = 'done'
			 WHERE key_id = $2 AND finished_at IS NULL`, tx.Now(), int64(target))
		return err
	})
	if err != nil {
		return res, fmt.Errorf("crypto: record rotation: %w", err)
	}
	fmt.Fprintf(progress, "done: every subject key and server secret is wrapped by master key %d (%d keys in %s)\n", m.primary, res.MasterKeys, k.path)
	return res, nil
}

// beginRotation decides between resuming and adding a key, and adds it.
// It holds the keyset file's lock throughout, so that two concurrent runs
// see each other's key: the second one finds the first's unfinished
// rotation and joins its re-wrap instead of adding a key of its own.
func (k *Keyring) beginRotation(ctx context.Context, progress io.Writer) (RotateResult, error) {
	var res RotateResult
	unlock, err := lockKeysetFile(k.path)
	if err != nil {
		return res, err
	}
	defer unlock()

	// The file as it is now, not as this process first read it.
	m, err := k.refresh()
	if err != nil {
		return res, err
	}

	type pending struct{ key, prev int64 }
	var open []pending
	rows, err := k.d.QueryContext(ctx, `SELECT key_id, previous_key_id FROM key_rotations WHERE finished_at IS NULL`)
	if err != nil {
		return res, fmt.Errorf("crypto: read rotations: %w", err)
	}
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.key, &p.prev); err != nil {
			rows.Close()
			return res, fmt.Errorf("crypto: read rotations: %w", err)
		}
		open = append(open, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("crypto: read rotations: %w", err)
	}

	for _, p := range open {
		switch {
		case uint32(p.key) == m.primary:
			res.Resumed, res.PreviousKeyID = true, uint32(p.prev)
		case m.has(uint32(p.key)):
			// Its key is in the keyset but no longer primary: the
			// re-wrap below moves its items on to the primary.
			err = k.closeRotation(ctx, p.key, "superseded")
		default:
			// Its key never reached the file; nothing is wrapped by it.
			err = k.closeRotation(ctx, p.key, "abandoned")
		}
		if err != nil {
			return res, err
		}
	}
	if res.Resumed {
		res.PrimaryKeyID, res.MasterKeys = m.primary, m.handle.Len()
		fmt.Fprintf(progress, "resuming the unfinished rotation to master key %d (previous primary %d)\n", m.primary, res.PreviousKeyID)
		return res, nil
	}

	mgr := keyset.NewManagerFromHandle(m.handle)
	id, err := mgr.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return res, fmt.Errorf("crypto: new master key: %w", err)
	}
	if err := mgr.SetPrimary(id); err != nil {
		return res, fmt.Errorf("crypto: new master key: %w", err)
	}
	h, err := mgr.Handle()
	if err != nil {
		return res, fmt.Errorf("crypto: new master key: %w", err)
	}
	nm, err := newMaster(k.path, h, fileStamp{})
	if err != nil {
		return res, err
	}

	// Record the rotation before the file holds the key: a crash in
	// between leaves a record for a key the file lacks, which the next run
	// abandons. The other order could leave a new primary with no record,
	// and the next run would add yet another key.
	err = k.d.Transact(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO key_rotations (key_id, previous_key_id, started_at) VALUES ($1, $2, $3)`,
			int64(id), int64(m.primary), tx.Now())
		return err
	})
	if err != nil {
		return res, fmt.Errorf("crypto: record rotation: %w", err)
	}

	k.reloadMu.Lock()
	err = writeKeysetFile(k.path, h, true)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(k.path); err == nil {
			nm.stamp = fileStamp{info: fi}
			k.cur.Store(nm)
		}
	}
	k.reloadMu.Unlock()
	if err != nil {
		// Nothing was wrapped by the new key; give up on it. Use a fresh
		// context: ctx may be what failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = k.closeRotation(actx, int64(id), "abandoned")
		return res, err
	}

	res.PrimaryKeyID, res.PreviousKeyID, res.MasterKeys = id, m.primary, h.Len()
	fmt.Fprintf(progress, "added master key %d as primary (previous primary %d; %d keys in %s)\n", id, m.primary, h.Len(), k.path)
	return res, nil
}

// closeRotation marks an unfinished rotation as finished with outcome.
func (k *Keyring) closeRotation(ctx context.Context, key int64, outcome string) error {
	return k.d.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`UPDATE key_rotations SET finished_at = $1, outcome = $2
			 WHERE key_id = $3 AND finished_at IS NULL`, tx.Now(), outcome, key); err != nil {
			return fmt.Errorf("crypto: record rotation: %w", err)
		}
		return nil
	})
}

// rewrapAll runs batch until it finds nothing left. Before each batch it
// checks the keyset file, so that it always wraps under the newest primary
// even if another process rotated meanwhile.
func (k *Keyring) rewrapAll(ctx context.Context, progress io.Writer, what string, total int,
	batch func(context.Context, *master) (seen, done int, err error), count *int) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("crypto: rotation interrupted after %d %s (run it again to finish): %w", *count, what, err)
		}
		m, err := k.refresh()
		if err != nil {
			return err
		}
		seen, done, err := batch(ctx, m)
		if err != nil {
			return fmt.Errorf("crypto: re-wrap %s (%d done; run it again to finish): %w", what, *count, err)
		}
		if seen == 0 {
			return nil
		}
		*count += done
		fmt.Fprintf(progress, "%s: %d/%d re-wrapped\n", what, *count, max(total, *count))
	}
}

// rewrapSubjectBatch re-wraps up to one batch of live subject keys not
// wrapped by m's primary key, in one transaction. The data keys themselves
// do not change, so every field encrypted under them still decrypts. The
// update is conditional on the row still being live and wrapped as read,
// so a key destroyed meanwhile is never brought back.
func (k *Keyring) rewrapSubjectBatch(ctx context.Context, m *master) (seen, done int, err error) {
	err = k.d.Transact(ctx, func(tx *db.Tx) error {
		type item struct {
			id  string
			row subjectKeyRow
		}
		var items []item
		rows, err := tx.QueryContext(ctx,
			`SELECT subject_id, wrapped_key, wrapped_by FROM subject_keys
			 WHERE destroyed_at IS NULL AND wrapped_by <> $1
			 ORDER BY subject_id LIMIT $2`, int64(m.primary), k.batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				it item
				by int64
			)
			if err := rows.Scan(&it.id, &it.row.wrapped, &by); err != nil {
				rows.Close()
				return err
			}
			it.row.wrappedBy = uint32(by)
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		seen, done = len(items), 0
		for _, it := range items {
			h, err := k.unwrapSubjectKey(it.id, it.row)
			if err != nil {
				return err
			}
			wrapped, err := wrapSubjectKey(m, it.id, h)
			if err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx,
				`UPDATE subject_keys SET wrapped_key = $1, wrapped_by = $2, rewrapped_at = $3
				 WHERE subject_id = $4 AND wrapped_by = $5 AND destroyed_at IS NULL`,
				wrapped, int64(m.primary), tx.Now(), it.id, int64(it.row.wrappedBy))
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 1 {
				done++
			}
		}
		return nil
	})
	return seen, done, err
}

// rewrapSecretBatch is rewrapSubjectBatch for server secrets.
func (k *Keyring) rewrapSecretBatch(ctx context.Context, m *master) (seen, done int, err error) {
	err = k.d.Transact(ctx, func(tx *db.Tx) error {
		type item struct {
			name    string
			wrapped []byte
			by      int64
		}
		var items []item
		rows, err := tx.QueryContext(ctx,
			`SELECT name, wrapped, wrapped_by FROM server_secrets
			 WHERE wrapped_by <> $1 ORDER BY name LIMIT $2`, int64(m.primary), k.batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.name, &it.wrapped, &it.by); err != nil {
				rows.Close()
				return err
			}
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		seen, done = len(items), 0
		for _, it := range items {
			s, err := k.unwrapSecret(it.name, it.wrapped, uint32(it.by))
			if err != nil {
				return err
			}
			wrapped, err := m.aead.Encrypt(s, secretAD(it.name))
			clear(s)
			if err != nil {
				return fmt.Errorf("wrap secret %s: %w", it.name, err)
			}
			r, err := tx.ExecContext(ctx,
				`UPDATE server_secrets SET wrapped = $1, wrapped_by = $2, rewrapped_at = $3
				 WHERE name = $4 AND wrapped_by = $5`,
				wrapped, int64(m.primary), tx.Now(), it.name, it.by)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 1 {
				done++
			}
		}
		return nil
	})
	return seen, done, err
}

// countNotUnder counts the live subject keys and the secrets not wrapped by
// master key id.
func (k *Keyring) countNotUnder(ctx context.Context, id uint32) (subjects, secrets int, err error) {
	err = k.d.QueryRowContext(ctx,
		`SELECT count(*) FROM subject_keys WHERE destroyed_at IS NULL AND wrapped_by <> $1`, int64(id)).Scan(&subjects)
	if err == nil {
		err = k.d.QueryRowContext(ctx,
			`SELECT count(*) FROM server_secrets WHERE wrapped_by <> $1`, int64(id)).Scan(&secrets)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("crypto: count wrapped keys: %w", err)
	}
	return subjects, secrets, nil
}

// Status describes the keyring, for `portico keys status` and as live
// evidence in the compliance report.
type Status struct {
	// Path is the master keyset file.
	Path string
	// PrimaryKeyID is the master key that wraps new keys.
	PrimaryKeyID uint32
	// MasterKeys is the number of keys in the master keyset.
	MasterKeys int
	// LiveSubjectKeys and DestroyedSubjectKeys count subject keys;
	// destroyed ones are crypto-shredding tombstones.
	LiveSubjectKeys, DestroyedSubjectKeys int
	// Secrets is the number of server secrets.
	Secrets int
	// NotUnderPrimary counts live subject keys and secrets wrapped by an
	// older master key: non-zero after an interrupted rotation.
	NotUnderPrimary int
	// RotationPending is true when a rotation was started and its re-wrap
	// is not finished; `portico keys rotate` finishes it.
	RotationPending bool
	// LastRotation is when the last rotation finished; zero if never.
	LastRotation time.Time
}

// Status reports the master keyset (reloaded first if the file changed) and
// counts of what it protects.
func (k *Keyring) Status(ctx context.Context) (Status, error) {
	m, err := k.refresh()
	if err != nil {
		return Status{}, err
	}
	s := Status{Path: k.path, PrimaryKeyID: m.primary, MasterKeys: m.handle.Len()}
	var pendingSubjects, pendingSecrets, openRotations int
	var last sql.NullTime
	err = k.d.QueryRowContext(ctx,
		`SELECT COALESCE(SUM(CASE WHEN destroyed_at IS NULL THEN 1 ELSE 0 END), 0),
		        COALESCE(SUM(CASE WHEN destroyed_at IS NULL THEN 0 ELSE 1 END), 0),
		        COALESCE(SUM(CASE WHEN destroyed_at IS NULL AND wrapped_by <> $1 THEN 1 ELSE 0 END), 0)
		 FROM subject_keys`, int64(m.primary)).Scan(&s.LiveSubjectKeys, &s.DestroyedSubjectKeys, &pendingSubjects)
	if err == nil {
		err = k.d.QueryRowContext(ctx,
			`SELECT count(*), COALESCE(SUM(CASE WHEN wrapped_by <> $1 THEN 1 ELSE 0 END), 0)
			 FROM server_secrets`, int64(m.primary)).Scan(&s.Secrets, &pendingSecrets)
	}
	if err == nil {
		err = k.d.QueryRowContext(ctx,
			`SELECT count(*) FROM key_rotations WHERE finished_at IS NULL`).Scan(&openRotations)
	}
	if err == nil {
		err = k.d.QueryRowContext(ctx,
			`SELECT finished_at FROM key_rotations WHERE outcome = 'done'
			 ORDER BY finished_at DESC LIMIT 1`).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return Status{}, fmt.Errorf("crypto: keyring status: %w", err)
	}
	s.NotUnderPrimary = pendingSubjects + pendingSecrets
	s.RotationPending = openRotations > 0
	if last.Valid {
		s.LastRotation = last.Time
	}
	return s, nil
}
