package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Postgres is a PostgreSQL server of the test's own, which the test may
// stop and start under load: the suite's shared server must not be
// restarted. It runs as the postgres user (the server refuses to run as
// root), with fsync on as in production, and is stopped when the test
// ends.
type Postgres struct {
	bin  string
	dir  string
	port int
	// URL is a postgres:// URL of its "postgres" database.
	URL string
}

// StartPostgres initialises and starts a throwaway PostgreSQL server. It
// skips t when the server's programs are not installed, or when the test
// runs as root and there is no postgres user to run them as.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		t.Skip("PostgreSQL restart test skipped: initdb and pg_ctl not found (scripts/test.sh installs postgresql)")
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			t.Skip("PostgreSQL restart test skipped: running as root and there is no postgres user to run the server as")
		}
	}
	dir, err := os.MkdirTemp("", "portico-clustertest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	p := &Postgres{bin: bin, dir: dir, port: freePorts(t, 1)[0]}
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", p.port)
	t.Cleanup(func() { p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop") })
	p.Start(t)
	return p
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	opts := "-p " + strconv.Itoa(p.port) + " -k " + p.dir + " -c listen_addresses=127.0.0.1 -c max_connections=200"
	if out, err := p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		t.Fatalf("pg_ctl start: %v: %s\n%s", err, out, tail(filepath.Join(p.dir, "server.log"), 20))
	}
}

// Stop stops the server the way an operator's restart does ("fast":
// open transactions roll back, connections are cut) and waits for it.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
}

// run runs one of the server's programs, as the postgres user when the
// test runs as root.
func (p *Postgres) run(prog string, args ...string) (string, error) {
	path := filepath.Join(p.bin, prog)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pgBinDir finds PostgreSQL's programs: version 15 first, as
// scripts/test.sh does, then the newest installed.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	dirs = append([]string{"/usr/lib/postgresql/15/bin"}, dirs...)
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil && !st.IsDir() && !strings.Contains(d, "*") {
			return d
		}
	}
	return ""
}
