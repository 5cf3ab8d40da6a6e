// Command hashload measures what a flood of sign-ins to unknown addresses
// does to `portico serve` (issue 9, MTL-1.1): peak memory, whether health
// checks still answer, and how many sign-ins real accounts still complete.
// Results go into docs/performance.md.
//
//	go build -o /tmp/portico ./cmd/portico
//	go run ./bench/hashload -bin /tmp/portico
//
// It creates a fresh data directory and one customer account, starts the
// server with the default argon2id parameters and --trusted-proxies
// 127.0.0.1/32, and measures real-account sign-ins (the password step,
// answered 303) at -real concurrency alone for -unloaded, then again for
// -duration while -flood workers sign in to unknown addresses and /healthz
// is polled every 100 ms. Every request claims its own client address in
// X-Forwarded-For, a random one in a random /24, so that the per-address
// and per-network rate limits (CP-8.2) do not answer 429 before the
// password is checked: the flood stands for a botnet. Peak RSS is VmHWM
// from /proc/<pid>/status.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const realEmail, realPassword = "real.customer@example.com", "violet tractor membrane quay 93"

func main() {
	bin := flag.String("bin", "portico", "the portico binary")
	duration := flag.Duration("duration", 20*time.Second, "how long the flood lasts")
	unloaded := flag.Duration("unloaded", 10*time.Second, "how long to measure real sign-ins without the flood")
	flood := flag.Int("flood", 500, "concurrent sign-ins to unknown addresses")
	realN := flag.Int("real", 2, "concurrent real-account sign-ins")
	extra := flag.String("serve-flags", "", "more flags for portico serve, space-separated")
	rounds := flag.Int("rounds", 3, "unloaded and loaded phases in alternation, each round compared with itself")
	flag.Parse()

	dir, err := os.MkdirTemp("", "portico-hashload-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")

	create := exec.Command(*bin, "user", "create", "--data-dir", data, "--email", realEmail, "--role", "customer", "--name", "Real Customer", "--password-stdin")
	create.Stdin = strings.NewReader(realPassword + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		log.Fatalf("user create: %v\n%s", err, out)
	}

	args := []string{"serve", "--data-dir", data, "--addr", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1/32", "--log-level", "info", "--log-format", "text"}
	if *extra != "" {
		args = append(args, strings.Fields(*extra)...)
	}
	cmd := exec.Command(*bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "password hashing gate") {
				fmt.Println("server:", sc.Text())
			}
		}
	}()
	sc := bufio.NewScanner(stdout)
	base := ""
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Portico is running at "); ok {
			base = strings.TrimSpace(u)
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if base == "" {
		log.Fatal("the server printed no running line")
	}
	pid := cmd.Process.Pid

	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			MaxIdleConns: 2 * (*flood + *realN + 2), MaxIdleConnsPerHost: 2 * (*flood + *realN + 2)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// Rounds alternate an unloaded and a loaded phase, so that each loaded
	// figure is compared with an unloaded one measured next to it: on a
	// shared machine the speed itself drifts between minutes.
	var ratios []float64
	for i := 1; i <= *rounds; i++ {
		fmt.Printf("round %d, unloaded: %d real sign-ins at a time for %v\n", i, *realN, *unloaded)
		alone := run(client, base, *unloaded, *realN, 0, false)
		alone.print()

		fmt.Printf("round %d, loaded: %d sign-ins to unknown addresses at a time, %d real at a time, /healthz every 100 ms, for %v\n", i, *flood, *realN, *duration)
		loaded := run(client, base, *duration, *realN, *flood, true)
		loaded.print()
		if alone.realRate() > 0 {
			r := loaded.realRate() / alone.realRate()
			ratios = append(ratios, r)
			fmt.Printf("round %d: real-account sign-ins under the flood %.1f/s against %.1f/s unloaded (%.0f%%)\n\n",
				i, loaded.realRate(), alone.realRate(), 100*r)
		}
	}

	hwm, rss := status(pid, "VmHWM:"), status(pid, "VmRSS:")
	fmt.Printf("server peak RSS (VmHWM): %.0f MB; RSS at the end: %.0f MB\n", float64(hwm)/1024, float64(rss)/1024)
	if len(ratios) > 0 {
		slices.Sort(ratios)
		fmt.Printf("real-account sign-ins under the flood, median of %d rounds: %.0f%% of unloaded (min %.0f%%, max %.0f%%)\n",
			len(ratios), 100*ratios[len(ratios)/2], 100*ratios[0], 100*ratios[len(ratios)-1])
	}
}

