package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writePolicy writes a policy file in a fresh directory and returns its path.
func writePolicy(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadWithoutFileIsBuiltin(t *testing.T) {
	for _, name := range append(Names(), "") {
		got, err := Load(name, "")
		if err != nil {
			t.Fatalf("Load(%q): %v", name, err)
		}
		want, _ := Builtin(name)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Load(%q, \"\") differs from Builtin", name)
		}
	}
}

func TestLoadUnknownProfile(t *testing.T) {
	if _, err := Load("nope", ""); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Load(nope) error = %v", err)
	}
}

func TestLoadChangesOnlyWhatTheFileNames(t *testing.T) {
	path := writePolicy(t, `
[session]
idle_timeout = "10m"

[password.argon2]
memory_kib = 64
iterations = 1

[retention]
closed_tickets = "730d"
`)
	got, err := Load(MTLWeb, path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Builtin(MTLWeb)
	want.Session.IdleTimeout = Duration{10 * time.Minute}
	want.Password.Argon2.MemoryKiB = 64
	want.Password.Argon2.Iterations = 1
	want.Retention.ClosedTickets = Days(730)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", got, want)
	}
}

// Other packages' tests make hashing cheap through the override file: that
// must load, and be flagged for production.
func TestLoadAcceptsCheapArgon2ForTests(t *testing.T) {
	path := writePolicy(t, "[password.argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n")
	p, err := Load(Default, path)
	if err != nil {
		t.Fatal(err)
	}
	adv := p.Advisories()
	if len(adv) != 1 || !strings.HasPrefix(adv[0], "password.argon2:") {
		t.Errorf("Advisories = %q, want one about password.argon2", adv)
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	path := writePolicy(t, `
[password]
min_lenght = 14

[sessions]
idle_timeout = "10m"
absolute_timeout = "1h"

[password.argon2]
salt = 16
`)
	_, err := Load(Default, path)
	if err == nil {
		t.Fatal("Load succeeded with unknown keys")
	}
	msg := err.Error()
	for _, want := range []string{
		"policy file " + path + ": password.min_lenght: unknown setting",
		"policy file " + path + ": sessions: unknown section",
		"policy file " + path + ": password.argon2.salt: unknown setting",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "sessions.idle_timeout") {
		t.Errorf("keys of an unknown section reported one by one:\n%s", msg)
	}
}

func TestLoadRejectsInvalidValues(t *testing.T) {
	path := writePolicy(t, `
[password]
min_length = 6

[incident]
regulator_notification = "96h"

[detection.incident_overdue]
responses = ["lock"]
`)
	_, err := Load(Default, path)
	if err == nil {
		t.Fatal("Load succeeded with invalid values")
	}
	msg := err.Error()
	for _, want := range []string{
		"policy file " + path + ": password.min_length: must be at least 8 (NIST SP 800-63B)",
		"policy file " + path + ": incident.regulator_notification: must be at most 72h",
		"policy file " + path + ": detection.incident_overdue.responses: an overdue incident has no account or network to act on",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	var se *SettingError
	if !errors.As(err, &se) || se.File != path {
		t.Errorf("error is not a *SettingError naming the file: %#v", err)
	}
}

func TestLoadNamesKeyOfBadValue(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{"[session]\nidle_timeout = \"soon\"\n", "session.idle_timeout"},
		{"[password]\nmin_length = \"twelve\"\n", "password.min_length"},
		{"[password.argon2]\nparallelism = 300\n", "password.argon2.parallelism"},
		{"[password.argon2]\nmemory_kib = -1\n", "password.argon2.memory_kib"},
	} {
		path := writePolicy(t, tc.text)
		_, err := Load(Default, path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("Load(%q) error = %v; want one naming %s and the file", tc.text, err, tc.key)
		}
	}
}

func TestLoadRejectsMTLEncouragedShortPassword(t *testing.T) {
	// Switching the default profile to encouraged MFA without lengthening
	// passwords leaves 12-character passwords as the only factor.
	path := writePolicy(t, "[mfa]\nmode = \"encouraged\"\n")
	_, err := Load(Default, path)
	if err == nil || !strings.Contains(err.Error(), "password.min_length: must be at least 15") {
		t.Errorf("Load error = %v; want password.min_length at least 15", err)
	}
}

func TestLoadRejectsOtherProfilesFile(t *testing.T) {
	path := writePolicy(t, "name = \""+MTLWeb+"\"\n")
	_, err := Load(CustomerPortal, path)
	if err == nil || !strings.Contains(err.Error(), path+": name: the file is for profile \"1642mtl-web\"") {
		t.Errorf("Load error = %v; want a name mismatch", err)
	}
	if _, err := Load(MTLWeb, path); err != nil {
		t.Errorf("Load with the matching name: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	_, err := Load(Default, path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load error = %v; want not-exist", err)
	}
	if want := "policy file " + path + ": "; !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), path) != 1 {
		t.Errorf("error = %q; want it to name the file once, after %q", err, want)
	}
}

func TestLoadRejectsSyntaxError(t *testing.T) {
	path := writePolicy(t, "[session\n")
	if _, err := Load(Default, path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load error = %v; want one naming the file", err)
	}
}
