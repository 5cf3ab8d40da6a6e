package password_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
)

// TestBreached: MTL-3.1.1, passwords in the Pwned Passwords file are found
// wherever they sit in it (first line, last line, anywhere between), in
// every line-end variant, and no other password is.
func TestBreached(t *testing.T) {
	in := numbered("breached", 3000)
	out := numbered("fresh", 3000)
	lines := breachedLines(in)
	byHash := map[string]string{}
	for _, p := range in {
		byHash[sha1Hex(p)] = p
	}
	first := byHash[lines[0][:40]]
	last := byHash[lines[len(lines)-1][:40]]
	middle := byHash[lines[len(lines)/2][:40]]

	lower := make([]string, len(lines))
	for i, l := range lines {
		lower[i] = strings.ToLower(l)
	}
	variants := []struct {
		name    string
		lines   []string
		eol     string
		lastEOL bool
	}{
		{"LF", lines, "\n", true},
		{"CRLF", lines, "\r\n", true},
		{"LF, no final line end", lines, "\n", false},
		{"CRLF, no final line end", lines, "\r\n", false},
		{"blank lines at the end", append(append([]string{}, lines...), "", ""), "\n", true},
		{"lower-case hex in the file", lower, "\n", true},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			c := newChecker(t, nil, writeLines(t, v.lines, v.eol, v.lastEOL))
			for _, p := range []string{first, last, middle} {
				if found, err := c.Breached(p); err != nil || !found {
					t.Fatalf("Breached(%q) = %v, %v; want true", p, found, err)
				}
			}
			for _, p := range in {
				if found, err := c.Breached(p); err != nil || !found {
					t.Fatalf("Breached(%q) = %v, %v; want true", p, found, err)
				}
			}
			for _, p := range out {
				if found, err := c.Breached(p); err != nil || found {
					t.Fatalf("Breached(%q) = %v, %v; want false", p, found, err)
				}
			}
		})
	}

	t.Run("one and two lines", func(t *testing.T) {
		for n := 1; n <= 2; n++ {
			c := newChecker(t, nil, writeLines(t, breachedLines(in[:n]), "\r\n", true))
			for i, p := range in[:n+1] {
				found, err := c.Breached(p)
				if err != nil || found != (i < n) {
					t.Fatalf("%d lines: Breached(%q) = %v, %v", n, p, found, err)
				}
			}
		}
	})

	t.Run("every small size, lines of uneven length", func(t *testing.T) {
		for n := 1; n <= 40; n++ {
			ls := breachedLines(in[:n])
			for i := range ls {
				ls[i] += strings.Repeat("9", (i*7)%19) // counts up to 20 digits
			}
			c := newChecker(t, nil, writeLines(t, ls, "\r\n", n%2 == 0))
			for i, p := range in[:n] {
				if found, err := c.Breached(p); err != nil || !found {
					t.Fatalf("%d lines: Breached(%q) = %v, %v", n, p, found, err)
				}
				if found, err := c.Breached(out[i]); err != nil || found {
					t.Fatalf("%d lines: Breached(%q) = %v, %v", n, out[i], found, err)
				}
			}
		}
	})

	t.Run("Check refuses a breached password", func(t *testing.T) {
		const pwned = "violet quarry lantern 86"
		c := newChecker(t, nil, writeLines(t, breachedLines(append(in, pwned)), "\n", true))
		wantRefused(t, c.Check(password.Input{Password: pwned}), msgBreached)
		if err := c.Check(password.Input{Password: "violet quarry lantern 87"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("normalised and typed forms are both looked up", func(t *testing.T) {
		// The file holds hashes of what people typed, so a password is
		// looked up both as typed and normalised: "ﬁ" and "fi" are one
		// password here, two in the file.
		c := newChecker(t, nil, writeLines(t, breachedLines([]string{"ﬁsh quarry lantern 86", "violet quarry flute 86"}), "\n", true))
		for _, p := range []string{"ﬁsh quarry lantern 86", "violet quarry ﬂute 86", "violet quarry flute 86"} {
			if found, err := c.Breached(p); err != nil || !found {
				t.Errorf("Breached(%q) = %v, %v; want true", p, found, err)
			}
		}
		if found, _ := c.Breached("fish quarry lantern 86"); found {
			t.Error("Breached(\"fish quarry lantern 86\"): neither form is in the file")
		}
		wantRefused(t, c.Check(password.Input{Password: "ﬁsh quarry lantern 86"}), msgBreached)
		wantRefused(t, c.Check(password.Input{Password: "violet quarry ﬂute 86"}), msgBreached)
	})

	t.Run("no file", func(t *testing.T) {
		c := newChecker(t, nil, "")
		if found, err := c.Breached("password"); err != nil || found {
			t.Fatalf("Breached = %v, %v", found, err)
		}
	})

	t.Run("concurrent lookups", func(t *testing.T) {
		c := newChecker(t, nil, writeLines(t, lines, "\n", true))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := g; i < len(in); i += 8 {
					if found, err := c.Breached(in[i]); err != nil || !found {
						t.Errorf("Breached(%q) = %v, %v", in[i], found, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})

	t.Run("after Close lookups fail", func(t *testing.T) {
		c, err := password.New(settings(t, nil), writeLines(t, lines, "\n", true))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if _, err := c.Breached(first); err == nil {
			t.Fatal("Breached after Close: no error")
		}
		if err := c.Check(password.Input{Password: "violet quarry lantern 87"}); err == nil {
			t.Fatal("Check after Close accepted a password it could not look up")
		}
	})

	t.Run("a corrupt line fails the lookup instead of answering no", func(t *testing.T) {
		bad := append([]string{}, lines...)
		for i := 1; i < len(bad)-1; i++ {
			bad[i] = "garbage"
		}
		c := newChecker(t, nil, writeLines(t, bad, "\n", true))
		if found, err := c.Breached(middle); err == nil {
			t.Fatalf("Breached = %v, nil; want an error", found)
		}
		if err := c.Check(password.Input{Password: "violet quarry lantern 87"}); err == nil {
			t.Fatal("Check accepted a password it could not look up")
		}
		long := append([]string{}, lines...)
		long[len(long)/2] = lines[len(lines)/2] + strings.Repeat("0", 200)
		c = newChecker(t, nil, writeLines(t, long, "\n", true))
		for _, p := range in {
			if _, err := c.Breached(p); err != nil {
				return // the over-long line was met and reported
			}
		}
		t.Fatal("a lookup crossing an over-long line gave no error")
	})
}

// TestBreachedFileRefusedAtNew: a missing or malformed file stops New with
// an error that names the file, instead of turning the check off (MTL-3.1.1).
func TestBreachedFileRefusedAtNew(t *testing.T) {
	good := breachedLines(numbered("x", 10))
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cases := map[string]string{
		"missing":          filepath.Join(dir, "no-such-file.txt"),
		"directory":        dir,
		"empty":            write("empty.txt", ""),
		"only line ends":   write("blank.txt", "\n\r\n"),
		"text":             write("text.txt", "hello world\n"),
		"NTLM format":      write("ntlm.txt", "00000000000000000000000000000000:3\n"),
		"no count":         write("nocount.txt", good[0][:40]+"\n"),
		"count not number": write("badcount.txt", good[0][:41]+"many\n"),
		"hash not hex":     write("nothex.txt", "G"+good[0][1:]+"\n"),
		"truncated last":   write("truncated.txt", strings.Join(good, "\n")[:len(strings.Join(good, "\n"))-20]),
		"long first line":  write("long.txt", good[0]+strings.Repeat("9", 200)+"\n"+good[1]+"\n"),
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := password.New(settings(t, nil), path)
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if strings.Count(err.Error(), path) > 1 {
				t.Errorf("error %q names the file twice", err)
			}
		})
	}
	if os.Geteuid() != 0 {
		t.Run("unreadable", func(t *testing.T) {
			path := write("unreadable.txt", strings.Join(good, "\n"))
			if err := os.Chmod(path, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := password.New(settings(t, nil), path); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("settings are still checked", func(t *testing.T) {
		path := write("good.txt", strings.Join(good, "\n"))
		if _, err := password.New(settings(t, func(p *policy.Password) { p.MinLength = 0 }), path); err == nil {
			t.Fatal("accepted")
		}
	})
}
