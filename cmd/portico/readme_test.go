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
	quick := string(readme)
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
		args := strings.Fields(rest)
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
