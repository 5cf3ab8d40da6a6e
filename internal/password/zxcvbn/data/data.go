// Package data holds zxcvbn's word lists and keyboard graphs, embedded in
// the binary. Upstream kept them gzip-compressed (go-bindata) and decoded
// them all in package initialisers; here they are plain, read in place and
// only when a password is first estimated.
package data

import (
	"embed"
	"path"
)

//go:embed *.json
var graphs embed.FS

// Asset returns a keyboard graph file by upstream's name
// ("data/Qwerty.json").
func Asset(name string) ([]byte, error) {
	return graphs.ReadFile(path.Base(name))
}

// The frequency lists, made by gen.go from upstream's JSON: sorted
// "word<TAB>rank" lines. As strings they stay in the binary's read-only
// data: no copy on the heap, nothing for the garbage collector to scan.
var (
	//go:embed MaleNames.txt
	MaleNames string
	//go:embed FemaleNames.txt
	FemaleNames string
	//go:embed Surnames.txt
	Surnames string
	//go:embed English.txt
	English string
	//go:embed Passwords.txt
	Passwords string
)
