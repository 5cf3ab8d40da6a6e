package password

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// breachedFile is a Pwned Passwords file (haveibeenpwned.com, SHA-1
// version, "ordered by hash"): one "SHA1HEX:count" line per password, in
// ascending order of the hash, with LF or CRLF line ends. The real file is
// tens of gigabytes, so it is never loaded: each lookup binary-searches it
// by byte offset with ReadAt, which is safe for concurrent use.
type breachedFile struct {
	path string
	f    *os.File
	size int64 // to the end of the last line, trailing line ends excluded
}

// maxLine bounds a line, '\r' included: a hash, a colon and a count take
// at most 61 bytes, so a longer line means the file is not what it claims.
const maxLine = 100

// openBreached opens the file at path and checks that its first and last
// lines have the expected format, so that a wrong file (another format, the
// NTLM version, a truncated download) is refused at start.
func openBreached(path string) (*breachedFile, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("breached password file %s: "+format, append([]any{path}, args...)...)
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fail("%w", err)
	}
	b := &breachedFile{path: path, f: f}
	if err := b.init(fail); err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

func (b *breachedFile) init(fail func(string, ...any) error) error {
	st, err := b.f.Stat()
	if err != nil {
		return fail("%w", err)
	}
	if !st.Mode().IsRegular() {
		return fail("is not a regular file")
	}
	b.size = st.Size()

	// The last line, with any line ends after it trimmed off.
	tail := make([]byte, min(b.size, 2*(maxLine+1)))
	if err := b.readFull(tail, b.size-int64(len(tail))); err != nil {
		return fail("%w", err)
	}
	trimmed := bytes.TrimRight(tail, "\r\n")
	if len(trimmed) == 0 {
		if int64(len(tail)) == b.size {
			return fail("is empty")
		}
		return fail("ends with blank lines")
	}
	tailStart := b.size - int64(len(tail))
	b.size -= int64(len(tail) - len(trimmed))
	last := trimmed[bytes.LastIndexByte(trimmed, '\n')+1:]
	if tailStart > 0 && bytes.IndexByte(trimmed, '\n') < 0 {
		return fail("the last line is longer than %d bytes", maxLine)
	}

	// The first line.
	head := make([]byte, min(b.size, maxLine+1))
	if err := b.readFull(head, 0); err != nil {
		return fail("%w", err)
	}
	first := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		first = head[:i]
	} else if int64(len(head)) < b.size {
		return fail("the first line is longer than %d bytes", maxLine)
	}

	const format = "the %s line is not in the Pwned Passwords SHA-1 format (40 hexadecimal digits, a colon and a count)"
	if !validLine(first) {
		return fail(format, "first")
	}
	if !validLine(last) {
		return fail(format, "last")
	}
	return nil
}

func (b *breachedFile) readFull(p []byte, off int64) error {
	n, err := b.f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (b *breachedFile) close() error { return b.f.Close() }

// validLine reports whether line (without '\n') is "HASH:count".
func validLine(line []byte) bool {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) < 42 || len(line) > 61 || line[40] != ':' {
		return false
	}
	for _, c := range line[:40] {
		if !isHex(c) {
			return false
		}
	}
	for _, c := range line[41:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f'
}

// contains reports whether the SHA-1 of password is in the file.
func (b *breachedFile) contains(password string) (bool, error) {
	sum := sha1.Sum([]byte(password)) // #nosec G401 -- the file's format, not a protection
	var key [40]byte
	hex.Encode(key[:], sum[:])
	for i, c := range key {
		key[i] = upper(c)
	}
	return b.search(key)
}

// search binary-searches the lines by byte offset. Invariant: if key is in
// the file, its line starts in [lo, hi), and lo is the start of a line.
func (b *breachedFile) search(key [40]byte) (bool, error) {
	buf := make([]byte, 2*(maxLine+1))
	lo, hi := int64(0), b.size
	for lo < hi {
		mid := lo + (hi-lo)/2
		start, line, err := b.lineAtOrAfter(mid, buf)
		if err != nil {
			return false, err
		}
		if start >= hi {
			// No line starts in [mid, hi).
			hi = mid
			continue
		}
		if len(line) < 41 || line[40] != ':' {
			return false, fmt.Errorf("breached password file %s: malformed line at byte %d", b.path, start)
		}
		switch compareKey(line[:40], key[:]) {
		case 0:
			return true, nil
		case -1:
			lo = start + int64(len(line)) + 1
		default:
			// Sorted lines: key's line cannot start at or after start,
			// and no line starts in [mid, start).
			hi = mid
		}
	}
	return false, nil
}

// lineAtOrAfter returns the first line that starts at or after off, without
// its '\n', and where it starts; start is b.size when there is none.
func (b *breachedFile) lineAtOrAfter(off int64, buf []byte) (int64, []byte, error) {
	readAt := max(off-1, 0)
	buf = buf[:min(int64(len(buf)), b.size-readAt)]
	n, err := b.f.ReadAt(buf, readAt)
	if n < len(buf) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("breached password file %s: %w", b.path, err)
	}
	start, rest := off, buf
	if off > 0 {
		// Skip the end of the line that holds off-1 (just its '\n' when
		// off-1 ends a line).
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if readAt+int64(len(buf)) >= b.size {
				return b.size, nil, nil
			}
			return 0, nil, fmt.Errorf("breached password file %s: line longer than %d bytes near byte %d", b.path, maxLine, off)
		}
		start, rest = readAt+int64(i)+1, buf[i+1:]
	}
	if start >= b.size {
		return b.size, nil, nil
	}
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		return start, rest[:j], nil
	}
	if start+int64(len(rest)) >= b.size {
		return start, rest, nil // the last line
	}
	return 0, nil, fmt.Errorf("breached password file %s: line longer than %d bytes at byte %d", b.path, maxLine, start)
}

// compareKey compares a hash from the file, in either case, with key in
// upper case.
func compareKey(line, key []byte) int {
	for i := range key {
		c := upper(line[i])
		switch {
		case c < key[i]:
			return -1
		case c > key[i]:
			return 1
		}
	}
	return 0
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
