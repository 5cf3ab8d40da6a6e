package db

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/portico/portico/internal/apperr"
)

// Fault names why the database could not write: a storage fault, as
// opposed to a bug or a conflict.
type Fault string

// The storage faults.
const (
	// FaultDiskFull: no space left (SQLITE_FULL, ENOSPC; PostgreSQL 53100).
	FaultDiskFull Fault = "disk full"
	// FaultReadOnly: the file system or database is read-only
	// (SQLITE_READONLY, EROFS; PostgreSQL 25006, a hot standby say).
	FaultReadOnly Fault = "read-only"
	// FaultIO: any other I/O error of the database's files (SQLITE_IOERR,
	// EIO; PostgreSQL 58030).
	FaultIO Fault = "I/O error"
)

// CannotSave is what a person reads when a change could not be saved
// because of a storage fault. It says nothing of the cause: that is for
// the operator's log.
const CannotSave = "Portico cannot save changes right now, so nothing was changed. Pages that only show your data still work. Please try again in a few minutes."

// faultRetryAfter is the Retry-After of a change refused by a storage
// fault: freeing space or remounting takes an operator minutes.
const faultRetryAfter = 60 * time.Second

// FaultError is a storage fault with the driver's error. Its text is the
// driver's (SQLite's or PostgreSQL's fixed messages), with no values of
// the statement.
type FaultError struct {
	Fault Fault
	Err   error
}

func (e *FaultError) Error() string {
	return "storage fault (" + string(e.Fault) + "): " + e.Err.Error()
}

func (e *FaultError) Unwrap() error { return e.Err }

// FaultOf returns the storage fault in err's chain, as Transact marked it,
// or "".
func FaultOf(err error) Fault {
	var fe *FaultError
	if errors.As(err, &fe) {
		return fe.Fault
	}
	return ""
}

// DriverError returns the driver's own error under err (SQLite's or
// PostgreSQL's), for a log line that must not carry what callers wrapped
// around it; nil when there is none.
func DriverError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// classify names the storage fault that err reports, or "".
func classify(err error) Fault {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_FULL:
			return FaultDiskFull
		case sqlite3.SQLITE_READONLY:
			return FaultReadOnly
		case sqlite3.SQLITE_IOERR:
			return FaultIO
		}
		return ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "53100": // disk_full
			return FaultDiskFull
		case "25006": // read_only_sql_transaction
			return FaultReadOnly
		case "58030": // io_error
			return FaultIO
		}
	}
	return ""
}

// storageFault turns an error of a write transaction that a storage fault
// caused into an apperr.Unavailable with a Retry-After, whose message
// says that nothing was saved; any other error is returned as it is.
//
// Enforces MTL-1.1 (availability, integrity): a full disk or a read-only
// file system refuses changes with a clear answer (503) instead of an
// internal error, every write goes through here (Transact), and the
// transaction has rolled back, so nothing is half written.
func (d *DB) storageFault(err error) error {
	if err == nil || FaultOf(err) != "" {
		return err
	}
	f := classify(err)
	if f == "" {
		return err
	}
	if f == FaultIO && d.dialect == SQLite {
		// SQLite reports a write refused by a read-only file system
		// (EROFS, as after the kernel's emergency remount) as an I/O
		// error; the file system says which it is.
		f = d.probe.fault(filepath.Dir(d.desc))
	}
	return &apperr.Error{Code: apperr.Unavailable, Message: CannotSave, RetryAfter: faultRetryAfter,
		Err: &FaultError{Fault: f, Err: err}}
}

// writeProbe finds out why the directory of the database cannot be
// written, at most once a second.
type writeProbe struct {
	mu   sync.Mutex
	at   time.Time
	last Fault
}

// fault creates and removes an empty file in dir and names what stopped
// it: read-only (EROFS), disk full (ENOSPC, EDQUOT), or an I/O error
// (anything else, success included: then only the database's own files
// fail). It never opens the database's files, whose locks SQLite holds:
// closing another descriptor of them would drop those locks.
func (p *writeProbe) fault(dir string) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) < time.Second {
		return p.last
	}
	p.at, p.last = time.Now(), FaultIO
	f, err := os.CreateTemp(dir, ".portico-write-probe-*")
	switch {
	case err == nil:
		f.Close()
		os.Remove(f.Name())
	case errors.Is(err, syscall.EROFS):
		p.last = FaultReadOnly
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		p.last = FaultDiskFull
	}
	return p.last
}
