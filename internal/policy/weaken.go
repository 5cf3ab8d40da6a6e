package policy

import (
	"reflect"
	"slices"
)

// Weakens lists the settings (by key, in file order) whose value in next
// is weaker than in cur: a shorter retention, MFA no longer required, a
// laxer lockout, password, session, rate-limit or access rule, a longer
// step-up window or deadline. Each setting's `weak` struct tag says which
// way weakens it: "down" (a lower value), "up" (a higher value), "mfa"
// (required to encouraged), "expiry" (password expiry turned off or made
// longer), "list" (an entry removed). Settings without the tag (the
// profile name, how many recovery codes, the expiry warning, argon2
// lanes, the erasure grace period) are never weakening.
//
// Enforces CP-4.2, CP-5.2, CP-5.3, MTL-7.2: the web layer files such an
// edit for a second administrator instead of writing it (four eyes), so no
// single administrator can loosen the controls or shorten the evidence of
// their own actions.
func Weakens(cur, next Profile) []string {
	var out []string
	a, b := fields(reflect.ValueOf(cur), ""), fields(reflect.ValueOf(next), "")
	for i, f := range a {
		if weaker(f.weak, f.v, b[i].v) {
			out = append(out, f.key())
		}
	}
	return out
}

// weaker reports whether next is weaker than cur in the direction dir.
func weaker(dir string, cur, next reflect.Value) bool {
	switch dir {
	case "down":
		return less(next, cur)
	case "up":
		return less(cur, next)
	case "mfa":
		return cur.String() == string(MFARequired) && next.String() != string(MFARequired)
	case "expiry":
		c, n := cur.Int(), next.Int()
		return c > 0 && (n == 0 || n > c)
	case "action":
		return actionRank(next.String()) < actionRank(cur.String())
	case "list":
		for _, item := range cur.Interface().([]string) {
			if !slices.Contains(next.Interface().([]string), item) {
				return true
			}
		}
	}
	return false
}

// less compares two numeric or duration leaves.
func less(x, y reflect.Value) bool {
	if x.Type() == durationType {
		return x.Interface().(Duration).Duration < y.Interface().(Duration).Duration
	}
	switch x.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return x.Int() < y.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return x.Uint() < y.Uint()
	}
	panic("policy: weak tag on a setting that is not a number or a duration: " + x.Type().String())
}

// Weakening lists the settings among changes (as Edit and EditRecorded
// report them) whose new value is weaker than the old one, in the sense of
// Weakens. EditRecorded's record step calls it to refuse a weakening edit
// that has no second administrator's approval.
func Weakening(changes []Change) []string {
	cur, _ := Builtin(Default)
	next := cur
	cv, nv := reflect.ValueOf(&cur).Elem(), reflect.ValueOf(&next).Elem()
	byKey := func(v reflect.Value) map[string]field {
		m := map[string]field{}
		for _, f := range fields(v, "") {
			m[f.key()] = f
		}
		return m
	}
	cf, nf := byKey(cv), byKey(nv)
	for _, c := range changes {
		a, okA := cf[c.Key]
		b, okB := nf[c.Key]
		if !okA || !okB || setText(a.v, c.Old) != nil || setText(b.v, c.New) != nil {
			continue
		}
	}
	return Weakens(cur, next)
}

// actionRank orders sign-in risk actions from the mildest.
func actionRank(a string) int {
	switch a {
	case RiskChallenge:
		return 1
	case RiskBlock:
		return 2
	}
	return 0
}