// result is what one phase saw.
type result struct {
	elapsed          time.Duration
	mu               sync.Mutex
	realOK, realBad  int
	realLat          []time.Duration
	floodCodes       map[int]int
	floodLat         []time.Duration
	floodErrs        int
	healthOK, health int
}

func (r *result) realRate() float64 { return float64(r.realOK) / r.elapsed.Seconds() }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(int(float64(len(d))*p), len(d)-1)].Round(time.Millisecond)
}

func (r *result) print() {
	fmt.Printf("  real sign-ins: %d completed (%.1f/s), %d failed; latency p50 %v p99 %v\n",
		r.realOK, r.realRate(), r.realBad, pct(r.realLat, 0.5), pct(r.realLat, 0.99))
	if r.floodCodes != nil {
		n := 0
		for _, c := range r.floodCodes {
			n += c
		}
		fmt.Printf("  unknown-address sign-ins: %d answered (%.0f/s) by status %v, %d transport errors; latency p50 %v p99 %v\n",
			n, float64(n)/r.elapsed.Seconds(), r.floodCodes, r.floodErrs, pct(r.floodLat, 0.5), pct(r.floodLat, 0.99))
		fmt.Printf("  /healthz: %d of %d answered 200 within 2 s\n", r.healthOK, r.health)
	}
}

// run drives one phase.
func run(client *http.Client, base string, d time.Duration, realN, flood int, poll bool) *result {
	r := &result{}
	if flood > 0 {
		r.floodCodes = map[int]int{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var seq atomic.Int64
	for range realN {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				code, err := signIn(client, base, realEmail, realPassword)
				lat := time.Since(t)
				r.mu.Lock()
				if err == nil && code == http.StatusSeeOther {
					r.realOK++
					r.realLat = append(r.realLat, lat)
				} else if ctx.Err() == nil {
					r.realBad++
				}
				r.mu.Unlock()
			}
		})
	}
	for range flood {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := seq.Add(1)
				t := time.Now()
				code, err := signIn(client, base, fmt.Sprintf("nobody%d@example.com", n), fmt.Sprintf("guess %d %d", n, rand.Int()))
				lat := time.Since(t)
				r.mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						r.floodErrs++
					}
				} else {
					r.floodCodes[code]++
					r.floodLat = append(r.floodLat, lat)
				}
				r.mu.Unlock()
			}
		})
	}
	if poll {
		wg.Go(func() {
			hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				resp, err := hc.Get(base + "/healthz")
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if ctx.Err() != nil && !ok {
					return // cut off by the end of the phase
				}
				r.mu.Lock()
				r.health++
				if ok {
					r.healthOK++
				}
				r.mu.Unlock()
			}
		})
	}
	start := time.Now()
	wg.Wait()
	r.elapsed = min(time.Since(start), d)
	return r
}

// signIn posts the password step from a random client address.
func signIn(client *http.Client, base, email, password string) (int, error) {
	form := url.Values{"email": {email}, "password": {password}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("%d.%d.%d.%d", 11+rand.IntN(180), rand.IntN(256), rand.IntN(256), 1+rand.IntN(254)))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// status reads a kB figure from /proc/<pid>/status.
func status(pid int, key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb
		}
	}
	return 0
}
