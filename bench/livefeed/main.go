// Command livefeed measures the security dashboard's live feed: -rate
// events a second published for -duration to -viewers browsers reading
// the SSE stream over real HTTP (an httptest server on loopback), all in
// this process. It reports events delivered against expected, events
// dropped (subscribers that fell behind), the latency from publish to
// receipt (p50, p99, max), the CPU time used (server and viewers
// together) and peak RSS (VmHWM).
//
//	go run ./bench/livefeed
//	go run ./bench/livefeed -postgres "$PORTICO_TEST_POSTGRES_URL"
//
// With -postgres every event goes through NOTIFY and comes back on the
// hub's LISTEN connection, as on a multi-node deployment.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/portico/portico/internal/livefeed"
)

type viewer struct {
	received  int
	gaps      int
	missed    int // sum of the gap markers' counts
	latencies []time.Duration
}

func main() {
	rate := flag.Int("rate", 1000, "events published a second")
	duration := flag.Duration("duration", 10*time.Second, "how long to publish")
	viewers := flag.Int("viewers", 50, "SSE viewers")
	buffer := flag.Int("buffer", 256, "per-subscriber buffer (livefeed.Options.Buffer)")
	pgURL := flag.String("postgres", "", "publish through NOTIFY/LISTEN on this PostgreSQL database")
	flag.Parse()

	hub := livefeed.NewHub(livefeed.Options{Buffer: *buffer})
	var pub livefeed.Publisher = livefeed.Local{Hub: hub}
	var ex livefeed.Execer
	if *pgURL != "" {
		channel := "lf_bench_" + strings.ToLower(rand.Text()[:8])
		pg, err := livefeed.NewPostgres(context.Background(), *pgURL, channel, hub, slog.Default())
		if err != nil {
			log.Fatal(err)
		}
		defer pg.Close()
		sqlDB, err := sql.Open("pgx", *pgURL)
		if err != nil {
			log.Fatal(err)
		}
		defer sqlDB.Close()
		pub, ex = pg, sqlDB
	}
	srv := httptest.NewServer(http.HandlerFunc(hub.ServeSSE))
	defer srv.Close()

	// Viewers connect and read the opening comment before the clock starts.
	vs := make([]*viewer, *viewers)
	var ready, done sync.WaitGroup
	for i := range vs {
		v := &viewer{latencies: make([]time.Duration, 0, *rate*int(duration.Seconds()+1))}
		vs[i] = v
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if err := v.watch(srv.URL, ready.Done); err != nil {
				log.Print(err)
			}
		}()
	}
	ready.Wait()

	cpu0, wall0 := cpuTime(), time.Now()
	total := *rate * int(duration.Seconds())
	interval := time.Second / time.Duration(*rate)
	ctx := context.Background()
	for i := range total {
		if d := time.Until(wall0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		e := livefeed.Event{
			ID:       fmt.Sprintf("b%d", i),
			At:       time.Now(),
			Kind:     livefeed.KindEvent,
			Action:   "signin",
			Outcome:  "failure",
			Severity: "low",
			Summary:  "sign-in failed: wrong password (account a_7f3k, network n_19)",
		}
		if err := pub.Publish(ctx, ex, e); err != nil {
			log.Fatal(err)
		}
	}
	publishWall := time.Since(wall0)

	// Let the viewers catch up (up to 5 s), then end the streams.
	want := total
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		caughtUp := true
		for _, v := range vs {
			if v.seen() < want {
				caughtUp = false
				break
			}
		}
		if caughtUp {
			break
		}
	}
	hub.Close()
	done.Wait()
	wall, cpu := time.Since(wall0), cpuTime()-cpu0

	var all []time.Duration
	delivered, gaps, missed := 0, 0, 0
	for _, v := range vs {
		delivered += v.received
		gaps += v.gaps
		missed += v.missed
		all = append(all, v.latencies...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	mode := "in-process hub (SQLite deployment)"
	if *pgURL != "" {
		mode = "NOTIFY/LISTEN round trip through PostgreSQL"
	}
	fmt.Printf("mode:        %s\n", mode)
	fmt.Printf("load:        %d events/s for %v to %d viewers (buffer %d); published in %v\n", *rate, *duration, *viewers, *buffer, publishWall.Round(time.Millisecond))
	fmt.Printf("delivered:   %d / %d expected (%.3f%%)\n", delivered, total**viewers, 100*float64(delivered)/float64(total**viewers))
	fmt.Printf("dropped:     %d (hub count), %d gap markers counting %d\n", hub.Dropped(), gaps, missed)
	fmt.Printf("latency:     p50 %v  p99 %v  max %v (publish to parsed by viewer)\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Printf("cpu:         %v user+system over %v wall (%.2f cores), server and viewers together\n", cpu.Round(time.Millisecond), wall.Round(time.Millisecond), cpu.Seconds()/wall.Seconds())
	fmt.Printf("peak RSS:    %s\n", peakRSS())
}

func (v *viewer) seen() int {
	mu.Lock()
	defer mu.Unlock()
	return v.received + v.missed
}

var mu sync.Mutex // guards viewers' counters for the catch-up check

// watch reads one SSE stream until it ends, calling ready once connected.
func (v *viewer) watch(url string, ready func()) error {
	resp, err := http.Get(url)
	if err != nil {
		ready()
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if first {
			ready()
			first = false
		}
		data, ok := strings.CutPrefix(string(line), "data: ")
		if !ok {
			continue
		}
		// A gap marker is decoded; an event only for its time, so
		// that the viewers take less of the CPU the server is measured on.
		var e livefeed.Event
		if strings.Contains(data, `"kind":"gap"`) {
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				return err
			}
		} else {
			_, rest, _ := strings.Cut(data, `"at":"`)
			at, _, _ := strings.Cut(rest, `"`)
			if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
				return err
			}
		}
		lat := time.Since(e.At)
		mu.Lock()
		if e.Kind == livefeed.KindGap {
			v.gaps++
			v.missed += e.Dropped
		} else {
			v.received++
			v.latencies = append(v.latencies, lat)
		}
		mu.Unlock()
	}
	return sc.Err()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
