package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/db"
)

// bundleFile returns the named file of the bundle at path.
func bundleFile(t *testing.T, path, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storage opens the CLI's installation as an attacker with database access
// would.
func (c *cli) storage(t *testing.T) *app.Storage {
	t.Helper()
	l := config.NewLoader("test", "", config.Storage|config.Policy, io.Discard)
	cfg, err := l.Load(nil, func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	st, err := app.OpenStorage(context.Background(), cfg, app.Existing, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestComplianceBundleCommands (MTL-7.2, CP-5.3): `portico compliance
// bundle` writes a bundle that `portico compliance verify` accepts with the
// installation's key (and, saying it proves integrity only, with its own);
// a changed byte, another key or a rewritten audit chain (--chain) fail
// with exit status 1 and each problem on its own line; a rotation keeps
// old bundles verifiable.
func TestComplianceBundleCommands(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *cli) {
		if code, _, stderr := c.run("", "migrate"); code != 0 {
			t.Fatalf("migrate: %s", stderr)
		}
		dir := t.TempDir()
		bundle := filepath.Join(dir, "evidence.zip")
		code, stdout, stderr := c.run("", "compliance", "bundle", "--output", bundle, "--take-evidence")
		if code != 0 || !strings.Contains(stdout, "evidence taken") || !strings.Contains(stdout, "evidence bundle written to "+bundle) {
			t.Fatalf("bundle: exit %d\n%s\n%s", code, stdout, stderr)
		}
		// The file is not replaced.
		if code, _, stderr := c.run("", "compliance", "bundle", "--output", bundle); code != 1 || !strings.Contains(stderr, "exists") {
			t.Fatalf("bundle over an existing file: exit %d %q", code, stderr)
		}
		pem := filepath.Join(dir, "key.pem")
		if err := os.WriteFile(pem, bundleFile(t, bundle, "public-key.pem"), 0o600); err != nil {
			t.Fatal(err)
		}
		pub, err := compliance.ParsePublicKey(bundleFile(t, bundle, "public-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		fp := compliance.Fingerprint(pub)
		if !strings.Contains(stdout, fp) {
			t.Fatalf("bundle output does not name the key %s:\n%s", fp, stdout)
		}

		// Without a key: valid, integrity only, the fingerprint to compare.
		code, stdout, stderr = c.run("", "compliance", "verify", bundle)
		if code != 0 || !strings.HasPrefix(stdout, "bundle OK") || !strings.Contains(stdout, "intact, not who made it") || !strings.Contains(stdout, fp) {
			t.Fatalf("verify: exit %d\n%s\n%s", code, stdout, stderr)
		}
		// With the installation's key and the chain, flags on either side.
		for _, args := range [][]string{
			{"compliance", "verify", bundle, "--public-key", pem, "--chain"},
			{"compliance", "verify", "--chain", "--public-key", pem, bundle},
		} {
			code, stdout, stderr = c.run("", args...)
			if code != 0 || strings.Contains(stdout, "NOTE") || !strings.Contains(stdout, "audit chain OK") {
				t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
			}
		}

		// Another key: refused, naming both fingerprints.
		other, _, _ := ed25519.GenerateKey(rand.Reader)
		otherPEM := filepath.Join(dir, "other.pem")
		if err := os.WriteFile(otherPEM, compliance.SigningKey{Public: other}.PEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr = c.run("", "compliance", "verify", bundle, "--public-key", otherPEM)
		if code != 1 || !strings.Contains(stderr, fp) || !strings.Contains(stderr, compliance.Fingerprint(other)) {
			t.Fatalf("other key: exit %d %q", code, stderr)
		}

		// One byte changed: invalid, every problem on its own line and
		// the first in the closing message.
		data, err := os.ReadFile(bundle)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/3] ^= 0x10
		tampered := filepath.Join(dir, "tampered.zip")
		if err := os.WriteFile(tampered, data, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr = c.run("", "compliance", "verify", tampered, "--public-key", pem)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || len(lines) < 2 || !strings.Contains(lines[len(lines)-1], "bundle INVALID") ||
			!strings.Contains(lines[len(lines)-1], strings.TrimSpace(lines[0])) {
			t.Fatalf("tampered: exit %d\n%s", code, stderr)
		}

		// A rotation: old bundles verify with the retired key, new ones
		// are signed with the new key.
		code, stdout, stderr = c.run("", "compliance", "rotate-key")
		if code != 0 || !strings.Contains(stdout, "rotated") {
			t.Fatalf("rotate-key: exit %d %s %s", code, stdout, stderr)
		}
		newer := filepath.Join(dir, "newer.zip")
		if code, _, stderr := c.run("", "compliance", "bundle", "--output", newer); code != 0 {
			t.Fatalf("bundle after rotation: %s", stderr)
		}
		if code, _, stderr := c.run("", "compliance", "verify", bundle, "--public-key", pem); code != 0 {
			t.Fatalf("old bundle with the retired key: %s", stderr)
		}
		if code, _, stderr := c.run("", "compliance", "verify", newer, "--public-key", pem); code != 1 || !strings.Contains(stderr, "is not the key given") {
			t.Fatalf("new bundle with the retired key: exit %d %s", code, stderr)
		}
		code, stdout, _ = c.run("", "audit", "export", "--since", "1h")
		if code != 0 {
			t.Fatalf("audit export: exit %d", code)
		}
		for _, action := range []string{"compliance.signing_key.create", "compliance.signing_key.rotate", "compliance.bundle", "compliance.verify"} {
			if !strings.Contains(stdout, `"`+action+`"`) {
				t.Errorf("no %s audit event", action)
			}
		}

		// The audit chain cut back before the bundle's head, and its head
		// moved there: `audit verify` sees nothing, --chain does.
		st := c.storage(t)
		v, err := compliance.VerifyBundle(mustRead(t, bundle), pub)
		if err != nil {
			t.Fatal(err)
		}
		keep := v.Manifest.ChainHead.Seq - 1
		var hash []byte
		ctx := context.Background()
		if err := st.DB.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = $1`, keep).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		tamper(t, st.DB, dropTrigger(st.DB, "audit_events_no_delete", "audit_events"))
		tamper(t, st.DB, `DELETE FROM audit_events WHERE seq > $1`, keep)
		tamper(t, st.DB, `UPDATE audit_head SET seq = $1, hash = $2`, keep, hash)
		if code, stdout, stderr := c.run("", "audit", "verify"); code != 0 {
			t.Fatalf("audit verify after the cut: exit %d %s %s (want it to look intact)", code, stdout, stderr)
		}
		code, _, stderr = c.run("", "compliance", "verify", bundle, "--public-key", pem, "--chain")
		if code != 1 || !strings.Contains(stderr, "does not hold the bundle's head") {
			t.Fatalf("--chain after the cut: exit %d %s", code, stderr)
		}
		// Offline, the bundle itself is still valid.
		if code, _, stderr := c.run("", "compliance", "verify", bundle, "--public-key", pem); code != 0 {
			t.Fatalf("offline after the cut: %s", stderr)
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dropTrigger is the statement that drops an append-only trigger.
func dropTrigger(d *db.DB, name, table string) string {
	if d.Dialect() == db.Postgres {
		return "DROP TRIGGER " + name + " ON " + table
	}
	return "DROP TRIGGER " + name
}

// tamper runs a statement as someone with direct database access would.
func tamper(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if err := d.Transact(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestComplianceVerifyUsage: verify wants exactly one bundle, bundle
// wants --output; bad usage exits 2 with one line.
func TestComplianceVerifyUsage(t *testing.T) {
	c := newCLI(t, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compliance", "verify"}, "want the bundle"},
		{[]string{"compliance", "verify", "a.zip", "b.zip"}, `unexpected argument "b.zip"`},
		{[]string{"compliance", "verify", "--no-such-flag", "a.zip"}, "flag provided but not defined"},
		{[]string{"compliance", "verify", "missing.zip"}, "missing.zip"},
		{[]string{"compliance", "bundle"}, "--output is required"},
	} {
		code, _, stderr := c.run("", tc.args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args, code, stderr, tc.want)
		}
	}
	// Not a zip: invalid (1), not bad usage.
	notZip := filepath.Join(t.TempDir(), "x.zip")
	if err := os.WriteFile(notZip, bytes.Repeat([]byte("x"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := c.run("", "compliance", "verify", notZip); code != 1 || !strings.Contains(stderr, "not a readable zip") {
		t.Errorf("not a zip: exit %d %q", code, stderr)
	}
}

// TestComplianceCommandsOnMissingInstallation: bundle and rotate-key open an existing installation only, and create nothing.
func TestComplianceCommandsOnMissingInstallation(t *testing.T) {
	c := newCLI(t, "")
	for _, args := range [][]string{
		{"compliance", "bundle", "--output", filepath.Join(t.TempDir(), "b.zip")},
		{"compliance", "rotate-key"},
	} {
		code, _, stderr := c.run("", args...)
		if code != 1 || !strings.Contains(stderr, "does not exist") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if _, err := os.Stat(c.env["PORTICO_DATA_DIR"]); !os.IsNotExist(err) {
		t.Errorf("data directory was created: %v", err)
	}
}
