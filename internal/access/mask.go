package access

import (
	"strings"
	"unicode/utf8"
)

// Masked views of personal data for staff who need to recognise a customer
// but not to read their details (MTL-3.2.1: least privilege for support).
// A field is shown in full only through a reason-backed, time-bound reveal
// (MTL-3.2.2).

// MaskEmail keeps the first character of the local part and the domain:
// "jane.doe@example.com" becomes "j***@example.com".
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// MaskPhone keeps the last two digits: "+44 20 7946 0958" becomes
// "*** ** 58". An empty phone stays empty.
func MaskPhone(phone string) string {
	var digits []rune
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	switch {
	case len(digits) == 0:
		return ""
	case len(digits) <= 2:
		return "***"
	}
	return "*** ** " + string(digits[len(digits)-2:])
}

// MaskName keeps the first letter of each word: "Jane Doe" becomes
// "J*** D***".
func MaskName(name string) string {
	words := strings.Fields(name)
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		words[i] = string(r) + "***"
	}
	return strings.Join(words, " ")
}
