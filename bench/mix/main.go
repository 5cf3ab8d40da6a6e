// Command mix runs the load mix of internal/loadmix against a running
// Portico: it seeds customers into the installation's database, drives
// sign-ins, pages, replies and exports with wrk for -duration, prints each
// kind's rates and checks that every success the clients saw is in the
// database (MTL-1.1). Figures go into docs/scaling.md.
//
//	go run ./bench/mix -url https://127.0.0.1:8443 -duration 20s -- \
//	    --database-url postgres://... --data-dir /path/data --policy-file policy.toml
//
// The arguments after -- are the nodes' storage and policy flags: the
// seeding process opens the same database with the same master keyset
// (--data-dir or --master-key-file). The nodes should trust 127.0.0.1 in
// --trusted-proxies (the sign-ins claim private addresses in
// X-Forwarded-For) and make argon2 cheap with their policy file, or
// sign-ins measure argon2 alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/portico/portico/internal/loadmix"
)

func main() {
	base := flag.String("url", "", "the HTTPS origin of the node or of the proxy (required)")
	dur := flag.Duration("duration", 20*time.Second, "length of the run")
	customers := flag.Int("customers", 600, "customers to seed")
	signin := flag.Int("signin", 0, "wrk threads for sign-ins (0: default 2, -1: off)")
	pages := flag.Int("pages", 0, "wrk threads for signed-in pages (0: default 2, -1: off)")
	replies := flag.Int("replies", 0, "wrk threads for ticket replies (0: default 2, -1: off)")
	exports := flag.Int("exports", 0, "wrk threads for exports (0: default 1, -1: off)")
	exportPause := flag.Duration("export-pause", 2*time.Second, "pause of each export thread between flows")
	flag.Parse()
	if *base == "" {
		log.Fatal("-url is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	target, err := loadmix.Open(ctx, flag.Args())
	if err != nil {
		log.Fatal(err)
	}
	defer target.Close()
	pop, err := target.Seed(ctx, loadmix.SeedOptions{Customers: *customers})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("seeded %d customers, %d sessions, in %v\n", len(pop.Customers), len(pop.Pages)+len(pop.Replies), pop.Took.Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "portico-mix-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	res, err := loadmix.Run(ctx, pop, loadmix.Options{
		BaseURL: *base, Duration: *dur, Dir: dir,
		SignIn: loadmix.KindOptions{Threads: *signin}, Pages: loadmix.KindOptions{Threads: *pages},
		Replies: loadmix.KindOptions{Threads: *replies}, Exports: loadmix.KindOptions{Threads: *exports, Pause: *exportPause},
	})
	if err != nil {
		log.Fatal(err)
	}
	var total int64
	for _, k := range res.Kinds {
		total += k.Requests
	}
	fmt.Printf("%v run, %d requests (%.0f/s):\n", res.End.Sub(res.Start).Round(100*time.Millisecond), total, float64(total)/res.End.Sub(res.Start).Seconds())
	for _, k := range res.Kinds {
		fmt.Printf("  %v\n", k)
		fmt.Printf("          counts %v\n", k.Counts)
	}
	rep, err := target.CheckCommitted(ctx, pop, res)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rep)
	if err := rep.Err(); err != nil {
		log.Fatalf("MTL-1.1: %v", err)
	}
}
