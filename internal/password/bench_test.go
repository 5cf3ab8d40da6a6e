package password_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portico/portico/internal/password"
)

// BenchmarkCheck is the cost of accepting a 128-character passphrase, the
// worst case for the strength estimate (which looks at the first 64).
func BenchmarkCheck(b *testing.B) {
	c := newChecker(b, nil, "")
	pw := strings.Repeat("violet quarry lantern 86 ", 6)[:128]
	in := password.Input{Password: pw, Email: "maria.garcia@example.com", Name: "Maria Garcia"}
	if err := c.Check(in); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := c.Check(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckTypical is a 24-character passphrase with the breach
// lookup in a 1,000,000-line file.
func BenchmarkCheckTypical(b *testing.B) {
	c := newChecker(b, nil, millionLines(b))
	in := password.Input{Password: "violet quarry lantern 86", Email: "maria.garcia@example.com", Name: "Maria Garcia"}
	for b.Loop() {
		if err := c.Check(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBreached looks up passwords, half of them present, in a
// 1,000,000-line Pwned Passwords file.
func BenchmarkBreached(b *testing.B) {
	c := newChecker(b, nil, millionLines(b))
	pws := make([]string, 1024)
	for i := range pws {
		if i%2 == 0 {
			pws[i] = string(binary.BigEndian.AppendUint64(nil, uint64(i*977))) // in the file
		} else {
			pws[i] = fmt.Sprintf("absent-%d", i)
		}
	}
	i := 0
	for b.Loop() {
		found, err := c.Breached(pws[i%len(pws)])
		if err != nil || found != (i%len(pws)%2 == 0) {
			b.Fatalf("Breached(%q) = %v, %v", pws[i%len(pws)], found, err)
		}
		i++
	}
}

// millionLines writes a sorted file of 1,000,000 hashes, of the 8-byte
// big-endian numbers 0..999999, with CRLF line ends like the real one.
func millionLines(b *testing.B) string {
	b.Helper()
	const n = 1_000_000
	sums := make([][sha1.Size]byte, n)
	for i := range sums {
		sums[i] = sha1.Sum(binary.BigEndian.AppendUint64(nil, uint64(i)))
	}
	slices.SortFunc(sums, func(x, y [sha1.Size]byte) int { return bytes.Compare(x[:], y[:]) })
	path := filepath.Join(b.TempDir(), "pwned.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i, s := range sums {
		fmt.Fprintf(w, "%X:%d\r\n", s, i%5000+1)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}
