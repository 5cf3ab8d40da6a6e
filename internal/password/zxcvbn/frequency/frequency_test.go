package frequency

import "testing"

func TestRank(t *testing.T) {
	byName := map[string]*Dict{}
	for _, d := range Lists() {
		byName[d.Name] = d
	}
	for _, c := range []struct {
		list, word string
		rank       int
		ok         bool
	}{
		{"Passwords", "password", 1, true},
		{"Passwords", "123456", 2, true},
		{"Passwords", "eyphed", 7141, true}, // the last line of the list
		{"Surname", "smith", 1, true},
		{"Surname", "baysmore", 40583, true},
		{"English", "a", 5, true},
		{"Passwords", "Password", 0, false}, // the lists are lower case
		{"Passwords", "passwordqq", 0, false},
		{"Passwords", "", 0, false},
		{"Passwords", "zzzzzzzzzzzzzzzz", 0, false}, // after the last word
	} {
		r, ok := byName[c.list].Rank(c.word)
		if r != c.rank || ok != c.ok {
			t.Errorf("%s.Rank(%q) = %d, %v; want %d, %v", c.list, c.word, r, ok, c.rank, c.ok)
		}
	}
	if n := byName["Passwords"].Len(); n != 7141 {
		t.Errorf("Passwords has %d words, want 7141", n)
	}
	if !Contains("johnson") || Contains("qzxv portico") {
		t.Error("Contains is wrong")
	}
}
