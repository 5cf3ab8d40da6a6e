package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/session"
)

// measureLive starts `portico serve` (bin) on the seeded database and
// reads its memory three times: idle after warm-up requests, after every
// customer in custs has signed in over HTTPS (password, then the
// authenticator code: each leaves a live session), and after sample of
// those sessions have each requested /account five times. Memory is read
// from the node's own Prometheus endpoint (the Go runtime's heap figures,
// process_resident_memory_bytes) and from /proc (VmRSS, VmHWM).
//
// Sessions live in the database: a node keeps no per-session state, so
// what grows with them, if anything, is what this shows.
func measureLive(bin string, cfg config.Config, custs []*customer, sample int) error {
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"serve", "--data-dir", cfg.DataDir, "--policy-file", cfg.PolicyFile,
		"--addr", "127.0.0.1:0", "--metrics-addr", metricsAddr, "--trusted-proxies", "127.0.0.1/32", "--log-level", "warn"}
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	srv := exec.Command(bin, args...)
	out, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	base := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Portico is running at "); ok {
			base = u
			break
		}
	}
	go io.Copy(io.Discard, out)
	if base == "" {
		return fmt.Errorf("portico serve did not start")
	}
	pid := srv.Process.Pid
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 8}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for range 200 {
		if _, _, err := do(client, "GET", base+"/", "", nil, "", ""); err != nil {
			return err
		}
	}
	tr.CloseIdleConnections()
	time.Sleep(3 * time.Second)
	fmt.Printf("\nportico serve (%s), memory:\n", map[bool]string{true: "PostgreSQL", false: "SQLite"}[cfg.DatabaseURL != ""])
	if err := printMemory("idle, after 200 requests and 3 s", pid, metricsAddr); err != nil {
		return err
	}

	// Every customer signs in: 4 clients at once, each customer from its
	// own address (X-Forwarded-For, trusted from 127.0.0.1), so that the
	// per-address limits stay out of the way as they would for real ones.
	tokens := make([]string, len(custs))
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(custs) {
					return
				}
				tok, err := signInHTTPS(client, base, custs[i])
				if err != nil {
					if failed.Add(1) <= 3 {
						fmt.Fprintf(os.Stderr, "sign-in of %s: %v\n", custs[i].email, err)
					}
					continue
				}
				tokens[i] = tok
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	fmt.Printf("  %d customers signed in over HTTPS in %v (%.0f/s, %d failed)\n",
		len(custs)-int(failed.Load()), took.Round(time.Millisecond), float64(len(custs))/took.Seconds(), failed.Load())
	tr.CloseIdleConnections()
	time.Sleep(3 * time.Second)
	if err := printMemory(fmt.Sprintf("%d live sessions, 3 s after the last sign-in", len(custs)-int(failed.Load())), pid, metricsAddr); err != nil {
		return err
	}

	// A sample of the sessions use the portal: five pages each.
	sample = min(sample, len(custs))
	var bad atomic.Int64
	next.Store(0)
	t0 = time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= sample {
					return
				}
				for range 5 {
					code, _, err := do(client, "GET", base+"/account", custs[i].ip, nil, tokens[i], custs[i].ua)
					if err != nil || code != 200 {
						bad.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	took = time.Since(t0)
	fmt.Printf("  %d sessions requested /account 5 times each: %.0f pages/s, %d not 200\n", sample, float64(sample*5)/took.Seconds(), bad.Load())
	tr.CloseIdleConnections()
	time.Sleep(3 * time.Second)
	return printMemory(fmt.Sprintf("after those %d pages, 3 s idle", sample*5), pid, metricsAddr)
}

// signInHTTPS signs c in as a browser does: POST /login, then the code at
// POST /login/mfa, and returns the session cookie's value.
func signInHTTPS(client *http.Client, base string, c *customer) (string, error) {
	form := url.Values{"email": {c.email}, "password": {c.password}}
	code, cookie, err := do(client, "POST", base+"/login", c.ip, form, "", c.ua)
	if err != nil {
		return "", err
	}
	if code != http.StatusSeeOther || cookie == "" {
		return "", fmt.Errorf("POST /login answered %d", code)
	}
	otp, err := totp.GenerateCodeCustom(c.secret, time.Now(), totpOpts)
	if err != nil {
		return "", err
	}
	code, tok, err := do(client, "POST", base+"/login/mfa", c.ip, url.Values{"code": {otp}}, cookie, c.ua)
	if err != nil {
		return "", err
	}
	if code != http.StatusSeeOther || tok == "" {
		return "", fmt.Errorf("POST /login/mfa answered %d", code)
	}
	return tok, nil
}

// do sends one request with the session cookie token (if any) and returns
// the status and the session cookie the answer sets.
func do(client *http.Client, method, u, ip string, form url.Values, token, ua string) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		return 0, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", ua)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	req.Header.Set("X-Request-Id", rand.Text()[:16])
	if token != "" {
		req.AddCookie(&http.Cookie{Name: session.CookieName, Value: token})
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tok := ""
	for _, c := range resp.Cookies() {
		if c.Name == session.CookieName {
			tok = c.Value
		}
	}
	return resp.StatusCode, tok, nil
}

// printMemory prints the node's memory: RSS and peak RSS from /proc, the
// Go heap from its metrics endpoint. The live heap is estimated from the
// next collection's goal: goal = live x (1 + GOGC/100), GOGC=400 unless the
// soft memory limit is nearer.
func printMemory(when string, pid int, metricsAddr string) error {
	m, err := scrape("http://" + metricsAddr + "/metrics")
	if err != nil {
		return err
	}
	rss, hwm := procStatus(pid, "VmRSS:"), procStatus(pid, "VmHWM:")
	mb := func(v float64) string { return fmt.Sprintf("%.1f MB", v/1e6) }
	fmt.Printf("  %s: RSS %s (peak %s); Go heap in use %s, allocated %s, next GC at %s (live about %s), heap from the OS %s, goroutines %.0f\n",
		when, mb(rss*1024), mb(hwm*1024), mb(m["go_memstats_heap_inuse_bytes"]), mb(m["go_memstats_heap_alloc_bytes"]),
		mb(m["go_memstats_next_gc_bytes"]), mb(m["go_memstats_next_gc_bytes"]/5), mb(m["go_memstats_heap_sys_bytes"]), m["go_goroutines"])
	return nil
}

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(u string) (map[string]float64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// procStatus returns a kB field of /proc/<pid>/status.
func procStatus(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb
		}
	}
	return 0
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
