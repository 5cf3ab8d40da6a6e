// Command auditappend measures how many audit events per second one
// PostgreSQL's hash chain takes when one or several nodes append to it at
// once (issue 15, docs/scaling.md). Each node is a separate OS process with
// its own connection pool, as a `portico serve` is; each appends through
// audit.Log.Record, the product's own path (take the chain head with a row
// lock, insert the event, move the head, commit), from -goroutines
// goroutines, for -duration. The chain is verified afterwards.
//
//	go run ./bench/auditappend -postgres postgres://postgres@127.0.0.1:56415/audit -nodes 1 -goroutines 4
//	go run ./bench/auditappend -postgres postgres://postgres@127.0.0.1:56415/audit -nodes 3 -goroutines 4
//	go run ./bench/auditappend -postgres postgres://postgres@127.0.0.1:56415/audit -nodes 1 -goroutines 12
//
// The third line has as many writers as the second, in one process: the
// pair separates "more writers" from "more nodes". It prints appends per
// second in all and per node, the latency of an append (p50, p99, max),
// and the server's fsync and synchronous_commit settings, which decide how
// long the head's lock is held at each commit. The database is migrated if
// it is empty; runs add to the same chain.
//
//	go run ./bench/auditappend -postgres postgres://postgres@127.0.0.1:56415/audit -nodes 3 -goroutines 4 -plain
//
// -plain is the baseline without the chain: each append is the same
// transaction with the same insert into a copy of the events table
// (auditappend_plain, no head, no hash), so that the difference from a
// chained run is what the head costs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// result is what a node reports to the parent, as JSON on stdout.
type result struct {
	Appends  int64   `json:"appends"`
	Errors   int64   `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	LatUS    []int32 `json:"lat_us"` // every append's latency, in µs
}

func main() {
	url := flag.String("postgres", "", "PostgreSQL URL (required)")
	nodes := flag.Int("nodes", 1, "writing nodes (separate processes)")
	goroutines := flag.Int("goroutines", 4, "appending goroutines per node (each node's pool has as many connections)")
	duration := flag.Duration("duration", 10*time.Second, "how long every node appends")
	plain := flag.Bool("plain", false, "baseline: insert the same rows without the chain head")
	worker := flag.Bool("worker", false, "internal: run as one node")
	startAt := flag.Int64("start", 0, "internal: when the nodes start (Unix ns)")
	flag.Parse()
	if *url == "" {
		log.Fatal("-postgres is required")
	}
	if *worker {
		res := appendUntil(*url, *goroutines, time.Unix(0, *startAt), *duration, *plain)
		check(json.NewEncoder(os.Stdout).Encode(res))
		return
	}

	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{URL: *url})
	check(err)
	defer d.Close()
	_, err = d.Migrate(ctx)
	check(err)
	check(d.Transact(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS auditappend_plain (LIKE audit_events INCLUDING DEFAULTS)`)
		return err
	}))
	var fsync, syncCommit string
	check(d.QueryRowContext(ctx, `SHOW fsync`).Scan(&fsync))
	check(d.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&syncCommit))
	chain := audit.New(d)
	head, err := chain.Head(ctx)
	check(err)

	self, err := os.Executable()
	check(err)
	start := time.Now().Add(time.Second)
	results := make([]result, *nodes)
	var wg sync.WaitGroup
	for i := range *nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(self, "-worker", "-plain="+strconv.FormatBool(*plain), "-postgres", *url, "-goroutines", strconv.Itoa(*goroutines),
				"-duration", duration.String(), "-start", strconv.FormatInt(start.UnixNano(), 10))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			check(err)
			check(json.Unmarshal(out, &results[i]))
		}()
	}
	wg.Wait()

	var all []int32
	var total, errs int64
	what := "audit.Log.Record"
	if *plain {
		what = "plain inserts, no chain (-plain)"
	}
	fmt.Printf("PostgreSQL fsync=%s synchronous_commit=%s; %d node(s) x %d goroutines for %v, %s\n",
		fsync, syncCommit, *nodes, *goroutines, *duration, what)
	for i, r := range results {
		fmt.Printf("  node %d: %d appends, %.0f/s, %d errors %s\n", i+1, r.Appends, float64(r.Appends)/duration.Seconds(), r.Errors, r.FirstErr)
		total += r.Appends
		errs += r.Errors
		all = append(all, r.LatUS...)
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(float64(len(all)-1)*p)]) / 1000
	}
	fmt.Printf("  total: %d appends, %.0f/s (%.0f/s per node); latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d errors\n",
		total, float64(total)/duration.Seconds(), float64(total)/duration.Seconds()/float64(*nodes), q(0.5), q(0.99), q(1), errs)

	if *plain {
		return
	}
	t0 := time.Now()
	res, err := chain.Verify(ctx, audit.VerifyOptions{})
	check(err)
	fmt.Printf("  chain: head moved %d -> %d (%d events, %d counted by the nodes); verify: %d events intact=%v in %v\n",
		head.Seq, res.Head.Seq, res.Head.Seq-head.Seq, total, res.Events, res.OK, time.Since(t0).Round(time.Millisecond))
	if !res.OK || res.Head.Seq-head.Seq != total {
		fmt.Printf("  CHAIN BROKEN at %d: %s\n", res.BrokenAt, res.Reason)
		os.Exit(1)
	}
}

// appendUntil is one node: goroutines append until the deadline, each
// through the node's one pool.
func appendUntil(url string, goroutines int, start time.Time, d time.Duration, plain bool) result {
	ctx := context.Background()
	pool, err := db.Open(ctx, db.Options{URL: url, MaxReaders: goroutines})
	check(err)
	defer pool.Close()
	l := audit.New(pool)
	// An event shaped like a completed sign-in's: request context, an
	// opaque target, a few details.
	ctx = audit.WithRequest(ctx, audit.Request{IP: "203.0.113.9",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0", RequestID: "TZ3V5QKXG2B6N7YH"})
	e := audit.Event{Actor: "account:3kq7m2xv9pdn4w6yb8tczhrjfe", Action: "login.success", Target: "account:3kq7m2xv9pdn4w6yb8tczhrjfe",
		Outcome: audit.Success, Details: map[string]any{"methods": []string{"password", "totp"}, "session": "v7c2nq4kx9m3bd6hwz5tprjyea", "new_device": false}}
	// The baseline: the same row in a transaction of its own, no head.
	insertPlain := func() error {
		return pool.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO auditappend_plain
				(seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				mrand.Int64(), tx.Now(), e.Actor, e.Action, e.Target, e.Outcome, "203.0.113.9", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
				"TZ3V5QKXG2B6N7YH", `{"methods":["password","totp"],"new_device":false,"session":"v7c2nq4kx9m3bd6hwz5tprjyea"}`, make([]byte, 32), make([]byte, 32))
			return err
		})
	}
	time.Sleep(time.Until(start))
	end := start.Add(d)
	var mu sync.Mutex
	var res result
	var errs atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]int32, 0, 1<<14)
			var firstErr string
			for time.Now().Before(end) {
				t := time.Now()
				var err error
				if plain {
					err = insertPlain()
				} else {
					_, err = l.Record(ctx, e)
				}
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr = err.Error()
					}
					continue
				}
				lat = append(lat, int32(time.Since(t).Microseconds()))
			}
			mu.Lock()
			res.LatUS = append(res.LatUS, lat...)
			if firstErr != "" {
				res.FirstErr = strings.TrimSpace(firstErr)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Appends = int64(len(res.LatUS))
	res.Errors = errs.Load()
	return res
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
