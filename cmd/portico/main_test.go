package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico/portico/internal/dbtest"
)

// cheapPolicy sets cheap argon2 parameters through the policy override file,
// the same file an operator would use.
const cheapPolicy = "[password.argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"

// cli runs the portico command in-process against its own data directory
// (and, for PostgreSQL, its own schema).
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T, databaseURL string) *cli {
	t.Helper()
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(policyFile, []byte(cheapPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, env: map[string]string{
		"PORTICO_DATA_DIR":    filepath.Join(dir, "data"),
		"PORTICO_POLICY_FILE": policyFile,
		"PORTICO_LOG_FORMAT":  "json",
		"PORTICO_LOG_LEVEL":   "warn",
	}}
	if databaseURL != "" {
		c.env["PORTICO_DATABASE_URL"] = databaseURL
	}
	return c
}

// run runs portico with args and stdin; it returns the exit status and what
// was written to standard output and standard error.
func (c *cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
	})
	return code, out.String(), errb.String()
}

// eachDatabase runs fn against a fresh SQLite data directory and, when
// PostgreSQL is available, a fresh PostgreSQL schema.
func eachDatabase(t *testing.T, fn func(t *testing.T, c *cli)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newCLI(t, "")) })
	t.Run("postgres", func(t *testing.T) { fn(t, newCLI(t, dbtest.PostgresURL(t))) })
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	c := newCLI(t, "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"group without subcommand", []string{"audit"}, "want a subcommand: verify export"},
		{"unknown flag", []string{"serve", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{"bad duration names the setting", []string{"serve", "--read-timeout", "soon"}, `--read-timeout "soon": not a duration`},
		{"bad address names the setting", []string{"serve", "--addr", "nowhere"}, `--addr "nowhere": must be host:port`},
		{"bad role", []string{"user", "create", "--email", "a@example.com", "--role", "king", "--password-stdin"}, `--role: unknown role "king"`},
		{"missing email", []string{"user", "create", "--role", "admin", "--password-stdin"}, "--email is required"},
		{"bad --since", []string{"audit", "export", "--since", "yesterday"}, `--since "yesterday"`},
		{"bad --anchor", []string{"audit", "verify", "--anchor", "12"}, `--anchor "12"`},
		{"stray argument", []string{"version", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := c.run("", tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if tc.want == "" {
				return
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tc.want)
			}
		})
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	c := newCLI(t, "")
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			args := append(strings.Fields(cmd.name), "--help")
			code, stdout, stderr := c.run("", args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if !strings.Contains(stdout, "Usage: portico "+cmd.name) {
				t.Errorf("help does not start with its usage line:\n%s", stdout)
			}
		})
	}
	code, stdout, _ := c.run("", "--help")
	if code != 0 || !strings.Contains(stdout, "user create") {
		t.Errorf("portico --help: exit %d\n%s", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := newCLI(t, "").run("", "version")
	if code != 0 || !strings.Contains(stdout, "go1.") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestPolicyShowPrintsEffectiveProfile(t *testing.T) {
	c := newCLI(t, "")
	code, stdout, stderr := c.run("", "policy", "show")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`name = "customer-portal"`, "memory_kib = 64", `mode = "required"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("policy show lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = c.run("", "policy", "show", "--policy", "1642mtl-web", "--policy-file", "")
	if code != 0 || !strings.Contains(stdout, `mode = "encouraged"`) {
		t.Errorf("1642mtl-web profile: exit %d\n%s", code, stdout)
	}
}

// TestUserCreate covers the account CLI: the first administrator is made
// here, with the password policy of sign-up (CP-4.3) and an audit event in
// the same transaction (CP-5.3).
func TestUserCreate(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *cli) {
		const pw = "correct horse battery staple 42"
		code, stdout, stderr := c.run(pw+"\n", "user", "create", "--email", "Admin@Example.com", "--role", "admin", "--password-stdin")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.HasPrefix(stdout, "created admin account ") {
			t.Errorf("stdout = %q", stdout)
		}
		id := strings.TrimSpace(strings.TrimPrefix(stdout, "created admin account "))

		t.Run("same address again is refused", func(t *testing.T) {
			code, _, stderr := c.run(pw+"\n", "user", "create", "--email", "admin@example.com", "--role", "support", "--password-stdin")
			if code != 1 || !strings.Contains(stderr, "already exists") {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
		})
		t.Run("short password says which rule failed", func(t *testing.T) {
			code, _, stderr := c.run("short\n", "user", "create", "--email", "b@example.com", "--role", "customer", "--password-stdin")
			if code != 2 || !strings.Contains(stderr, "too short") {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
		})
		t.Run("empty standard input", func(t *testing.T) {
			code, _, stderr := c.run("", "user", "create", "--email", "b@example.com", "--role", "customer", "--password-stdin")
			if code != 2 || !strings.Contains(stderr, "no password") {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
		})
		// MTL-1.2: contractors hold staff roles with an end date;
		// administration is not contracted out.
		t.Run("contractor with an end date", func(t *testing.T) {
			code, stdout, stderr := c.run(pw+"\n", "user", "create", "--email", "temp@example.com", "--role", "support", "--contractor-until", "2099-03-31", "--password-stdin")
			if code != 0 || !strings.Contains(stdout, "(contractor until 2099-03-31)") {
				t.Errorf("exit %d, %q %q", code, stdout, stderr)
			}
			code, _, stderr = c.run(pw+"\n", "user", "create", "--email", "temp-admin@example.com", "--role", "admin", "--contractor-until", "2099-03-31", "--password-stdin")
			if code == 0 || !strings.Contains(stderr, "cannot be a contractor") {
				t.Errorf("contractor admin: exit %d, %q", code, stderr)
			}
			code, _, stderr = c.run(pw+"\n", "user", "create", "--email", "temp-past@example.com", "--role", "support", "--contractor-until", "2001-01-01", "--password-stdin")
			if code == 0 || !strings.Contains(stderr, "in the future") {
				t.Errorf("past end date: exit %d, %q", code, stderr)
			}
		})
		t.Run("no password source", func(t *testing.T) {
			code, _, stderr := c.run("", "user", "create", "--email", "b@example.com", "--role", "customer")
			if code != 2 || !strings.Contains(stderr, "--password-stdin") {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
		})

		// The creation is in the audit trail, with the account's opaque
		// ID and no personal data; the chain verifies.
		code, stdout, stderr = c.run("", "audit", "export")
		if code != 0 {
			t.Fatalf("audit export: exit %d: %s", code, stderr)
		}
		if strings.Contains(strings.ToLower(stdout), "admin@example.com") || strings.Contains(stdout, pw) {
			t.Error("the audit export holds the email address or the password")
		}
		var found bool
		sc := bufio.NewScanner(strings.NewReader(stdout))
		for sc.Scan() {
			var ev struct {
				Action, Target, Actor, Outcome string
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("export line %q: %v", sc.Text(), err)
			}
			if ev.Action == "account.create" && ev.Target == "account:"+id {
				found = ev.Actor == "cli" && ev.Outcome == "success"
			}
		}
		if !found {
			t.Errorf("no account.create event by cli for account:%s in\n%s", id, stdout)
		}
		code, stdout, stderr = c.run("", "audit", "verify")
		if code != 0 || !strings.HasPrefix(stdout, "audit chain OK") {
			t.Errorf("audit verify: exit %d, %q %q", code, stdout, stderr)
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *cli) {
		for i := range 2 {
			code, stdout, stderr := c.run("", "migrate")
			if code != 0 || !strings.Contains(stdout, "schema version") {
				t.Fatalf("run %d: exit %d, %q %q", i, code, stdout, stderr)
			}
		}
	})
}

func TestKeysRotateFromCLI(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *cli) {
		// A customer gives the keyring a data key to re-wrap.
		if code, _, stderr := c.run("a long enough passphrase 1\n", "user", "create", "--email", "c@example.com", "--role", "customer", "--password-stdin"); code != 0 {
			t.Fatalf("user create: %s", stderr)
		}
		code, stdout, stderr := c.run("", "keys", "rotate")
		if code != 0 || !strings.Contains(stdout, "rotation complete") || !strings.Contains(stdout, "1 data keys") {
			t.Fatalf("keys rotate: exit %d\n%s\n%s", code, stdout, stderr)
		}
		code, stdout, _ = c.run("", "audit", "export", "--since", "1h")
		if code != 0 || !strings.Contains(stdout, `"keys.rotate"`) {
			t.Errorf("no keys.rotate audit event:\n%s", stdout)
		}
	})
}

func TestCommandsOnMissingInstallation(t *testing.T) {
	c := newCLI(t, "")
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "export"}, {"keys", "rotate"}} {
		code, _, stderr := c.run("", args...)
		if code != 1 || !strings.Contains(stderr, "does not exist") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	// Nothing was created by trying.
	if _, err := os.Stat(c.env["PORTICO_DATA_DIR"]); !os.IsNotExist(err) {
		t.Errorf("data directory was created: %v", err)
	}
}

func TestAuditExportToFile(t *testing.T) {
	c := newCLI(t, "")
	if code, _, stderr := c.run("", "migrate"); code != 0 {
		t.Fatal(stderr)
	}
	out := filepath.Join(t.TempDir(), "audit.jsonl")
	if code, _, stderr := c.run("", "audit", "export", "--output", out); code != 0 {
		t.Fatal(stderr)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Errorf("export file mode %v size %d", fi.Mode().Perm(), fi.Size())
	}
	// An existing file is never overwritten.
	if code, _, stderr := c.run("", "audit", "export", "--output", out); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("second export to the same file: exit %d, %q", code, stderr)
	}
}

// TestUserDisable: disabling an account from the command line is audited;
// enabling it again works; an unknown address is an error.
func TestUserDisable(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *cli) {
		if code, _, stderr := c.run("a long enough passphrase 1\n", "user", "create", "--email", "d@example.com", "--role", "customer", "--password-stdin"); code != 0 {
			t.Fatalf("user create: %s", stderr)
		}
		if code, stdout, stderr := c.run("", "user", "disable", "--email", "d@example.com"); code != 0 || !strings.HasPrefix(stdout, "disabled account ") {
			t.Fatalf("disable: exit %d %q %q", code, stdout, stderr)
		}
		if code, _, stderr := c.run("", "user", "disable", "--email", "d@example.com"); code != 1 || !strings.Contains(stderr, "not active") {
			t.Errorf("disable twice: exit %d %q", code, stderr)
		}
		if code, _, stderr := c.run("", "user", "enable", "--email", "d@example.com"); code != 0 {
			t.Errorf("enable: %s", stderr)
		}
		if code, _, _ := c.run("", "user", "disable", "--email", "nobody@example.com"); code == 0 {
			t.Error("disabling an unknown address succeeded")
		}
		_, stdout, _ := c.run("", "audit", "export")
		if !strings.Contains(stdout, `"account.disable"`) || !strings.Contains(stdout, `"account.enable"`) {
			t.Errorf("no disable/enable audit events")
		}
	})
}

// TestRequirePasswordChangeAndUndeliveredMail: an operator forces a password
// change (CP-4.3) and lists mail kept in the outbox without a mail server
// (nothing lost, nothing personal shown).
func TestRequirePasswordChangeAndUndeliveredMail(t *testing.T) {
	c := newCLI(t, "")
	if code, _, stderr := c.run("a long enough passphrase 1\n", "user", "create", "--email", "p@example.com", "--role", "customer", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	if code, stdout, stderr := c.run("", "user", "require-password-change", "--email", "p@example.com", "--reason", "incident"); code != 0 || !strings.Contains(stdout, "must change its password") {
		t.Fatalf("require-password-change: exit %d %q %q", code, stdout, stderr)
	}
	// CP-12: the way out when the only administrator's training lapsed.
	if code, _, stderr := c.run("a long enough passphrase 1\n", "user", "create", "--email", "s@example.com", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	if code, stdout, stderr := c.run("", "user", "record-training", "--email", "s@example.com", "--note", "Insurer's course"); code != 0 || !strings.Contains(stdout, "training recorded") {
		t.Errorf("record-training: exit %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := c.run("", "user", "record-training", "--email", "p@example.com"); code != 2 || !strings.Contains(stderr, "staff accounts only") {
		t.Errorf("record-training for a customer: exit %d %q %q", code, stdout, stderr)
	}
	// CP-5.2: the purge on demand, dry or not.
	if code, stdout, stderr := c.run("", "retention", "run", "--dry-run"); code != 0 || !strings.Contains(stdout, "WOULD DELETE") || !strings.Contains(stdout, "sign_in_history") {
		t.Errorf("retention run --dry-run: exit %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := c.run("", "retention", "run"); code != 0 || !strings.Contains(stdout, "DELETED") {
		t.Errorf("retention run: exit %d %q %q", code, stdout, stderr)
	}
	if code, _, _ := c.run("", "user", "require-password-change", "--email", "p@example.com", "--reason", "whim"); code != 2 {
		t.Errorf("a bad --reason: exit %d, want 2", code)
	}
	code, stdout, stderr := c.run("", "mail", "undelivered")
	if code != 0 || !strings.Contains(stdout, "no undelivered mail") {
		t.Errorf("mail undelivered: exit %d %q %q", code, stdout, stderr)
	}
}

// TestBackupCommands: an operator writes a backup while the data is live,
// restores it into a fresh data directory with the keys directory copied
// over, and the restored installation's audit chain verifies; a wrong
// keyset is refused with a clear error (MTL-1.1, CP-5.1).
func TestBackupCommands(t *testing.T) {
	c := newCLI(t, "")
	if code, _, stderr := c.run("a long enough passphrase 1\n", "user", "create", "--email", "b@example.com", "--role", "customer", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	file := filepath.Join(t.TempDir(), "portico.backup")
	code, stdout, stderr := c.run("", "backup", "create", "--output", file)
	if code != 0 || !strings.Contains(stdout, "backup written to") {
		t.Fatalf("backup create: exit %d %q %q", code, stdout, stderr)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	if code, _, _ := c.run("", "backup", "create", "--output", file); code == 0 {
		t.Error("backup create overwrote a file")
	}

	// A fresh data directory with the keys directory copied over.
	target := newCLI(t, "")
	target.env["PORTICO_POLICY_FILE"] = c.env["PORTICO_POLICY_FILE"]
	keysFrom := filepath.Join(c.env["PORTICO_DATA_DIR"], "keys")
	keysTo := filepath.Join(target.env["PORTICO_DATA_DIR"], "keys")
	if err := os.MkdirAll(keysTo, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(keysFrom)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(keysFrom, e.Name()))
		os.WriteFile(filepath.Join(keysTo, e.Name()), b, 0o600)
	}
	code, stdout, stderr = target.run("", "backup", "restore", "--input", file)
	if code != 0 || !strings.Contains(stdout, "restored") {
		t.Fatalf("backup restore: exit %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := target.run("", "audit", "verify"); code != 0 || !strings.HasPrefix(stdout, "audit chain OK") {
		t.Errorf("restored audit chain: %d %q", code, stdout)
	}
	if code, _, stderr := target.run("", "backup", "restore", "--input", file); code == 0 || !strings.Contains(stderr, "not empty") {
		t.Errorf("restore over data: %d %q", code, stderr)
	}

	// Another installation's keyset cannot open it.
	stranger := newCLI(t, "")
	stranger.env["PORTICO_POLICY_FILE"] = c.env["PORTICO_POLICY_FILE"]
	if code, _, stderr := stranger.run("", "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	other := newCLI(t, "")
	other.env["PORTICO_POLICY_FILE"] = c.env["PORTICO_POLICY_FILE"]
	other.env["PORTICO_MASTER_KEY_FILE"] = filepath.Join(stranger.env["PORTICO_DATA_DIR"], "keys", "master.json")
	if code, _, stderr := other.run("", "backup", "restore", "--input", file); code == 0 || !strings.Contains(stderr, "cannot be opened with this master keyset") {
		t.Errorf("restore with another keyset: %d %q", code, stderr)
	}
}
