// Command signin measures password sign-ins per second over HTTPS against
// the raw argon2id rate on the same machine (issue 9.6: the end-to-end rate
// should be at least 0.9 of the raw one with default settings). Results go
// into docs/performance.md.
//
//	go build -o /tmp/portico ./cmd/portico
//	go run ./bench/signin -bin /tmp/portico -rounds 5 -duration 10s
//
// It starts `portico serve` on a fresh data directory with the default
// policy profile (so the default argon2id parameters, read back from
// `portico policy show`), creates a customer with `portico user create`,
// then alternates two phases, round after round:
//
//   - HTTPS: -clients concurrent clients, each on its own keep-alive
//     connection, POST /login with the right password. The answer is a 303
//     to the second-factor enrolment: the password step is complete,
//     argon2id has run, the attempt is recorded and a session is created.
//     Each request claims a different client address in X-Forwarded-For
//     (the server trusts 127.0.0.1 as a proxy) so that the per-address
//     and per-network sign-in limits are not what is measured.
//   - raw: a separate process (this program, -raw) runs
//     identity.VerifyPassword with the same parameters on -clients
//     goroutines, the server idle meanwhile.
//
// Client and server share the machine's cores, as they would in a test
// rig; the ratio is computed per round and the median reported.
// -server-env passes extra environment to the server only (for example
// GOGC=100 to compare with Portico's own garbage-collector settings).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
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

	"github.com/BurntSushi/toml"

	"github.com/portico/portico/internal/identity"
)

const (
	email = "signin-bench@example.com"
	pass  = "copper walrus gazebo lantern 47"
)

func main() {
	bin := flag.String("bin", "portico", "the portico binary")
	rounds := flag.Int("rounds", 5, "alternating rounds of HTTPS and raw measurement")
	dur := flag.Duration("duration", 10*time.Second, "length of each phase")
	clients := flag.Int("clients", 2, "concurrent HTTPS clients, and raw goroutines")
	serverEnv := flag.String("server-env", "", "extra environment for the server only, comma-separated (GOGC=100,GOMEMLIMIT=off)")
	raw := flag.Bool("raw", false, "internal: run the raw argon2id phase in this process")
	m := flag.Uint("m", 0, "internal: argon2 memory KiB")
	t := flag.Uint("t", 0, "internal: argon2 iterations")
	p := flag.Uint("p", 0, "internal: argon2 parallelism")
	flag.Parse()

	if *raw {
		rawPhase(identity.Argon2Params{MemoryKiB: uint32(*m), Iterations: uint32(*t), Parallelism: uint8(*p)}, *clients, *dur)
		return
	}

	dir, err := os.MkdirTemp("", "portico-signin-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")

	params := argon2Params(*bin)
	fmt.Printf("argon2id m=%d KiB t=%d p=%d; %d clients; %d rounds of %v + %v\n",
		params.MemoryKiB, params.Iterations, params.Parallelism, *clients, *rounds, *dur, *dur)

	create := exec.Command(*bin, "user", "create", "--data-dir", data, "--email", email, "--role", "customer", "--password-stdin", "--log-level", "warn")
	create.Stdin = strings.NewReader(pass + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		log.Fatalf("user create: %v\n%s", err, out)
	}

	srv, base := startServer(*bin, data, *serverEnv)
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()

	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	var ratios, cpuRatios, https, raws, p99s []float64
	var next atomic.Uint32
	for r := range *rounds {
		srv0, self0 := procCPU(srv.Process.Pid), selfCPU()
		rate, p99, n := httpsPhase(base, *clients, *dur, &next)
		signinCPU := (procCPU(srv.Process.Pid) - srv0 + selfCPU() - self0) / time.Duration(n)
		rawCmd := exec.Command(self, "-raw", "-clients", fmt.Sprint(*clients), "-duration", dur.String(),
			"-m", fmt.Sprint(params.MemoryKiB), "-t", fmt.Sprint(params.Iterations), "-p", fmt.Sprint(params.Parallelism))
		out, err := rawCmd.Output()
		if err != nil {
			log.Fatalf("raw phase: %v", err)
		}
		var rawRate float64
		var rawN int
		fmt.Sscanf(string(out), "%g %d", &rawRate, &rawN)
		rawCPU := (rawCmd.ProcessState.UserTime() + rawCmd.ProcessState.SystemTime()) / time.Duration(rawN)
		fmt.Printf("round %d: HTTPS %.1f sign-ins/s (p99 %.0f ms, %.1f ms CPU each, server and client), raw %.1f verifications/s (%.1f ms CPU each), ratio %.2f, CPU ratio %.2f\n",
			r+1, rate, p99, ms(signinCPU), rawRate, ms(rawCPU), rate/rawRate, float64(rawCPU)/float64(signinCPU))
		https, raws, p99s = append(https, rate), append(raws, rawRate), append(p99s, p99)
		ratios, cpuRatios = append(ratios, rate/rawRate), append(cpuRatios, float64(rawCPU)/float64(signinCPU))
	}
	fmt.Printf("median of %d rounds: HTTPS %.1f sign-ins/s, raw %.1f verifications/s, ratio %.2f (min %.2f, max %.2f), CPU ratio %.2f (min %.2f, max %.2f), p99 %.0f ms\n",
		*rounds, median(https), median(raws), median(ratios), slices.Min(ratios), slices.Max(ratios),
		median(cpuRatios), slices.Min(cpuRatios), slices.Max(cpuRatios), median(p99s))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procCPU is the user and system CPU time of process pid so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): state is the
	// 3rd field of the whole line, utime the 14th and stime the 15th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on
