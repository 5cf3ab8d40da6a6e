//go:build ignore

// Command gen writes the frequency lists of zxcvbn-go v1.0.4
// (data/data/<Name>.json in that module: {"List": [words, most frequent
// first]}) as <Name>.txt: one "word<TAB>rank" line per word, lower-cased
// and sorted by byte order, the rank of a word counted from 1 in the list's
// order, and the last rank kept when lower-casing makes two words equal
// (what upstream's map did). Sorted lines let the lists be searched in place,
// with no map built at all.
//
//	go run gen.go $(go env GOMODCACHE)/github.com/ccojocar/zxcvbn-go@v1.0.4/data/data
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	for _, name := range []string{"MaleNames", "FemaleNames", "Surnames", "English", "Passwords"} {
		b, err := os.ReadFile(filepath.Join(os.Args[1], name+".json"))
		if err != nil {
			log.Fatal(err)
		}
		var l struct{ List []string }
		if err := json.Unmarshal(b, &l); err != nil {
			log.Fatal(err)
		}
		rank := map[string]int{}
		for i, w := range l.List {
			if strings.ContainsAny(w, "\t\n") {
				log.Fatalf("%s: word %q holds a tab or newline", name, w)
			}
			rank[strings.ToLower(w)] = i + 1
		}
		words := slices.Sorted(func(yield func(string) bool) {
			for w := range rank {
				if !yield(w) {
					return
				}
			}
		})
		var out strings.Builder
		for _, w := range words {
			fmt.Fprintf(&out, "%s\t%d\n", w, rank[w])
		}
		if err := os.WriteFile(name+".txt", []byte(out.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
