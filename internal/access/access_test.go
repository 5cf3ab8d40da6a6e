package access

import "testing"

// TestAllowed is the decision table for an account's permissions over
// itself (CP-4.2 deny by default; CP-4.1 and CP-12 restricted stages).
func TestAllowed(t *testing.T) {
	stages := []Stage{StageNone, StageSecondFactor, StageEmailCode, StageEnrol, StageChangePassword, StageDone}
	want := map[Permission][]Stage{
		Public:               stages,
		SessionEnd:           {StageSecondFactor, StageEmailCode, StageEnrol, StageChangePassword, StageDone},
		SignInSecondFactor:   {StageSecondFactor, StageEmailCode},
		MFAEnrol:             {StageEnrol, StageDone},
		PasswordChange:       {StageChangePassword, StageDone},
		AccountSelf:          {StageDone},
		"no.such.permission": nil,
	}
	for perm, allowed := range want {
		for _, st := range stages {
			exp := false
			for _, a := range allowed {
				exp = exp || a == st
			}
			p := Principal{AccountID: "a", Role: RoleCustomer, Stage: st}
			if st == StageNone {
				p = Principal{}
			}
			if got := Allowed(p, perm); got != exp {
				t.Errorf("Allowed(stage %q, %s) = %v, want %v", st, perm, got, exp)
			}
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole accepted an unknown role")
	}
	if RoleCustomer.IsStaff() || !RoleAuditor.IsStaff() {
		t.Error("IsStaff is wrong")
	}
}

// TestMask: support sees masked personal data by default (MTL-3.2.1).
func TestMask(t *testing.T) {
	for in, want := range map[string]string{"jane.doe@example.com": "j***@example.com", "x": "***", "": "***", "élodie@exemple.fr": "é***@exemple.fr"} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"+44 20 7946 0958": "*** ** 58", "": "", "12": "***", "abc": ""} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MaskName("Jane  Doe"); got != "J*** D***" {
		t.Errorf("MaskName = %q", got)
	}
}

// TestMayContract: contractors hold support, security or auditor roles,
// never a customer's and never administration (MTL-1.2).
func TestMayContract(t *testing.T) {
	want := map[Role]bool{RoleCustomer: false, RoleSupport: true, RoleSecurity: true, RoleAdmin: false, RoleAuditor: true}
	if len(want) != len(Roles()) {
		t.Fatalf("roles %v, table %v", Roles(), want)
	}
	for _, r := range Roles() {
		if got := r.MayContract(); got != want[r] {
			t.Errorf("%s.MayContract() = %v, want %v", r, got, want[r])
		}
	}
}
