package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinsValidate(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			p, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name {
				t.Errorf("Name = %q, want %q", p.Name, name)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("Validate:\n%v", err)
			}
			if adv := p.Advisories(); len(adv) > 0 {
				t.Errorf("Advisories of a built-in profile: %q", adv)
			}
		})
	}
}

func TestBuiltinDefault(t *testing.T) {
	if Names()[0] != Default {
		t.Errorf("Names()[0] = %q, want the default %q first", Names()[0], Default)
	}
	p, err := Builtin("")
	if err != nil || p.Name != Default {
		t.Errorf(`Builtin("") = %q, %v; want %q`, p.Name, err, Default)
	}
	if p.MFA.Mode != MFARequired {
		t.Errorf("default profile MFA mode = %q, want %q (CP-4.1)", p.MFA.Mode, MFARequired)
	}
}

func TestBuiltinUnknown(t *testing.T) {
	_, err := Builtin("strict")
	if err == nil || !strings.Contains(err.Error(), `"strict"`) || !strings.Contains(err.Error(), MTLWeb) {
		t.Errorf("Builtin(strict) error = %v; want one naming the profile and the choices", err)
	}
}

// The two profiles differ only where the two policies differ (CLAUSES.md,
// "Where the two policies differ"), plus the password length that follows
// from the MFA mode.
func TestBuiltinsDifferOnlyWherePoliciesDiffer(t *testing.T) {
	cp, _ := Builtin(CustomerPortal)
	mtl, _ := Builtin(MTLWeb)
	var diff []string
	a, b := cp.Settings(), mtl.Settings()
	for i := range a {
		if a[i].Value != b[i].Value {
			diff = append(diff, a[i].Key)
		}
	}
	want := []string{"name", "mfa.mode", "password.min_length", "password.expiry_days"}
	if !slices.Equal(diff, want) {
		t.Errorf("settings that differ = %q, want %q", diff, want)
	}
	if mtl.MFA.Mode != MFAEncouraged || mtl.Password.MinLength != 15 || mtl.Password.ExpiryDays != 0 {
		t.Errorf("1642mtl-web: mfa %q, min length %d, expiry %v; want encouraged, 15, off",
			mtl.MFA.Mode, mtl.Password.MinLength, mtl.Password.ExpiryDays)
	}
	if cp.Password.ExpiryDays <= 0 {
		t.Errorf("customer-portal: password expiry off; CP-4.3 asks for it")
	}
}

func TestBuiltinReturnsFreshValue(t *testing.T) {
	p, _ := Builtin(Default)
	p.Password.MinLength = 99
	q, _ := Builtin(Default)
	if q.Password.MinLength == 99 {
		t.Error("changing one Builtin result changed the next")
	}
}

// Every tunable names the clauses that set it, and those clauses exist.
func TestSettingsNameKnownClauses(t *testing.T) {
	p, _ := Builtin(Default)
	keys := map[string]bool{}
	for _, s := range p.Settings() {
		if keys[s.Key] {
			t.Errorf("setting %s listed twice", s.Key)
		}
		keys[s.Key] = true
		if s.Key == "name" {
			continue
		}
		if len(s.Clauses) == 0 {
			t.Errorf("setting %s names no clause", s.Key)
		}
		for _, id := range s.Clauses {
			if _, ok := ClauseByID(id); !ok {
				t.Errorf("setting %s names unknown clause %q", s.Key, id)
			}
		}
	}
}

func TestSettingsCoverEveryField(t *testing.T) {
	// A field of a new type would make Settings panic; a field without a
	// toml tag would be written with an empty key.
	p, _ := Builtin(Default)
	n := 0
	var count func(reflect.Type)
	count = func(t reflect.Type) {
		for i := range t.NumField() {
			if f := t.Field(i); f.Type.Kind() == reflect.Struct && f.Type != durationType {
				count(f.Type)
			} else {
				n++
			}
		}
	}
	count(reflect.TypeFor[Profile]())
	got := p.Settings()
	if len(got) != n {
		t.Errorf("Settings has %d entries, the struct %d leaves", len(got), n)
	}
	for _, s := range got {
		if s.Key == "" || strings.HasSuffix(s.Key, ".") || s.Value == "" {
			t.Errorf("setting %+v: empty key or value", s)
		}
	}
}
