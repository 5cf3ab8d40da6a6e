// Package clustertest runs Portico as an operator runs it to scale out:
// several `portico serve` processes on one PostgreSQL database, with one
// master keyset file, behind a real load balancer (HAProxy) that
// terminates TLS, health-checks each node on /readyz and balances every
// request round-robin with no stickiness. Tests drive the cluster over
// HTTPS through the balancer, and the balancer names the node that
// answered in the X-Portico-Node response header, so a test can show that
// the steps of one flow were served by different processes.
//
// Start builds the binary once per test binary run (see Main), creates a
// fresh PostgreSQL schema from PORTICO_TEST_POSTGRES_URL, and skips the
// test, saying why, when that variable is unset or haproxy is not
// installed (scripts/test.sh installs it). Everything it starts is
// stopped, and the schema dropped, when the test ends; node logs are
// printed when it failed.
//
// Nothing is mocked: the nodes are the real binary, the database is
// PostgreSQL, mail goes to a real SMTP server (internal/mailtest), and the
// balancer is HAProxy.
package clustertest

import (
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of database/sql

	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/policy"
)

// CheapArgon2 is the policy override every cluster starts from: argon2id
// parameters cheap enough for tests, set through the same file an
// operator would use (as internal/app's tests do). Options.Policy is
// appended to it, so it must not repeat the [password.argon2] table.
const CheapArgon2 = `[password.argon2]
memory_kib = 64
iterations = 1
parallelism = 1
`

// Options shape a cluster.
type Options struct {
	// Nodes is the number of `portico serve` processes (default 3).
	Nodes int
	// Policy is TOML appended to CheapArgon2 in the policy file that
	// every node and every CLI command of the cluster reads.
	Policy string
	// TraceLeases records every take and renewal of a job lease in the
	// database, with the node that made it (LeaseHistory).
	TraceLeases bool
	// Args are extra `portico serve` flags for every node.
	Args []string
	// Postgres, when set, is the server the cluster runs on (a test's
	// own, see StartPostgres), instead of a fresh schema on the suite's
	// shared PORTICO_TEST_POSTGRES_URL.
	Postgres *Postgres
}

// Cluster is a running cluster. Its methods take the test that calls
// them, so that subtests can share one cluster.
type Cluster struct {
	opts       Options
	bin        string
	dir        string
	dbURL      string
	db         *sql.DB
	mail       *mailtest.Server
	policyFile string
	keyFile    string
	setupDir   string
	balancer   string
	caPool     *x509.CertPool
	haproxyLog string
	haproxy    *process
	nodes      []*Node
}

// Node is one `portico serve` process of the cluster.
type Node struct {
	// Name is the node's name, which is also its server name in HAProxy
	// and the value of X-Portico-Node on the answers it serves: node1,
	// node2, ...
	Name string
	// URL is the node's own HTTPS address, bypassing the balancer.
	URL     string
	addr    string
	dataDir string
	logPath string

	mu   sync.Mutex
	proc *process
}

// Headers the balancer reads and writes.
const (
	// NodeHeader names the node that served an answer (set by HAProxy:
	// http-response set-header X-Portico-Node %[srv_name]).
	NodeHeader = "X-Portico-Node"
	// PinHeader asks the balancer for one node: a use-server rule of the
	// test's HAProxy configuration, so that a test can send a step of a
	// flow to the node it wants, through the balancer. Portico never
	// reads it. A node that is down is not pinned to: the request is
	// balanced as usual, and Browser reports the mismatch.
	PinHeader = "X-Clustertest-Node"
)

// Start starts a cluster for t and everything it needs, and stops it all
// when t ends. It skips t when PORTICO_TEST_POSTGRES_URL is not set or
// haproxy is not installed.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if os.Getenv(dbtest.PostgresEnv) == "" && o.Postgres == nil {
		t.Skip("cluster tests skipped: " + dbtest.PostgresEnv + " is not set (scripts/test.sh sets it)")
	}
	haproxyBin, err := exec.LookPath("haproxy")
	if err != nil {
		// Debian installs it in /usr/sbin, outside a user's PATH.
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr != nil {
			t.Skip("cluster tests skipped: haproxy is not installed (scripts/test.sh installs it: apt-get install haproxy)")
		}
		haproxyBin = "/usr/sbin/haproxy"
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	c := &Cluster{opts: o, bin: Binary(t), dir: t.TempDir()}
	if o.Postgres != nil {
		c.dbURL = o.Postgres.URL
	} else {
		c.dbURL = dbtest.PostgresURL(t) // a fresh schema, dropped last
	}
	c.mail = mailtest.Start(t)

	c.policyFile = filepath.Join(c.dir, "policy.toml")
	if err := os.WriteFile(c.policyFile, []byte(CheapArgon2+"\n"+o.Policy), 0o600); err != nil {
		t.Fatal(err)
	}
	// One master keyset for every node, as the README asks; `portico
	// migrate` creates it with the schema (a fresh database may make one).
	c.keyFile = filepath.Join(c.dir, "keys", "master.json")
	c.setupDir = filepath.Join(c.dir, "cli")
	if _, err := c.Run(t, "", append([]string{"migrate"}, c.StorageFlags()...)...); err != nil {
		t.Fatalf("portico migrate: %v", err)
	}

	db, err := sql.Open("pgx", appNameURL(c.dbURL, "clustertest"))
	if err != nil {
		t.Fatal(err)
	}
	c.db = db
	t.Cleanup(func() { db.Close() })
	if o.TraceLeases {
		c.traceLeases(t)
	}

	ports := freePorts(t, o.Nodes+1)
	c.balancer = "https://127.0.0.1:" + strconv.Itoa(ports[0])
	for i := range o.Nodes {
		n := &Node{
			Name:    "node" + strconv.Itoa(i+1),
			addr:    "127.0.0.1:" + strconv.Itoa(ports[i+1]),
			dataDir: filepath.Join(c.dir, "node"+strconv.Itoa(i+1)),
		}
		n.URL = "https://" + n.addr
		n.logPath = filepath.Join(c.dir, n.Name+".log")
		c.nodes = append(c.nodes, n)
	}
	// Stop everything when the test ends (registered before anything
	// starts, so a failed start cleans up too), and show the logs when it
	// failed. Cleanups run last-registered first: this one before the
	// temporary directory and the schema go.
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
		}
		c.stopAll()
	})

	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = c.startNode(n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("starting the nodes: %v", err)
	}
	if err := c.startHAProxy(haproxyBin, ports[0]); err != nil {
		t.Fatalf("starting haproxy: %v", err)
	}
	for _, n := range c.nodes {
		c.WaitRouted(t, n.Name)
	}
	return c
}

