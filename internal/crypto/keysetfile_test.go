package crypto_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/dbtest"
)

// TestCreateMasterKeyset: CP-5.1, the master keyset is created owner-only,
// atomically, and never overwritten.
func TestCreateMasterKeyset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}

	t.Run("CP-5.1: file 0600 in a directory 0700", func(t *testing.T) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("file mode = %v, want 0600", fi.Mode().Perm())
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o700 {
			t.Fatalf("directory mode = %v, want 0700", di.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("directory holds %d entries, want only the keyset (temporary file left?)", len(entries))
		}
	})

	t.Run("is a Tink JSON keyset of one AES-256-GCM key", func(t *testing.T) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ks struct {
			PrimaryKeyID uint32 `json:"primaryKeyId"`
			Key          []struct {
				KeyData struct {
					TypeURL string `json:"typeUrl"`
				} `json:"keyData"`
			} `json:"key"`
		}
		if err := json.Unmarshal(b, &ks); err != nil {
			t.Fatal(err)
		}
		if ks.PrimaryKeyID == 0 || len(ks.Key) != 1 || ks.Key[0].KeyData.TypeURL != "type.googleapis.com/google.crypto.tink.AesGcmKey" {
			t.Fatalf("keyset = %+v", ks)
		}
	})

	t.Run("refuses to overwrite", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		err := crypto.CreateMasterKeyset(path)
		if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want fs.ErrExist naming %s", err, path)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("existing keyset was modified")
		}
	})

	t.Run("two keysets differ", func(t *testing.T) {
		a, _ := os.ReadFile(path)
		b, _ := os.ReadFile(newKeyset(t))
		if bytes.Equal(a, b) {
			t.Fatal("identical keysets")
		}
	})
}

// TestOpenKeysetErrors: a missing, unreadable, corrupt or exposed keyset
// stops start-up with one line naming the file, and the file is left as it
// was (CP-5.1: nothing is regenerated silently).
func TestOpenKeysetErrors(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})

	wrongKind := func(t *testing.T) []byte {
		h, err := keyset.NewHandle(aead.ChaCha20Poly1305KeyTemplate())
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	short := func(t *testing.T) []byte {
		h, err := keyset.NewHandle(aead.AES128GCMKeyTemplate())
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}

	cases := []struct {
		name    string
		setup   func(t *testing.T, path string) // nil: no file
		rootOK  bool                            // false: skip as root
		is      error
		message string
	}{
		{name: "missing", is: fs.ErrNotExist, message: "does not exist", rootOK: true},
		{name: "unreadable", setup: func(t *testing.T, path string) {
			write(t, path, []byte("{}"), 0o600)
			if err := os.Chmod(path, 0); err != nil {
				t.Fatal(err)
			}
		}, is: fs.ErrPermission, message: "cannot read"},
		{name: "corrupt JSON", setup: func(t *testing.T, path string) {
			write(t, path, []byte(`{"primaryKeyId": 1, "key": [{"keyData": SECRET`), 0o600)
		}, is: crypto.ErrInvalidKeyset, message: "not a valid Tink JSON keyset", rootOK: true},
		{name: "empty", setup: func(t *testing.T, path string) {
			write(t, path, nil, 0o600)
		}, is: crypto.ErrInvalidKeyset, message: "empty", rootOK: true},
		{name: "JSON but no keyset", setup: func(t *testing.T, path string) {
			write(t, path, []byte(`{"hello": "world"}`), 0o600)
		}, is: crypto.ErrInvalidKeyset, message: "not a valid Tink JSON keyset", rootOK: true},
		{name: "not AES-GCM", setup: func(t *testing.T, path string) {
			write(t, path, wrongKind(t), 0o600)
		}, is: crypto.ErrInvalidKeyset, message: "not an AES-GCM key", rootOK: true},
		{name: "AES-128", setup: func(t *testing.T, path string) {
			write(t, path, short(t), 0o600)
		}, is: crypto.ErrInvalidKeyset, message: "not a 256-bit AES-GCM key", rootOK: true},
		{name: "CP-5.1: group-readable", setup: func(t *testing.T, path string) {
			copyKeyset(t, path, 0o640)
		}, is: crypto.ErrKeysetPermissions, message: "chmod 600", rootOK: true},
		{name: "CP-5.1: world-readable", setup: func(t *testing.T, path string) {
			copyKeyset(t, path, 0o604)
		}, is: crypto.ErrKeysetPermissions, message: "too open", rootOK: true},
		{name: "a directory", setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, is: crypto.ErrInvalidKeyset, message: "not a regular file", rootOK: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.rootOK && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			path := filepath.Join(t.TempDir(), "master-keyset.json")
			if c.setup != nil {
				c.setup(t, path)
			}
			before, _ := os.ReadFile(path)
			beforeInfo, _ := os.Lstat(path)

			k, err := crypto.Open(d, path)
			if err == nil {
				t.Fatalf("Open succeeded: %v", k.Path())
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, c.message) || strings.Contains(msg, "\n") {
				t.Fatalf("err = %q, want one line naming %s and saying %q", msg, path, c.message)
			}
			if strings.Contains(msg, "SECRET") {
				t.Fatalf("error quotes the file's content: %q", msg)
			}
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, c.is)
			}
			var ke *crypto.KeysetError
			if !errors.As(err, &ke) || ke.Path != path {
				t.Fatalf("err is not a *KeysetError for %s: %#v", path, err)
			}
			after, _ := os.ReadFile(path)
			afterInfo, _ := os.Lstat(path)
			if !bytes.Equal(before, after) || (beforeInfo == nil) != (afterInfo == nil) ||
				beforeInfo != nil && beforeInfo.Mode() != afterInfo.Mode() {
				t.Fatal("Open changed the keyset file")
			}
		})
	}

	t.Run("owner-only file opens", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k.json")
		copyKeyset(t, path, 0o400)
		if _, err := crypto.Open(d, path); err != nil {
			t.Fatal(err)
		}
	})
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

// copyKeyset writes a valid keyset to path with the given mode.
func copyKeyset(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(newKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, b, mode)
}
