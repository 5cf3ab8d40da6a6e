//go:build !unix

package crypto

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// lockKeysetFile takes an exclusive lock for the short read-modify-write of
// a rotation. Where flock(2) does not exist the lock is a file created with
// O_EXCL beside the keyset, holding the process ID for an operator who
// finds one left by a crash.
func lockKeysetFile(path string) (unlock func(), err error) {
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, keysetErr(path, "locked by "+lock+": another `portico keys rotate` is running (if none is, remove the lock file)", err)
		}
		return nil, keysetErr(path, "create lock file: "+pathErrText(err), err)
	}
	fmt.Fprintf(f, "pid %d at %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	f.Close()
	return func() { os.Remove(lock) }, nil
}
