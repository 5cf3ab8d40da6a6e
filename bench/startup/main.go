// Command startup measures how fast `portico serve` starts on an existing
// data directory and how much memory it holds when idle (issue 2's targets:
// under 300 ms, under 40 MB RSS). Results go into docs/performance.md.
//
//	go build -o /tmp/portico ./cmd/portico
//	go run ./bench/startup -bin /tmp/portico -runs 20
//
// Start time is measured from exec to the "Portico is running at" line on
// standard output, which is printed after the database is open, migrations
// are checked, the keyring and templates are loaded and the listener is
// bound. RSS is read from /proc/<pid>/status after the server has been idle
// for -idle, and after a warm-up of -warm requests to the landing page.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "portico", "the portico binary")
	runs := flag.Int("runs", 20, "how many starts to time")
	idle := flag.Duration("idle", 3*time.Second, "how long to stay idle before reading RSS")
	warm := flag.Int("warm", 200, "requests to the landing page before the idle RSS reading")
	flag.Parse()

	dir, err := os.MkdirTemp("", "portico-startup-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")

	// First start creates the installation (database, keyset, certificate).
	if _, _, err := start(*bin, data, 0, 0, 0); err != nil {
		log.Fatalf("first start: %v", err)
	}
	var times []time.Duration
	var rss []int
	for i := range *runs {
		w, i2 := 0, time.Duration(0)
		if i == *runs-1 {
			w, i2 = *warm, *idle
		}
		d, kb, err := start(*bin, data, w, i2, 1)
		if err != nil {
			log.Fatalf("run %d: %v", i, err)
		}
		times = append(times, d)
		if kb > 0 {
			rss = append(rss, kb)
		}
	}
	slices.Sort(times)
	fmt.Printf("starts on an existing data directory: %d runs\n", len(times))
	fmt.Printf("  min %v  median %v  p90 %v  max %v\n",
		times[0].Round(time.Millisecond/10), times[len(times)/2].Round(time.Millisecond/10),
		times[len(times)*9/10].Round(time.Millisecond/10), times[len(times)-1].Round(time.Millisecond/10))
	for _, kb := range rss {
		fmt.Printf("idle RSS after %d requests and %v idle: %.1f MB\n", *warm, *idle, float64(kb)/1024)
	}
}

// start runs `portico serve` on a free port, waits for its "running" line,
// optionally sends warm requests and idles, reads RSS, then stops it with
// SIGTERM and waits for a clean exit.
func start(bin, data string, warm int, idle time.Duration, wantRSS int) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", data, "--addr", "127.0.0.1:0", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	cmd.Stderr = io.Discard
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(stdout)
	url := ""
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Portico is running at "); ok {
			url = u
			break
		}
	}
	elapsed := time.Since(t0)
	go io.Copy(io.Discard, stdout)
	if url == "" {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, 0, fmt.Errorf("no running line")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for range warm {
		resp, err := client.Get(url + "/")
		if err != nil {
			return 0, 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	time.Sleep(idle)
	kb := 0
	if wantRSS > 0 && idle > 0 {
		kb = readRSS(cmd.Process.Pid)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("exit: %w", err)
	}
	return elapsed, kb, nil
}

func readRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
