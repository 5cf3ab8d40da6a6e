package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// KeysetFileName is the master keyset's file name inside the data
// directory, used when PORTICO_MASTER_KEY_FILE does not name another file.
const KeysetFileName = "master-keyset.json"

// maxKeysetSize bounds what is read from the keyset file. A keyset with a
// few hundred AES-256 keys is far smaller; anything bigger is not ours.
const maxKeysetSize = 1 << 20

// ErrInvalidKeyset is wrapped by the KeysetError returned for a file that
// exists and can be read but does not hold a usable master keyset.
var ErrInvalidKeyset = errors.New("not a valid master keyset")

// ErrKeysetPermissions is wrapped by the KeysetError returned for a keyset
// file that other users could read.
var ErrKeysetPermissions = errors.New("keyset file permissions too open")

// KeysetError is a problem with the master keyset file. Its message is one
// line that names the file and says what is wrong, so that `portico serve`
// can stop with it as is. It never holds key material.
type KeysetError struct {
	Path    string
	Problem string // what is wrong, for people
	Err     error  // for errors.Is: fs.ErrNotExist, fs.ErrPermission, ErrInvalidKeyset, ErrKeysetPermissions...
}

// Error is the one-line message: "master keyset PATH: PROBLEM".
func (e *KeysetError) Error() string { return "master keyset " + e.Path + ": " + e.Problem }

// Unwrap lets callers test for fs.ErrNotExist and the package's sentinels.
func (e *KeysetError) Unwrap() error { return e.Err }

func keysetErr(path, problem string, err error) error {
	return &KeysetError{Path: path, Problem: problem, Err: err}
}

// CreateMasterKeyset writes a new master keyset holding one fresh
// AES-256-GCM key to path, as Tink's JSON format, readable by its owner only.
// The parent directory is created (0700) if missing. It refuses to replace
// an existing file: losing the master keyset loses every encrypted field, so
// it is never overwritten or regenerated behind the operator's back.
//
// Enforces CP-5.1: personal data at rest is encrypted under keys that
// Portico manages; this is the root of that key hierarchy.
func CreateMasterKeyset(path string) error {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return fmt.Errorf("master keyset %s: generate key: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return keysetErr(path, "create directory: "+pathErrText(err), err)
	}
	if _, err := os.Lstat(path); err == nil {
		return keysetErr(path, "file already exists; refusing to overwrite it", fs.ErrExist)
	}
	return writeKeysetFile(path, h, false)
}

// writeKeysetFile writes h to path atomically: the keyset goes to a
// temporary file in the same directory, is synced, and is then moved into
// place, so a crash leaves either the old file or the new one, never half of
// one. With replace false the final step is a hard link, which fails if path
// exists, so two processes racing to create the keyset cannot both win.
func writeKeysetFile(path string, h *keyset.Handle, replace bool) (err error) {
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return fmt.Errorf("master keyset %s: encode: %w", path, err)
	}
	dir := filepath.Dir(path)
	// os.CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return keysetErr(path, "create temporary file: "+pathErrText(err), err)
	}
	tmpName := tmp.Name()
	defer func() {
		// The temporary file holds key material: never leave it behind.
		os.Remove(tmpName)
	}()
	_, werr := tmp.Write(buf.Bytes())
	if werr == nil {
		werr = tmp.Chmod(0o600)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return keysetErr(path, "write temporary file: "+pathErrText(werr), werr)
	}
	if replace {
		if err := os.Rename(tmpName, path); err != nil {
			return keysetErr(path, "replace file: "+pathErrText(err), err)
		}
	} else if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return keysetErr(path, "file already exists; refusing to overwrite it", fs.ErrExist)
		}
		return keysetErr(path, "create file: "+pathErrText(err), err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or link in dir durable. Not every platform can
// sync a directory; the file's own data is already synced, so failing here
// only risks the rename itself on power loss.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// pathErrText is err's message without the path that *fs.PathError
// repeats, so that a KeysetError stays one short line.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err.Error()
	}
	return err.Error()
}

// fileStamp identifies one version of the keyset file cheaply. Rotation
// replaces the file by rename, so a new version is a new inode as well as,
// usually, a new size and modification time.
type fileStamp struct {
	info os.FileInfo
}

func (s fileStamp) same(fi os.FileInfo) bool {
	if s.info == nil || fi == nil {
		return false
	}
	return os.SameFile(s.info, fi) && s.info.Size() == fi.Size() && s.info.ModTime().Equal(fi.ModTime())
}

