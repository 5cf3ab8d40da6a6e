package clustertest_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/clustertest"
	"github.com/portico/portico/internal/loadmix"
)

// The faults under load (issue 15): the load mix of internal/loadmix
// (sign-ins with a second factor, signed-in pages, ticket replies,
// exports; wrk, one connection per thread) runs through the balancer
// while a node is killed or the database restarts. What a client was told
// is saved must be in the database afterwards, and the audit chain must
// verify.

const (
	faultRun   = 20 * time.Second // the load's duration
	faultAfter = 6 * time.Second  // when the fault strikes
)

// loadRun is one run of the mix in the background.
type loadRun struct {
	res  loadmix.Result
	err  error
	done chan struct{}
}

func startLoad(t *testing.T, c *clustertest.Cluster, customers int) (*loadmix.Target, *loadmix.Population, *loadRun) {
	t.Helper()
	ctx := context.Background()
	tgt, err := loadmix.Open(ctx, c.OpenFlags())
	if err != nil {
		t.Fatalf("open the installation: %v", err)
	}
	t.Cleanup(func() { tgt.Close() })
	pop, err := tgt.Seed(ctx, loadmix.SeedOptions{Customers: customers})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	lr := &loadRun{done: make(chan struct{})}
	dir := t.TempDir()
	go func() {
		defer close(lr.done)
		lr.res, lr.err = loadmix.Run(ctx, pop, loadmix.Options{BaseURL: c.URL(), Duration: faultRun, Dir: dir})
	}()
	return tgt, pop, lr
}

func (lr *loadRun) wait(t *testing.T) loadmix.Result {
	t.Helper()
	select {
	case <-lr.done:
	case <-time.After(faultRun + 2*time.Minute):
		t.Fatal("the load run did not end")
	}
	if lr.err != nil {
		t.Fatalf("load run: %v", lr.err)
	}
	for _, k := range lr.res.Kinds {
		t.Logf("%s", k)
	}
	return lr.res
}

// checkAfterFault: every kind made progress, what clients were told is
// saved is saved, and the audit chain verifies (`portico audit verify`).
func checkAfterFault(t *testing.T, c *clustertest.Cluster, tgt *loadmix.Target, pop *loadmix.Population, res loadmix.Result) {
	t.Helper()
	for _, k := range res.Kinds {
		if k.Succeeded == 0 {
			t.Errorf("%s: nothing succeeded during the run", k.Kind)
		}
	}
	rep, err := tgt.CheckCommitted(context.Background(), pop, res)
	if err != nil {
		t.Fatalf("check committed writes: %v", err)
	}
	t.Logf("committed writes:\n%s", rep)
	if err := rep.Err(); err != nil {
		t.Errorf("a write clients were told succeeded is not in the database: %v", err)
	}
	if out, err := c.Run(t, "", append([]string{"audit", "verify"}, c.StorageFlags()...)...); err != nil {
		t.Errorf("portico audit verify after the fault: %v\n%s", err, out)
	}
}

// failures returns the requests of a run that failed or were lost, and
// the statuses of the failed ones.
func failures(res loadmix.Result) (n int64, statuses map[string]int64, threads int) {
	statuses = map[string]int64{}
	for _, k := range res.Kinds {
		n += k.Failed5xx + k.FailedOther + k.Lost
		threads += k.Threads
		for key, v := range k.Counts {
			if i := strings.LastIndexByte(key, '.'); i > 0 && strings.HasPrefix(key[i+1:], "5") {
				statuses[key[i+1:]] += v
			}
		}
	}
	return n, statuses, threads
}

// TestKillNodeUnderLoad: kill -9 of one node in the middle of the load.
// The balancer routes around it; clients see at most the requests that
// were in flight on it fail (one per connection of the load: wrk keeps
// one request in flight on each); no committed write is lost; the audit
// chain verifies (MTL-1.1; CP-6.3 and CP-8.2 hold across the survivors,
// as TestCluster shows).
func TestKillNodeUnderLoad(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	tgt, pop, lr := startLoad(t, c, 300)
	time.Sleep(faultAfter)
	c.Kill(t, "node2")
	c.WaitUnrouted(t, "node2")
	res := lr.wait(t)

	n, statuses, threads := failures(res)
	t.Logf("failed or lost: %d (5xx by status %v) over %d connections", n, statuses, threads)
	if n > int64(threads) {
		t.Errorf("%d requests failed or were lost, more than the %d that can have been in flight on the killed node", n, threads)
	}
	checkAfterFault(t, c, tgt, pop, res)
}

// TestPostgresRestartUnderLoad: the database stops in the middle of the
// load and comes back. Meanwhile every node's /readyz answers 503 and the
// balancer takes them all out; requests fail fast with 503 (none hangs
// into a timeout, no 500); when the database is back, every node is
// routed to again by itself, with no restart; nothing committed is lost
// and the audit chain verifies (MTL-1.1).
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := clustertest.StartPostgres(t)
	c := clustertest.Start(t, clustertest.Options{Postgres: pg})
	tgt, pop, lr := startLoad(t, c, 300)
	time.Sleep(faultAfter)
	pg.Stop(t)
	direct := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // each node's own self-signed certificate
	}
	for _, n := range c.Nodes() {
		resp, err := direct.Get(n.URL + "/readyz")
		if err != nil {
			t.Errorf("%s /readyz with the database down: %v (want an answer: 503)", n.Name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s /readyz with the database down = %d, want 503", n.Name, resp.StatusCode)
		}
	}
	for _, name := range c.Names() {
		c.WaitUnrouted(t, name)
	}
	time.Sleep(2 * time.Second) // the load meets a balancer with no node
	pg.Start(t)
	for _, name := range c.Names() {
		c.WaitRouted(t, name) // each node recovers by itself
	}
	res := lr.wait(t)

	n, statuses, _ := failures(res)
	t.Logf("failed or lost: %d (5xx by status %v)", n, statuses)
	if statuses["503"] == 0 {
		t.Error("no request was answered 503 while the database was down")
	}
	for s, v := range statuses {
		if s != "503" {
			t.Errorf("%d requests answered %s while the database was down: want 503 only", v, s)
		}
	}
	var timeouts int64
	for _, k := range res.Kinds {
		timeouts += k.Timeout + k.Lost
	}
	if timeouts > 0 {
		t.Errorf("%d requests timed out or got no answer: requests must fail fast while the database is down", timeouts)
	}
	checkAfterFault(t, c, tgt, pop, res)
	// And the installation serves as before: a short run with no fault
	// has no failure at all.
	after, err := loadmix.Run(context.Background(), pop, loadmix.Options{BaseURL: c.URL(), Duration: 5 * time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n, statuses, _ := failures(after); n > 0 {
		t.Errorf("after the database came back, %d requests still failed (%v)", n, statuses)
	}
}