// Linux on every common architecture).
const clockTicks = 100

// selfCPU is this process's user and system CPU time so far (the HTTPS
// clients' share of the work).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// argon2Params reads the default profile's parameters from the binary.
func argon2Params(bin string) identity.Argon2Params {
	out, err := exec.Command(bin, "policy", "show").Output()
	if err != nil {
		log.Fatalf("policy show: %v", err)
	}
	var prof struct {
		Password struct {
			Argon2 struct {
				MemoryKiB   uint32 `toml:"memory_kib"`
				Iterations  uint32 `toml:"iterations"`
				Parallelism uint8  `toml:"parallelism"`
			} `toml:"argon2"`
		} `toml:"password"`
	}
	if _, err := toml.Decode(string(out), &prof); err != nil {
		log.Fatalf("policy show: %v", err)
	}
	a := prof.Password.Argon2
	return identity.Argon2Params{MemoryKiB: a.MemoryKiB, Iterations: a.Iterations, Parallelism: a.Parallelism}
}

// startServer runs `portico serve` and waits for its "running" line.
func startServer(bin, data, extraEnv string) (*exec.Cmd, string) {
	cmd := exec.Command(bin, "serve", "--data-dir", data, "--addr", "127.0.0.1:0",
		"--trusted-proxies", "127.0.0.1/32", "--log-level", "warn")
	cmd.Env = os.Environ()
	if extraEnv != "" {
		cmd.Env = append(cmd.Env, strings.Split(extraEnv, ",")...)
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Portico is running at "); ok {
			go io.Copy(io.Discard, stdout)
			return cmd, u
		}
	}
	cmd.Process.Kill()
	log.Fatal("serve: no running line")
	return nil, ""
}

// httpsPhase signs in from n clients for d and returns sign-ins per second
// and the 99th percentile latency in milliseconds.
//
// total counts every sign-in made, including those that ended after the
// phase, for the CPU cost per sign-in.
func httpsPhase(base string, n int, d time.Duration, next *atomic.Uint32) (rate, p99ms float64, total int) {
	form := url.Values{"email": {email}, "password": {pass}}.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var all atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c := &http.Client{
				Transport: &http.Transport{
					TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
					MaxIdleConnsPerHost: 1,
				},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			defer c.CloseIdleConnections()
			for ctx.Err() == nil {
				// A new address in a new /24 for each request: 10.a.b.1.
				i := next.Add(1)
				req, _ := http.NewRequest("POST", base+"/login", bytes.NewReader([]byte(form)))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.1", i>>8&255, i&255))
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					log.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				el := time.Since(t0)
				all.Add(1)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/account/mfa/setup") {
					log.Fatalf("sign-in: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				if ctx.Err() != nil {
					break // finished after the phase ended: not counted
				}
				mu.Lock()
				lat = append(lat, el)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	return float64(len(lat)) / d.Seconds(), float64(p99) / float64(time.Millisecond), int(all.Load())
}

// rawPhase verifies the password against its hash on n goroutines for d
// and prints verifications per second and the number of argon2id runs made
// (the hash and the verifications that ended after the phase included), for
// the CPU cost of one.
func rawPhase(p identity.Argon2Params, n int, d time.Duration) {
	hash, err := identity.HashPassword(pass, p)
	if err != nil {
		log.Fatal(err)
	}
	var count, runs atomic.Int64
	runs.Add(1) // the hash
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				ok, _, err := identity.VerifyPassword(pass, hash, p)
				runs.Add(1)
				if err != nil || !ok {
					log.Fatalf("verify: %v %v", ok, err)
				}
				if time.Now().Before(deadline) {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("%g %d\n", float64(count.Load())/d.Seconds(), runs.Load())
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
