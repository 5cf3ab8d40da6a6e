package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico/portico/internal/app"
)

// initialised returns a data directory that a server has set up and left.
func initialised(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	r := startApp(t, testConfig(t, dir))
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStartRefusesBadFiles: a missing, unreadable or corrupt keyset,
// certificate or database stops the server with one line naming the file,
// and nothing is overwritten or regenerated (CP-5.1, MTL-1.1).
func TestStartRefusesBadFiles(t *testing.T) {
	junk := []byte("this is not what you think it is\n")
	cases := []struct {
		name   string
		file   string // relative to the data directory
		damage func(t *testing.T, path string)
		want   []string
	}{
		{"corrupt keyset", "keys/master.json", func(t *testing.T, p string) { os.WriteFile(p, junk, 0o600) }, []string{"master.json"}},
		{"missing keyset with existing data", "keys/master.json", func(t *testing.T, p string) { os.Remove(p) }, []string{"master.json", "missing", "already holds data"}},
		{"keyset readable by others", "keys/master.json", func(t *testing.T, p string) { os.Chmod(p, 0o644) }, []string{"master.json", "600"}},
		{"corrupt certificate", "tls/cert.pem", func(t *testing.T, p string) { os.WriteFile(p, junk, 0o600) }, []string{"cert.pem"}},
		{"corrupt key", "tls/key.pem", func(t *testing.T, p string) { os.WriteFile(p, junk, 0o600) }, []string{"key.pem"}},
		{"missing certificate with its key present", "tls/cert.pem", func(t *testing.T, p string) { os.Remove(p) }, []string{"cert.pem", "missing"}},
		{"corrupt database", "portico.db", func(t *testing.T, p string) {
			os.Remove(p + "-wal")
			os.Remove(p + "-shm")
			os.WriteFile(p, bytes.Repeat(junk, 200), 0o600)
		}, []string{"portico.db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := initialised(t)
			path := filepath.Join(dir, tc.file)
			tc.damage(t, path)
			before, _ := os.ReadFile(path)
			cfg := testConfig(t, dir)
			_, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				t.Fatal("start succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Errorf("%s was changed", tc.file)
			}
		})
	}
}

// TestOperatorCertificate: --tls-cert/--tls-key replace the self-signed
// certificate, and a bad pair is named.
func TestOperatorCertificate(t *testing.T) {
	dir := initialised(t)
	cert, key := filepath.Join(dir, "tls/cert.pem"), filepath.Join(dir, "tls/key.pem")
	r := startApp(t, testConfig(t, t.TempDir(), "--tls-cert", cert, "--tls-key", key))
	r.stop(t)

	missing := filepath.Join(t.TempDir(), "nope.pem")
	_, err := app.New(context.Background(), testConfig(t, t.TempDir(), "--tls-cert", missing, "--tls-key", key), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("err = %v", err)
	}
}
