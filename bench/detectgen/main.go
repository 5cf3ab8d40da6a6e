// Command detectgen writes labelled synthetic sign-in traffic for
// `portico detect replay`, and the list of attacks it injected, so that
// bench/detecteval can score the detection rules' precision and recall.
//
//	go run ./bench/detectgen --lines 1000000 --seed 1 --attacks 60 \
//	    --out traffic.jsonl --truth truth.jsonl
//
// The background is customers signing in at daytime hours in their own
// timezone from their home addresses, offices behind one NAT address,
// mobile carriers' shared pools, travellers, typos, forgotten passwords and
// mistyped one-time codes: traffic good rules must leave alone. Attack
// lines carry "label":"<rule>"; replay ignores the field. The same seed
// writes the same files. See README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"time"
)

type config struct {
	lines   int
	seed    uint64
	attacks int
	start   time.Time
	days    int
}

// generator holds the state of one run. Everything random comes from rng,
// so a seed determines the output.
type generator struct {
	rng        *rand.Rand
	ips        *ipSpace
	start, end int64 // Unix milliseconds

	emails     []string
	events     []event
	seq        uint32
	customers  []*customer
	offices    []office
	openOffice map[int]int // country → office still recruiting
	quiet      []quiet     // background to remove around attacks
	carriers   [][]uint32  // by country: mobile carriers' NAT networks
}

func (g *generator) addEmail(s string) uint32 {
	g.emails = append(g.emails, s)
	return uint32(len(g.emails) - 1)
}

// quiet is a period in which an account's own background sign-ins would
// make an attack's alert fire a second time, outside its truth window.
type quiet struct {
	email    uint32
	from, to int64
}

// quietBackground removes the background events inside g.quiet and keeps
// the first want of the rest.
func (g *generator) quietBackground(events []event, want int) []event {
	out := events[:0]
	for _, e := range events {
		if len(out) == want {
			break
		}
		if !slices.ContainsFunc(g.quiet, func(q quiet) bool { return e.email == q.email && e.at >= q.from && e.at < q.to }) {
			out = append(out, e)
		}
	}
	return out
}

func (g *generator) emit(at int64, ip, email uint32, ua uint16, k outcome, label rule) {
	g.events = append(g.events, event{at: at, seq: g.seq, ip: ip, email: email, ua: ua, kind: k, label: label})
	g.seq++
}

// generate writes about cfg.lines attempts to traffic and one record per
// attack to truth.
func generate(cfg config, traffic, truth io.Writer) error {
	if cfg.lines < 1 || cfg.days < 1 || cfg.attacks < 0 {
		return errors.New("need --lines ≥ 1, --days ≥ 1 and --attacks ≥ 0")
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x706f727469636f))
	ips, err := newIPSpace(rng, min(max(cfg.lines/250, 64), 4096))
	if err != nil {
		return err
	}
	g := &generator{
		rng:        rng,
		ips:        ips,
		start:      cfg.start.UnixMilli(),
		end:        cfg.start.Add(time.Duration(cfg.days) * 24 * time.Hour).UnixMilli(),
		openOffice: map[int]int{},
		events:     make([]event, 0, cfg.lines+64),
	}
	g.carriers = make([][]uint32, len(countries))
	for c := range countries {
		for range 6 {
			g.carriers[c] = append(g.carriers[c], ips.network(c))
		}
	}

	// Attack sizes first, so the background fills exactly the rest.
	rules := make([]rule, cfg.attacks)
	sizes := make([]int, cfg.attacks)
	attackLines := 0
	first := g.rng.IntN(len(ruleNames) - 1)
	for i := range rules {
		rules[i] = rule(1 + (first+i)%(len(ruleNames)-1))
		sizes[i] = g.attackSize(rules[i])
		attackLines += sizes[i]
	}
	// A little more background than needed: some is removed again below.
	want := max(cfg.lines-attackLines, 0)
	for len(g.events) < want+256 {
		g.backgroundFor(g.newCustomer())
	}
	bg := len(g.events)
	for len(g.customers) < 50 {
		g.newCustomer() // victims for a run that is all attacks
	}

	records := make([]truthRecord, 0, cfg.attacks)
	for i, r := range rules {
		rec, err := g.attack(r, sizes[i])
		if err != nil {
			return err
		}
		records = append(records, rec)
	}
	g.events = slices.Concat(g.quietBackground(g.events[:bg], want), g.events[bg:])
	if err := writeTraffic(traffic, g.events, g.emails); err != nil {
		return err
	}
	return writeTruth(truth, records)
}

func main() {
	lines := flag.Int("lines", 100_000, "attempts to write (attacks included)")
	seed := flag.Uint64("seed", 1, "random seed; the same seed writes the same files")
	attacks := flag.Int("attacks", 60, "attacks to inject, spread over the six rules")
	out := flag.String("out", "traffic.jsonl", "sign-in attempts, JSON Lines, sorted by time")
	truthPath := flag.String("truth", "truth.jsonl", "injected attacks, JSON Lines")
	start := flag.String("start", "2026-11-01T00:00:00Z", "start of the period (RFC 3339)")
	days := flag.Int("days", 7, "length of the period in days")
	flag.Parse()

	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		log.Fatalf("--start: %v", err)
	}
	cfg := config{lines: *lines, seed: *seed, attacks: *attacks, start: t0.UTC(), days: *days}
	if err := run(cfg, *out, *truthPath); err != nil {
		log.Fatal(err)
	}
}

func run(cfg config, out, truthPath string) error {
	tf, err := os.Create(out)
	if err != nil {
		return err
	}
	defer tf.Close()
	rf, err := os.Create(truthPath)
	if err != nil {
		return err
	}
	defer rf.Close()
	if err := generate(cfg, tf, rf); err != nil {
		return err
	}
	if err := tf.Close(); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	return rf.Close()
}
