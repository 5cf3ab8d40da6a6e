package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReadmeCommands runs every portico command in the README's quick start
// as written, in order, on one fresh data directory, with the production
// policy defaults a newcomer gets: `serve` must start (and is stopped once
// it says where it runs), every other command must succeed. Only the data
// directory and the listen port are set from outside, so the test neither
// writes into the repository nor needs port 8443.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	runReadmeCommands(t, quickStartCommands(t, string(readme)))
}

// TestReadmeServeExamples starts the README's other `portico serve`
// examples as written (the mail server settings; each must be accepted and
// the server must start, the mail servers themselves being examples). The
// production example that needs a PostgreSQL server at db.internal and a
// certificate under /etc/portico is left out: it is the same flags the
// PostgreSQL and TLS tests use with real values.
func TestReadmeServeExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		for _, line := range strings.Split(block[1], "\n") {
			if strings.HasPrefix(line, "portico serve --smtp-url ") {
				cmds = append(cmds, "go run ./cmd/"+strings.TrimSpace(strings.SplitN(line, "  #", 2)[0]))
			}
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("found %d mail examples in the README", len(cmds))
	}
	runReadmeCommands(t, cmds)
}

// quickStartCommands returns the portico commands of the README's quick
// start, in order.
func quickStartCommands(t *testing.T, readme string) []string {
	t.Helper()
	quick := readme
	if i := strings.Index(quick, "## Quick start"); i >= 0 {
		quick = quick[i:]
	}
	if i := strings.Index(quick[3:], "\n## "); i >= 0 {
		quick = quick[:i+3]
	}
	var cmds []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(quick, -1) {
		for _, line := range strings.Split(block[1], "\n") {
			if strings.Contains(line, "./cmd/portico") {
				cmds = append(cmds, strings.TrimSpace(line))
			}
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("found %d portico commands in the quick start: %q", len(cmds), cmds)
	}
	return cmds
}

// runReadmeCommands runs `go run ./cmd/portico ...` lines in process, in
// order, on one fresh data directory: `serve` must start (and is stopped
// once it says where it runs), every other command must succeed. Single
// quotes group an argument, as the shell does.
func runReadmeCommands(t *testing.T, cmds []string) {
	t.Helper()
	dir := t.TempDir()
	environ := map[string]string{"PORTICO_DATA_DIR": filepath.Join(dir, "portico-data"), "PORTICO_ADDR": "localhost:0"}
	for _, line := range cmds {
		stdin := ""
		if m := regexp.MustCompile(`^echo '([^']*)' \| (.*)$`).FindStringSubmatch(line); m != nil {
			stdin, line = m[1]+"\n", m[2]
		}
		rest, ok := strings.CutPrefix(line, "go run ./cmd/portico ")
		if !ok {
			t.Fatalf("not a go run command: %q", line)
		}
		args := shellFields(rest)
		t.Run(rest, func(t *testing.T) {
			out := &lockedBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, args, env{stdin: strings.NewReader(stdin), stdout: out, stderr: out,
					getenv: func(k string) (string, bool) { v, ok := environ[k]; return v, ok }})
			}()
			if args[0] == "serve" {
				deadline := time.After(60 * time.Second)
				for !strings.Contains(out.String(), "Portico is running at") {
					select {
					case code := <-done:
						t.Fatalf("serve exited %d:\n%s", code, out.String())
					case <-deadline:
						t.Fatalf("serve did not start:\n%s", out.String())
					case <-time.After(20 * time.Millisecond):
					}
				}
				cancel()
			}
			if code := <-done; code != 0 {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// shellFields splits a command line on spaces, keeping single-quoted
// parts together without their quotes.
func shellFields(line string) []string {
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}
