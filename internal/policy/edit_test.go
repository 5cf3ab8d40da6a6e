package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEdit: an administrator's change is validated, written minimal and
// atomically with mode 0600, and reported with old and new values; an
// invalid or unknown setting writes nothing (MTL-3.2.2).
func TestEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.toml")
	p, changes, err := Edit(path, CustomerPortal, map[string]string{
		"session.idle_timeout":    "20m",
		"access.blocked_networks": "203.0.113.0/24, 198.51.100.0/24",
		"lockout.threshold":       "10", // unchanged: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Session.IdleTimeout.Duration != 20*time.Minute || len(p.Access.BlockedNetworks) != 2 {
		t.Fatalf("profile %+v", p.Session)
	}
	if len(changes) != 2 || changes[1].Key != "session.idle_timeout" || changes[1].Old != "30m" || changes[1].New != "20m" || len(changes[1].Clauses) == 0 {
		t.Fatalf("changes %+v", changes)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v", st, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "threshold") || !strings.Contains(string(b), "idle_timeout") {
		t.Errorf("the file is not minimal:\n%s", b)
	}
	if back, err := Load(CustomerPortal, path); err != nil || back.Session.IdleTimeout.Duration != 20*time.Minute {
		t.Fatalf("Load: %v", err)
	}
	for name, values := range map[string]map[string]string{
		"over the bound":    {"session.idle_timeout": "48h"},
		"not a duration":    {"session.idle_timeout": "soon"},
		"unknown":           {"session.nap": "1m"},
		"bad network":       {"access.blocked_networks": "not-a-network"},
		"no regime":         {"incident.regimes": "none"},
		"unknown regime":    {"incident.regimes": "gdpr, ccpa"},
		"name not editable": {"name": "1642mtl-web"},
	} {
		if _, _, err := Edit(path, CustomerPortal, values); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A value that does not parse and one out of bounds are both named.
	_, _, err = Edit(path, CustomerPortal, map[string]string{"password.min_length": "abc", "session.idle_timeout": "48h"})
	var se *SettingError
	if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), "password.min_length: not a whole number") || !strings.Contains(err.Error(), "session.idle_timeout: must be") {
		t.Errorf("both problems at once: %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(b) {
		t.Error("a refused edit changed the file")
	}
	// Back to the built-in value: the key leaves the file.
	if _, _, err := Edit(path, CustomerPortal, map[string]string{"session.idle_timeout": "30m"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "idle_timeout") {
		t.Errorf("a built-in value is written:\n%s", b)
	}
}

// TestEditConcurrent: administrators saving different settings at once
// each keep their change: the file ends with all of them (MTL-3.2.2).
func TestEditConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.toml")
	edits := map[string]string{
		"session.idle_timeout":     "20m",
		"rate_limit.login_per_ip":  "40",
		"rate_limit.signup_per_ip": "9",
		"rate_limit.reset_per_ip":  "8",
		"rate_limit.mfa_per_ip":    "30",
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(edits))
	for k, v := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, changes, err := Edit(path, CustomerPortal, map[string]string{k: v})
			if err == nil && len(changes) != 1 {
				err = fmt.Errorf("%s: %d changes", k, len(changes))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(CustomerPortal, path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range p.Settings() {
		got[s.Key] = s.Value
	}
	for k, v := range edits {
		if got[k] != v {
			t.Errorf("%s = %s, want %s (a concurrent edit was lost)", k, got[k], v)
		}
	}
}

// TestEditRecorded: the changes are handed to the recorder before the
// file is replaced, and a failed record leaves the file as it was, so no
// change is in the file without its audit record (MTL-3.2.2).
func TestEditRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.toml")
	if _, _, err := Edit(path, CustomerPortal, map[string]string{"lockout.threshold": "8"}); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(path)
	fail := errors.New("the audit trail is down")
	_, _, err := EditRecorded(path, CustomerPortal, map[string]string{"session.idle_timeout": "20m"}, func([]Change) error { return fail })
	if !errors.Is(err, fail) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(orig) {
		t.Error("a change whose record failed reached the file")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".policy-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	var seen []Change
	_, changes, err := EditRecorded(path, CustomerPortal, map[string]string{"session.idle_timeout": "20m", "lockout.threshold": "8"}, func(c []Change) error {
		seen = c
		if b, _ := os.ReadFile(path); string(b) != string(orig) {
			t.Error("the file was replaced before the record")
		}
		return nil
	})
	if err != nil || len(changes) != 1 || len(seen) != 1 || seen[0].Key != "session.idle_timeout" || seen[0].Old != "30m" || seen[0].New != "20m" {
		t.Fatalf("changes %+v, recorded %+v, %v", changes, seen, err)
	}
	called := false
	if _, _, err := EditRecorded(path, CustomerPortal, map[string]string{"session.idle_timeout": "20m"}, func([]Change) error { called = true; return nil }); err != nil || called {
		t.Errorf("no change: recorder called %v, %v", called, err)
	}
}
