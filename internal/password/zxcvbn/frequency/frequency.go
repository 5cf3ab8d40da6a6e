// Package frequency holds zxcvbn's frequency lists (common passwords,
// English words, first names and surnames) as ranked dictionaries.
//
// Changed from upstream: the lists are not decoded from JSON into []string
// in a package initialiser (about 30 ms and 10 MB of allocations at every
// start of every program that imports zxcvbn, and 6 MB kept live). Each list
// is the embedded text, sorted, searched in place; the only heap it needs is
// one uint32 per word, built on first use and free of pointers, so the
// garbage collector never scans it.
package frequency

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/portico/portico/internal/password/zxcvbn/data"
)

// Dict is a ranked dictionary: lower-cased words, each with its rank in
// the list it came from (1 = most frequent).
type Dict struct {
	Name  string
	text  string   // sorted "word\trank\n" lines
	lines []uint32 // offset of each line in text
}

// Rank returns the rank of word (lower case) and whether it is in d.
func (d *Dict) Rank(word string) (int, bool) {
	i := sort.Search(len(d.lines), func(i int) bool { return d.word(i) >= word })
	if i == len(d.lines) || d.word(i) != word {
		return 0, false
	}
	line := d.text[d.lines[i]:]
	line = line[strings.IndexByte(line, '\t')+1:]
	line = line[:strings.IndexByte(line, '\n')]
	r, _ := strconv.Atoi(line)
	return r, true
}

// Len is the number of words in d.
func (d *Dict) Len() int { return len(d.lines) }

func (d *Dict) word(i int) string {
	line := d.text[d.lines[i]:]
	return line[:strings.IndexByte(line, '\t')]
}

func newDict(name, text string) *Dict {
	d := &Dict{Name: name, text: text, lines: make([]uint32, 0, strings.Count(text, "\n"))}
	for off := 0; off < len(text); {
		d.lines = append(d.lines, uint32(off))
		off += strings.IndexByte(text[off:], '\n') + 1
	}
	return d
}

// Lists returns the frequency lists, indexing them on first use. The names
// are upstream's (they appear as match.Match.DictionaryName).
var Lists = sync.OnceValue(func() []*Dict {
	return []*Dict{
		newDict("MaleNames", data.MaleNames),
		newDict("FemaleNames", data.FemaleNames),
		newDict("Surname", data.Surnames),
		newDict("English", data.English),
		newDict("Passwords", data.Passwords),
	}
})

// Contains reports whether word (lower case) is in any of the lists.
func Contains(word string) bool {
	for _, d := range Lists() {
		if _, ok := d.Rank(word); ok {
			return true
		}
	}
	return false
}
