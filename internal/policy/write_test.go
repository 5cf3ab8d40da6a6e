package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// roundTrip writes p as TOML, loads it back over the built-in of the same
// name and returns the result.
func roundTrip(t *testing.T, p Profile) Profile {
	t.Helper()
	var b strings.Builder
	if err := p.WriteTOML(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p.Name, path)
	if err != nil {
		t.Fatalf("Load of WriteTOML output: %v\n%s", err, b.String())
	}
	return got
}

func TestWriteTOMLRoundTrips(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			p, _ := Builtin(name)
			if got := roundTrip(t, p); !reflect.DeepEqual(got, p) {
				t.Errorf("round trip changed the profile:\n got %+v\nwant %+v", got, p)
			}
		})
	}
	t.Run("every value changed", func(t *testing.T) {
		// Written over the other built-in values, so that a setting missing
		// from the output would show.
		p, _ := Builtin(MTLWeb)
		p.Name = CustomerPortal
		p.Password.MinLength = 16
		p.Password.ExpiryDays = 60
		p.Password.ExpiryWarningDays = 3
		p.Password.Argon2 = Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 2}
		p.Session.IdleTimeout = Duration{90 * time.Second}
		p.Session.StepUpWindow = Duration{1500 * time.Millisecond}
		p.Retention.Notices = Days(1000)
		p.Access.BlockedNetworks = []string{"203.0.113.0/24", "2001:db8::/32"}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := roundTrip(t, p); !reflect.DeepEqual(got, p) {
			t.Errorf("round trip changed the profile:\n got %+v\nwant %+v", got, p)
		}
	})
}

func TestTOMLString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     `"plain"`,
		`a"b\c`:     `"a\"b\\c"`,
		"tab\tnl\n": `"tab\u0009nl\u000A"`,
		"del\x7f":   `"del\u007F"`,
		"résumé":    `"résumé"`,
	} {
		if got := tomlString(in); got != want {
			t.Errorf("tomlString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	p, _ := Builtin(MTLWeb)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"1642mtl-web"`, `"mode":"encouraged"`, `"idle_timeout":"30m"`, `"expiry_days":0`, `"memory_kib":19456`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var back Profile
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("JSON round trip: %v\n got %+v\nwant %+v", err, back, p)
	}
}
