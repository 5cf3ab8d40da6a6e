//go:build unix

package crypto

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockKeysetFile takes an exclusive lock for the short read-modify-write
// of a rotation, so that two `portico keys rotate` runs cannot each add a
// key and have the second rename drop the first's.
//
// The lock is flock(2) on the keyset's directory: the kernel releases it
// when the process ends, however it ends, so a crash never leaves a lock
// that blocks the next rotation, and no lock file is left beside the key.
func lockKeysetFile(path string) (unlock func(), err error) {
	dir := filepath.Dir(path)
	f, err := os.Open(dir)
	if err != nil {
		return nil, keysetErr(path, "open its directory to lock it: "+pathErrText(err), err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, keysetErr(path, "locked: another `portico keys rotate` is running on "+dir+"; wait for it to finish", err)
		}
		return nil, keysetErr(path, "lock its directory: "+err.Error(), err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
