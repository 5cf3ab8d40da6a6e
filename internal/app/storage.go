package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// Storage is the database with the keyring and audit log on top: what every
// command that touches data needs.
type Storage struct {
	DB      *db.DB
	Keyring *crypto.Keyring
	Audit   *audit.Log
	Profile policy.Profile
}

// StorageMode says whether a command may initialise a new installation.
type StorageMode int

const (
	// Initialise creates the data directory, the database and the master
	// keyset when they do not exist yet, and applies migrations. Used by
	// serve, migrate and user create.
	Initialise StorageMode = iota
	// Existing requires an installation that is already set up and
	// migrated. Used by commands that read or maintain one (audit, keys).
	Existing
)

// OpenStorage opens the configured database, keyring and audit log, and
// loads the policy profile.
func OpenStorage(ctx context.Context, cfg config.Config, mode StorageMode, logger *slog.Logger) (*Storage, error) {
	profile, err := policy.Load(cfg.Policy, cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	if err := prepareDataDir(cfg, mode, logger); err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DBOptions())
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	current, latest, err := d.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", d, err)
	}
	if current > latest {
		return nil, fmt.Errorf("database %s is at schema version %d, newer than this binary knows (%d); run a newer portico", d, current, latest)
	}
	if err := ensureMasterKeyset(cfg, mode, current == 0, logger); err != nil {
		return nil, err
	}
	kr, err := crypto.Open(d, cfg.MasterKeyPath())
	if err != nil {
		return nil, err
	}
	log := audit.New(d)
	switch {
	case mode == Initialise && current < latest:
		res, err := d.Migrate(ctx)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", d, err)
		}
		logger.Info("database migrated", "database", d.String(), "from", res.From, "to", res.To)
		if _, err := log.Record(ctx, audit.Event{
			Actor: audit.ActorSystem, Action: "schema.migrate", Target: "database", Outcome: audit.Success,
			Details: map[string]any{"from": res.From, "to": res.To},
		}); err != nil {
			return nil, err
		}
	case mode == Existing && current < latest:
		return nil, fmt.Errorf("database %s is at schema version %d but this binary needs %d; run `portico migrate` first", d, current, latest)
	}
	// Enforces CP-5.2, CP-11.1: an erasure that committed just before a
	// crash, without its ledger entry, is in the ledger before anything
	// is served or backed up (see crypto.ReconcileLedger).
	if n, err := kr.ReconcileLedger(ctx, d); err != nil {
		return nil, err
	} else if n > 0 {
		logger.Warn("erasure ledger completed from the database", "erasures", n, "ledger", kr.LedgerPath())
	}
	ok = true
	return &Storage{DB: d, Keyring: kr, Audit: log, Profile: profile}, nil
}

// Close closes the database.
func (s *Storage) Close() error { return s.DB.Close() }

// prepareDataDir creates the data directory (0700) when initialising, and
// otherwise requires it (for SQLite, where the data lives there).
func prepareDataDir(cfg config.Config, mode StorageMode, logger *slog.Logger) error {
	fi, err := os.Stat(cfg.DataDir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("data directory %s: not a directory", cfg.DataDir)
	case err == nil:
		if fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("data directory is readable by other users; chmod 700 it", "dir", cfg.DataDir, "mode", fi.Mode().Perm().String())
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("data directory %s: %w", cfg.DataDir, errors.Unwrap(err))
	case mode == Existing && cfg.UsesPostgres():
		return nil // the data is in PostgreSQL; the keyset may live elsewhere
	case mode == Existing:
		return fmt.Errorf("data directory %s does not exist; start `portico serve` once, or set --data-dir", cfg.DataDir)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	logger.Info("created data directory", "dir", cfg.DataDir)
	return nil
}

// ensureMasterKeyset creates the master keyset only for a brand-new
// installation. If the file is missing while the database already holds
// data, Portico stops: a new key could not read the existing data, and
// nothing may be regenerated silently (CP-5.1).
func ensureMasterKeyset(cfg config.Config, mode StorageMode, freshDB bool, logger *slog.Logger) error {
	path := cfg.MasterKeyPath()
	_, err := os.Stat(path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("master keyset %s: %w", path, errors.Unwrap(err))
	}
	if mode != Initialise || !freshDB {
		return fmt.Errorf("master keyset %s is missing but the database already holds data; restore the file (or point --master-key-file / PORTICO_MASTER_KEY_FILE at it). A new key could not decrypt existing data, so none is created", path)
	}
	if err := crypto.CreateMasterKeyset(path); err != nil {
		return err
	}
	logger.Info("created master keyset; back it up, and keep it off the database host if you can", "file", path)
	return nil
}