// URL is the balancer's address: what customers would use. It is also
// every node's --public-url, so links in mail point at it.
func (c *Cluster) URL() string { return c.balancer }

// Nodes returns the cluster's nodes, node1 first.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Names returns the nodes' names in order.
func (c *Cluster) Names() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Name
	}
	return out
}

// Node returns the node called name, failing t if there is none.
func (c *Cluster) Node(t testing.TB, name string) *Node {
	t.Helper()
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// DB is a connection pool on the cluster's schema, for assertions.
func (c *Cluster) DB() *sql.DB { return c.db }

// DatabaseURL is the URL of the cluster's schema.
func (c *Cluster) DatabaseURL() string { return c.dbURL }

// Mail is the SMTP server every node sends mail to.
func (c *Cluster) Mail() *mailtest.Server { return c.mail }

// CA is the pool that trusts the balancer's certificate.
func (c *Cluster) CA() *x509.CertPool { return c.caPool }

// Kill ends node name at once (SIGKILL), as a crash would, and waits for
// the process to be gone. The balancer notices by its health checks.
func (c *Cluster) Kill(t testing.TB, name string) {
	t.Helper()
	n := c.Node(t, name)
	if !n.signal(syscall.SIGKILL, 10*time.Second) {
		t.Fatalf("%s: still running 10s after SIGKILL", name)
	}
}

// Stop stops node name gracefully (SIGTERM) and waits for it to exit;
// after 20 seconds it is killed and t fails.
func (c *Cluster) Stop(t testing.TB, name string) {
	t.Helper()
	n := c.Node(t, name)
	if !n.signal(syscall.SIGTERM, 20*time.Second) {
		n.signal(syscall.SIGKILL, 10*time.Second)
		t.Errorf("%s: did not stop within 20s of SIGTERM; killed", name)
	}
}

// Start starts node name again (after Kill or Stop) on its own address
// and data directory, and waits until the balancer routes to it.
func (c *Cluster) Start(t testing.TB, name string) {
	t.Helper()
	n := c.Node(t, name)
	if n.running() {
		t.Fatalf("%s is running", name)
	}
	if err := c.startNode(n); err != nil {
		t.Fatalf("restarting %s: %v", name, err)
	}
	c.WaitRouted(t, name)
}

// Running reports whether node name's process is running.
func (c *Cluster) Running(t testing.TB, name string) bool {
	t.Helper()
	return c.Node(t, name).running()
}

// Log returns what node name has logged so far (JSON lines, and the
// lines it printed), over all its starts.
func (c *Cluster) Log(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(c.Node(t, name).logPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// StorageFlags are the flags that point a portico command at the
// cluster's database, keyset (through PORTICO_MASTER_KEY_FILE in the
// environment, see Run) and policy file.
func (c *Cluster) StorageFlags() []string {
	return []string{"--data-dir", c.setupDir, "--database-url", c.dbURL, "--policy-file", c.policyFile, "--log-level", "warn"}
}

// OpenFlags are the flags with which another process of the test opens
// the cluster's installation as the nodes do (internal/loadmix.Open): the
// database, the master keyset and the policy file.
func (c *Cluster) OpenFlags() []string {
	return []string{"--data-dir", c.setupDir, "--database-url", c.dbURL, "--master-key-file", c.keyFile, "--policy-file", c.policyFile}
}

// Run runs the portico binary with args and stdin, in the cluster's
// environment (PORTICO_MASTER_KEY_FILE set, no other PORTICO_*
// variable), and returns its standard output. The error includes
// standard error.
func (c *Cluster) Run(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("portico %s: %v: %s", strings.Join(args[:min(2, len(args))], " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// CreateUser makes an active account with `portico user create`. Staff
// and customers alike set up their second factor at first sign-in
// (Browser.Enrol).
func (c *Cluster) CreateUser(t testing.TB, email, role, password string) {
	t.Helper()
	args := append([]string{"user", "create", "--email", email, "--role", role, "--password-stdin"}, c.StorageFlags()...)
	if _, err := c.Run(t, password+"\n", args...); err != nil {
		t.Fatal(err)
	}
}

// Policy returns the effective policy profile of the cluster, as
// `portico policy show` prints it from the cluster's policy file: what
// every node enforces.
func (c *Cluster) Policy(t testing.TB) policy.Profile {
	t.Helper()
	out, err := c.Run(t, "", "policy", "show", "--policy-file", c.policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var p policy.Profile
	if _, err := toml.Decode(out, &p); err != nil {
		t.Fatalf("portico policy show: %v", err)
	}
	return p
}

// env is the environment of every process the cluster runs: the test's,
// without PORTICO_* settings that would reach the nodes, and with the
// shared master keyset.
func (c *Cluster) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTICO_") {
			env = append(env, kv)
		}
	}
	return append(env, "PORTICO_MASTER_KEY_FILE="+c.keyFile)
}

// startNode starts n's process and waits for its "running" line.
func (c *Cluster) startNode(n *Node) error {
	args := []string{"serve",
		"--data-dir", n.dataDir,
		// The node names itself to PostgreSQL, so that what it writes
		// can be told apart (LeaseHistory).
		"--database-url", appNameURL(c.dbURL, "portico-"+n.Name),
		"--addr", n.addr,
		"--public-url", c.balancer,
		"--policy-file", c.policyFile,
		// HAProxy connects from loopback: its X-Forwarded-For counts.
		"--trusted-proxies", "127.0.0.1/32",
		"--smtp-url", c.mail.URL(),
		"--log-format", "json",
		"--shutdown-timeout", "5s",
	}
	args = append(args, c.opts.Args...)
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env()
	w := &runningLine{w: logf, found: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = w, logf
	p, err := startProcess(cmd, logf)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	select {
	case u := <-w.found:
		if u != n.URL {
			return fmt.Errorf("%s: running at %s, want %s", n.Name, u, n.URL)
		}
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited at start: %v\n%s", n.Name, p.err, tail(n.logPath, 30))
	case <-time.After(60 * time.Second):
		p.signal(syscall.SIGKILL, 5*time.Second)
		return fmt.Errorf("%s: no running line within 60s\n%s", n.Name, tail(n.logPath, 30))
	}
}

func (n *Node) running() bool {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the node's process and reports whether it exited
// within wait (true when it was not running).
func (n *Node) signal(sig os.Signal, wait time.Duration) bool {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return true
	}
	return p.signal(sig, wait)
}

// stopAll stops every node and the balancer: SIGTERM, then SIGKILL for
// what is still running 10 seconds later.
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() {
			if !n.signal(syscall.SIGTERM, 10*time.Second) {
				n.signal(syscall.SIGKILL, 5*time.Second)
			}
		})
	}
	if c.haproxy != nil {
		wg.Go(func() {
			if !c.haproxy.signal(syscall.SIGTERM, 5*time.Second) {
				c.haproxy.signal(syscall.SIGKILL, 5*time.Second)
			}
		})
	}
	wg.Wait()
}

func (c *Cluster) dumpLogs(t testing.TB) {
	for _, n := range c.nodes {
		t.Logf("--- last lines of %s's log (%s) ---\n%s", n.Name, n.logPath, tail(n.logPath, 40))
	}
	if c.haproxyLog != "" {
		t.Logf("--- haproxy's log ---\n%s", tail(c.haproxyLog, 20))
	}
}

// process is a child process and its end.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result, set before done is closed
}

func startProcess(cmd *exec.Cmd, logf *os.File) (*process, error) {
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) signal(sig os.Signal, wait time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(wait):
		return false
	}
}

// runningLine copies a node's standard output to its log and reports
// the URL of its "Portico is running at" line.
type runningLine struct {
	w     io.Writer
	mu    sync.Mutex
	line  []byte
	found chan string
	sent  bool
}

func (r *runningLine) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.w.Write(p); err != nil {
		return 0, err
	}
	if r.sent {
		return len(p), nil
	}
	r.line = append(r.line, p...)
	for {
		i := bytes.IndexByte(r.line, '\n')
		if i < 0 {
			break
		}
		if u, ok := strings.CutPrefix(string(r.line[:i]), "Portico is running at "); ok {
			r.found <- strings.TrimSpace(u)
			r.sent, r.line = true, nil
			break
		}
		r.line = r.line[i+1:]
	}
	return len(p), nil
}

// appNameURL returns the database URL with application_name set to
// name, which PostgreSQL then records for each connection the URL opens.
func appNameURL(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL // dbtest made it: it parses
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// freePorts returns n distinct loopback ports that were free a moment
// ago. The nodes need fixed ports: the balancer's configuration names
// them, and a restarted node comes back on its own.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
