// Command purge measures the retention purge of issue 5: 1,000,000 expired
// sign-in events deleted in under 60 s on SQLite, while a signed-in page
// keeps a p99 latency under 50 ms. Results go into docs/performance.md.
//
//	go build -o /tmp/portico ./cmd/portico
//	go run ./bench/purge -bin /tmp/portico -events 1000000
//
// It starts `portico serve` on a fresh data directory (the 1642mtl-web
// profile, so that a customer signs in with a password alone), signs a
// customer in over HTTPS, writes the expired events straight into the
// database, measures the page's latency with -workers clients for a few
// seconds, then runs `portico retention run` while the clients go on, and
// reports the purge's duration and the page's latency during it.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico/portico/internal/db"
)

const ua = "portico-purge-bench"

func main() {
	bin := flag.String("bin", "portico", "the portico binary")
	events := flag.Int("events", 1_000_000, "expired sign-in events to seed")
	workers := flag.Int("workers", 4, "concurrent clients of the signed-in page")
	flag.Parse()

	dir, err := os.MkdirTemp("", "portico-purge-")
	check(err)
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	common := []string{"--data-dir", data, "--policy", "1642mtl-web", "--log-level", "warn"}

	srv := exec.Command(*bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, common...)...)
	out, err := srv.StdoutPipe()
	check(err)
	srv.Stderr = os.Stderr
	check(srv.Start())
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()
	base := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Portico is running at "); ok {
			base = u
			break
		}
	}
	go io.Copy(io.Discard, out)

	const pw = "velvet-harbour-quietly-92-lanterns"
	create := exec.Command(*bin, append([]string{"user", "create", "--email", "bench@example.com", "--role", "customer", "--password-stdin"}, common...)...)
	create.Stdin = strings.NewReader(pw + "\n")
	create.Stderr = os.Stderr
	check(create.Run())

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: *workers}}
	form := url.Values{"email": {"bench@example.com"}, "password": {pw}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req)
	check(err)
	resp.Body.Close()
	if code := get(client, base+"/account"); code != 200 {
		log.Fatalf("sign-in failed: GET /account answered %d", code)
	}

	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{Path: filepath.Join(data, "portico.db")})
	check(err)
	var account string
	check(d.QueryRowContext(ctx, `SELECT id FROM accounts WHERE role = 'customer'`).Scan(&account))
	start := time.Now()
	old := time.Now().Add(-2 * 365 * 24 * time.Hour)
	for done := 0; done < *events; {
		check(d.Transact(ctx, func(tx *db.Tx) error {
			for i := 0; i < 20_000 && done < *events; i, done = i+1, done+1 {
				blob := make([]byte, 60)
				rand.Read(blob)
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO sign_in_events (id, account_id, at, outcome, reason, method, ip_enc, ua_enc, device, country)
					 VALUES ($1, $2, $3, 'failure', 'bad_password', 'password', $4, $4, 'Firefox on Linux', 'GB')`,
					strings.ToLower(rand.Text()), account, old, blob); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	d.Close()
	fmt.Printf("seeded %d expired sign-in events in %v\n", *events, time.Since(start).Round(time.Millisecond))

	idle := load(client, base, *workers, func() { time.Sleep(5 * time.Second) })
	fmt.Printf("GET /account without the purge: %s\n", idle)

	var took time.Duration
	var purgeOut []byte
	during := load(client, base, *workers, func() {
		t0 := time.Now()
		cmd := exec.Command(*bin, append([]string{"retention", "run"}, common...)...)
		purgeOut, err = cmd.CombinedOutput()
		took = time.Since(t0)
		check(err)
	})
	fmt.Printf("portico retention run: %v\n%s", took.Round(time.Millisecond), purgeOut)
	fmt.Printf("GET /account during the purge: %s\n", during)
}

// load runs clients against the signed-in page while work runs, and
// returns the latency summary.
func load(client *http.Client, base string, workers int, work func()) string {
	var stop atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				t0 := time.Now()
				code := get(client, base+"/account")
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if code != 200 {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	work()
	stop.Store(true)
	wg.Wait()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)].Round(100 * time.Microsecond) }
	return fmt.Sprintf("%d requests, p50 %v, p99 %v, max %v, non-200 %d", len(lat), q(0.5), q(0.99), lat[len(lat)-1].Round(100*time.Microsecond), errs)
}

func get(client *http.Client, u string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