// master is one loaded version of the master keyset. It is never modified
// after loading; a reload builds a new one.
type master struct {
	handle  *keyset.Handle
	aead    tink.AEAD
	primary uint32
	keys    map[uint32]*keyset.Entry
	stamp   fileStamp
}

func (m *master) has(id uint32) bool { _, ok := m.keys[id]; return ok }

// loadMaster reads and checks the keyset file. Every failure is a
// KeysetError naming the file.
func loadMaster(path string) (*master, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, keysetErr(path, "file does not exist", err)
		}
		return nil, keysetErr(path, "cannot read: "+pathErrText(err), err)
	}
	if !fi.Mode().IsRegular() {
		return nil, keysetErr(path, "not a regular file", ErrInvalidKeyset)
	}
	// Enforces CP-5.1 and MTL-2.1.3: the key that protects every personal
	// field must not be readable by other accounts on the host. Like ssh
	// with a private key, refuse rather than warn. Windows has no such
	// mode bits; its ACLs are the operator's to set.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, keysetErr(path, fmt.Sprintf("permissions %#o are too open: it must be readable by its owner only (chmod 600 %s)", perm, path), ErrKeysetPermissions)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, keysetErr(path, "cannot read: "+pathErrText(err), err)
	}
	defer f.Close()
	// Stamp the file actually opened, so that a rename racing with this
	// read cannot pair the old content with the new file's stamp.
	if ofi, err := f.Stat(); err == nil {
		fi = ofi
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeysetSize+1))
	if err != nil {
		return nil, keysetErr(path, "cannot read: "+pathErrText(err), err)
	}
	if len(data) == 0 {
		return nil, keysetErr(path, "file is empty", ErrInvalidKeyset)
	}
	if len(data) > maxKeysetSize {
		return nil, keysetErr(path, "file is too large to be a keyset", ErrInvalidKeyset)
	}
	// insecurecleartextkeyset.Read reports JSON syntax errors without
	// quoting the input, so no fragment of a key can reach a log.
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(data)))
	if err != nil {
		return nil, keysetErr(path, "not a valid Tink JSON keyset", ErrInvalidKeyset)
	}
	return newMaster(path, h, fileStamp{info: fi})
}

// newMaster checks that h is a keyset of AES-256-GCM keys with Tink's
// key-ID prefix and builds its AEAD primitive.
func newMaster(path string, h *keyset.Handle, stamp fileStamp) (*master, error) {
	m := &master{handle: h, keys: map[uint32]*keyset.Entry{}, stamp: stamp}
	for i := range h.Len() {
		e, err := h.Entry(i)
		if err != nil {
			return nil, keysetErr(path, "not a valid Tink JSON keyset", ErrInvalidKeyset)
		}
		k, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return nil, keysetErr(path, "key "+strconv.FormatUint(uint64(e.KeyID()), 10)+" is not an AES-GCM key", ErrInvalidKeyset)
		}
		p, ok := k.Parameters().(*aesgcm.Parameters)
		if !ok || p.KeySizeInBytes() != 32 {
			return nil, keysetErr(path, "key "+strconv.FormatUint(uint64(e.KeyID()), 10)+" is not a 256-bit AES-GCM key", ErrInvalidKeyset)
		}
		// The key-ID prefix is what lets one keyset open data wrapped
		// by any of its keys, old or new.
		if p.Variant() != aesgcm.VariantTink {
			return nil, keysetErr(path, "key "+strconv.FormatUint(uint64(e.KeyID()), 10)+" has no Tink key-ID prefix", ErrInvalidKeyset)
		}
		m.keys[e.KeyID()] = e
	}
	pe, err := h.Primary()
	if err != nil {
		return nil, keysetErr(path, "keyset has no primary key", ErrInvalidKeyset)
	}
	m.primary = pe.KeyID()
	a, err := aead.New(h)
	if err != nil {
		return nil, keysetErr(path, "keyset cannot be used for AEAD: "+err.Error(), ErrInvalidKeyset)
	}
	m.aead = a
	return m, nil
}

// keepsKeysOf reports the first key of old that m lacks or holds with other
// material. Keys are only ever added to the master keyset; a file that
// dropped or changed one is a mistake (a wrong backup restored, a keyset
// from another installation) and using it would strand data.
func (m *master) keepsKeysOf(old *master) (missing uint32, ok bool) {
	for id, oe := range old.keys {
		ne, found := m.keys[id]
		if !found || !ne.Key().Equal(oe.Key()) {
			return id, false
		}
	}
	return 0, true
}
