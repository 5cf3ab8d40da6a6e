package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, args []string, e map[string]string) (Config, error) {
	t.Helper()
	var help bytes.Buffer
	return NewLoader("serve", "usage: portico serve", Storage|Policy|Server|Geo, &help).Load(args, env(e))
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "localhost:8443" || c.DataDir != "portico-data" || c.Policy != "customer-portal" {
		t.Fatalf("defaults = %+v", c)
	}
	if c.MetricsAddr != "" {
		t.Fatal("metrics must be off by default")
	}
	if c.MaxBodyBytes != 1<<20 || c.ReadHeaderTimeout != 5*time.Second {
		t.Fatalf("limits = %d %v", c.MaxBodyBytes, c.ReadHeaderTimeout)
	}
	if c.PasswordHashMemory != 0 {
		t.Fatalf("password hash memory = %d, want 0 (auto)", c.PasswordHashMemory)
	}
	if c.MasterKeyPath() != filepath.Join("portico-data", "keys", "master.json") {
		t.Fatalf("master key path = %s", c.MasterKeyPath())
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "portico.toml")
	os.WriteFile(file, []byte("addr = \"file:1\"\ndata_dir = \"from-file\"\nlog_level = \"debug\"\nmax_body_bytes = 4096\n"), 0o600)

	c, err := load(t, []string{"--config", file, "--addr", "flag:3"}, map[string]string{
		"PORTICO_ADDR":     "env:2",
		"PORTICO_DATA_DIR": "from-env",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "flag:3" {
		t.Errorf("addr = %s, want the flag's value", c.Addr)
	}
	if c.DataDir != "from-env" {
		t.Errorf("data dir = %s, want the environment's value", c.DataDir)
	}
	if c.LogLevel != "debug" || c.MaxBodyBytes != 4096 {
		t.Errorf("file values not applied: %+v", c)
	}

	for v, want := range map[string]int64{"auto": 0, "1048576": 1 << 20, "256MiB": 256 << 20, "2GiB": 2 << 30, "512KiB": 512 << 10} {
		c, err := load(t, []string{"--password-hash-memory", v}, nil)
		if err != nil || c.PasswordHashMemory != want {
			t.Errorf("--password-hash-memory %s = %d, %v; want %d", v, c.PasswordHashMemory, err, want)
		}
	}

	// The config file can also come from the environment.
	c, err = load(t, nil, map[string]string{"PORTICO_CONFIG": file})
	if err != nil || c.Addr != "file:1" {
		t.Fatalf("PORTICO_CONFIG: %v %s", err, c.Addr)
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("adr = \"x:1\"\n"), 0o600)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"bad flag value", []string{"--read-timeout", "soon"}, nil, []string{"--read-timeout", "soon", "duration"}},
		{"bad env value", nil, map[string]string{"PORTICO_ADDR": "nohost"}, []string{"PORTICO_ADDR", "host:port"}},
		{"unknown flag", []string{"--colour"}, nil, []string{"colour"}},
		{"unknown file key", []string{"--config", bad}, nil, []string{bad, "unknown setting adr"}},
		{"missing file", []string{"--config", filepath.Join(dir, "none.toml")}, nil, []string{"none.toml", "no such file"}},
		{"non-postgres url", []string{"--database-url", "mysql://x"}, nil, []string{"--database-url", "postgres://"}},
		{"half a TLS pair", []string{"--tls-cert", "c.pem"}, nil, []string{"--tls-cert", "--tls-key"}},
		{"bad log format", []string{"--log-format", "xml"}, nil, []string{"--log-format", "auto, text, json"}},
		{"stray argument", []string{"extra"}, nil, []string{"extra"}},
		{"body limit", []string{"--max-body-bytes", "-1"}, nil, []string{"--max-body-bytes"}},
		{"terminal mail on a public address", []string{"--smtp-url", "terminal:", "--addr", "0.0.0.0:8443"}, nil, []string{"terminal:", "localhost"}},
		{"terminal mail with a public URL", []string{"--smtp-url", "terminal:", "--public-url", "https://portal.example.com"}, nil, []string{"terminal:", "--public-url"}},
		{"hash memory", []string{"--password-hash-memory", "lots"}, nil, []string{"--password-hash-memory", "256MiB"}},
		{"hash memory unit", nil, map[string]string{"PORTICO_PASSWORD_HASH_MEMORY": "1TB"}, []string{"PORTICO_PASSWORD_HASH_MEMORY"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a UsageError", err)
			}
			if strings.Contains(ue.Msg, "\n") {
				t.Errorf("message has several lines: %q", ue.Msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(ue.Msg, w) {
					t.Errorf("message %q does not mention %q", ue.Msg, w)
				}
			}
		})
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var help bytes.Buffer
	_, err := NewLoader("serve", "usage: portico serve", Storage|Policy|Server|Geo, &help).Load([]string{"--help"}, env(nil))
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range Settings() {
		if !strings.Contains(help.String(), s.Flag[1:]) || !strings.Contains(help.String(), s.Env) {
			t.Errorf("--help does not list %s / %s", s.Flag, s.Env)
		}
	}
}

func TestGroupsLimitFlags(t *testing.T) {
	var help bytes.Buffer
	_, err := NewLoader("migrate", "usage", Storage, &help).Load([]string{"--addr", "x:1"}, env(nil))
	if err == nil {
		t.Fatal("migrate accepted a server flag")
	}
}

// TestReadmeDocumentsEverySetting keeps the README's configuration table true.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("README.md not found")
	}
	for _, s := range Settings() {
		if !strings.Contains(string(b), "`"+s.Flag+"`") || !strings.Contains(string(b), "`"+s.Env+"`") {
			t.Errorf("README.md does not document %s (%s)", s.Flag, s.Env)
		}
	}
}

// TestErrorsHidePasswords: a bad URL-shaped setting is named in the error
// without its password.
func TestErrorsHidePasswords(t *testing.T) {
	l := NewLoader("serve", "", Storage|Policy|Server, io.Discard)
	_, err := l.Load([]string{"--smtp-url", "ftp://user:hunter2secret@mail.example.com"}, func(string) (string, bool) { return "", false })
	if err == nil || strings.Contains(err.Error(), "hunter2secret") || !strings.Contains(err.Error(), "--smtp-url") {
		t.Fatalf("err = %v", err)
	}
}

// TestTerminalMailOnlyOnLocalhost: mail printed on the terminal (links
// included) is for a Portico nobody else can reach: accepted on localhost,
// refused on any other listener (see TestErrorsNameTheSetting).
func TestTerminalMailOnlyOnLocalhost(t *testing.T) {
	for _, addr := range []string{"localhost:8443", "127.0.0.1:0", "[::1]:8443"} {
		c, err := load(t, []string{"--smtp-url", "terminal:", "--addr", addr}, nil)
		if err != nil || c.SMTPURL != TerminalMail {
			t.Errorf("--addr %s: %v (smtp %q)", addr, err, c.SMTPURL)
		}
	}
	for _, addr := range []string{"0.0.0.0:8443", ":8443", "portal.example.com:443", "[::]:8443"} {
		if _, err := load(t, []string{"--smtp-url", "terminal:", "--addr", addr}, nil); err == nil {
			t.Errorf("--addr %s: terminal mail accepted", addr)
		}
	}
}
