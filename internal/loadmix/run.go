package loadmix

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed lua/*.lua
var scripts embed.FS

// The kinds of traffic in the mix, each driven by its own wrk process.
const (
	KindSignIn  = "signin"  // password, then TOTP, then the account page
	KindPages   = "pages"   // signed-in pages
	KindReplies = "replies" // ticket replies, acknowledged by token
	KindExports = "exports" // sign-in, data export, download, reuse refused
)

// Kinds lists the kinds in the order Run reports them.
var Kinds = []string{KindSignIn, KindPages, KindReplies, KindExports}

// KindOptions set one kind's wrk process.
type KindOptions struct {
	// Threads is the number of wrk threads, each with one connection
	// (a flow's requests must alternate with their answers). 0 takes the
	// kind's default; a negative number leaves the kind out.
	Threads int
	// Pause is how long each thread waits between two flows (sign-in,
	// exports) or two requests (pages, replies); 0: none.
	Pause time.Duration
}

// Options set a run.
type Options struct {
	// BaseURL is the HTTPS origin: one node, or the proxy in front of
	// several. wrk does not check certificates.
	BaseURL string
	// Duration of the run (default 10 s).
	Duration time.Duration
	// Dir receives the scripts, the data files and the reply tokens.
	// It holds passwords and session tokens of the test customers: a
	// temporary directory.
	Dir string
	// Wrk is the wrk binary (default "wrk" on PATH).
	Wrk string
	// Timeout is wrk's request timeout (default 10 s): an answer later
	// than this counts as a timeout error, but the connection stays open
	// and the flow goes on when the answer comes.
	Timeout time.Duration

	// Defaults: sign-in 2 threads, pages 2, replies 2, exports 1 with a
	// pause of 2 s.
	SignIn, Pages, Replies, Exports KindOptions
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Wrk == "" {
		o.Wrk = "wrk"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	for _, k := range []struct {
		o       *KindOptions
		threads int
		pause   time.Duration
	}{{&o.SignIn, 2, 0}, {&o.Pages, 2, 0}, {&o.Replies, 2, 0}, {&o.Exports, 1, 2 * time.Second}} {
		if k.o.Threads == 0 {
			k.o.Threads = k.threads
			if k.o.Pause == 0 {
				k.o.Pause = k.pause
			}
		}
	}
}

// KindResult is what one kind's wrk saw.
type KindResult struct {
	Kind    string
	Threads int
	// Requests is the number of HTTP answers wrk received, every step of
	// every flow counted, over Duration (wrk's own measure).
	Requests int64
	Duration time.Duration
	// Attempted counts the flows begun (sign-in, exports) or the requests
	// written (pages, replies); Succeeded those that ended as they should.
	Attempted, Succeeded int64
	// Failed5xx and FailedOther count the failures by the status of the
	// step that failed (5xx, or any other unexpected answer); Lost the
	// requests whose answer never came (the connection broke: outcome
	// unknown). Flows cut short by the end of the run are in none.
	Failed5xx, FailedOther, Lost int64
	// Socket errors as wrk counts them; Timeout counts answers later
	// than Options.Timeout. Read also counts the connections the server
	// closed while idle (a sign-in thread waiting for the next TOTP step),
	// which lose nothing: a request whose answer never came is in Lost.
	Connect, Read, Write, Timeout int64
	// P50, P99 and Max are the latencies of single requests.
	P50, P99, Max time.Duration
	// Counts holds every counter of the script: "<step>.<status>" (such
	// as "login.303", "mfa.303", "account.200", "page.200",
	// "reply.303", "export.200", "download.200", "again.410") and
	// "waits" (a thread waited for the next TOTP step), "filler",
	// "nocode", "reuse_refused".
	Counts map[string]int64
	// Output is wrk's standard output.
	Output string
}

// Rate is the successes per second.
func (k KindResult) Rate() float64 {
	if k.Duration <= 0 {
		return 0
	}
	return float64(k.Succeeded) / k.Duration.Seconds()
}

// RequestRate is the HTTP answers per second.
func (k KindResult) RequestRate() float64 {
	if k.Duration <= 0 {
		return 0
	}
	return float64(k.Requests) / k.Duration.Seconds()
}

func (k KindResult) String() string {
	return fmt.Sprintf("%-7s %d thr: %6d ok of %6d (%7.1f/s), %5d req (%7.1f/s), 5xx %d, other %d, lost %d, socket c%d r%d w%d t%d, p50 %v p99 %v",
		k.Kind, k.Threads, k.Succeeded, k.Attempted, k.Rate(), k.Requests, k.RequestRate(), k.Failed5xx, k.FailedOther, k.Lost,
		k.Connect, k.Read, k.Write, k.Timeout, k.P50.Round(100*time.Microsecond), k.P99.Round(100*time.Microsecond))
}

// Reply is a reply the mix sent: its ticket and the token in its body.
type Reply struct{ TicketID, Token string }

// Result is a run's outcome.
type Result struct {
	RunID      string
	Start, End time.Time
	Kinds      []KindResult
	// Sent are the replies written to a connection; Acked those answered
	// 303 (saved), which the database must hold.
	Sent, Acked []Reply
}

// Kind returns the result of kind, or nil when it did not run.
func (r Result) Kind(kind string) *KindResult {
	for i := range r.Kinds {
		if r.Kinds[i].Kind == kind {
			return &r.Kinds[i]
		}
	}
	return nil
}

// Run drives the mix against o.BaseURL for o.Duration: one wrk process per
// kind, all at once, each with its share of the population. It returns
// when every wrk has finished, with their counts and the replies
// acknowledged. It records in pop the TOTP steps its sign-ins used, so
// that runs on one population can follow each other (one at a time: two
// runs at once would share the accounts).
func Run(ctx context.Context, pop *Population, o Options) (Result, error) {
	o.defaults()
	if o.Dir == "" {
		return Result{}, errors.New("loadmix: Options.Dir is required")
	}
	if _, err := url.Parse(o.BaseURL); err != nil || !strings.HasPrefix(o.BaseURL, "https://") {
		return Result{}, fmt.Errorf("loadmix: base URL %q: want https://host:port", o.BaseURL)
	}
	// Each run has its own ID, in its reply tokens: runs on one
	// population are checked apart.
	res := Result{RunID: pop.RunID + strings.ToLower(rand.Text()[:4])}
	type job struct {
		kind     string
		ko       KindOptions
		data     func(w *bytes.Buffer, threads int) error
		accounts []Customer // the kinds that sign in
	}
	now := time.Now()
	firstStep := now.Unix()/totpPeriod - 1
	// The codes cover the run, wrk's start and a margin: the steps a
	// flow begun at the end may still need.
	lastStep := now.Add(o.Duration+90*time.Second).Unix() / totpPeriod
	var jobs []job
	if o.SignIn.Threads > 0 {
		jobs = append(jobs, job{KindSignIn, o.SignIn, func(w *bytes.Buffer, n int) error {
			return writeAccounts(w, pop, pop.SignIn, n, firstStep, lastStep)
		}, pop.SignIn})
	}
	if o.Pages.Threads > 0 {
		jobs = append(jobs, job{KindPages, o.Pages, func(w *bytes.Buffer, n int) error { return writeSessions(w, pop, pop.Pages, n) }, nil})
	}
	if o.Replies.Threads > 0 {
		jobs = append(jobs, job{KindReplies, o.Replies, func(w *bytes.Buffer, n int) error { return writeSessions(w, pop, pop.Replies, n) }, nil})
	}
	if o.Exports.Threads > 0 {
		jobs = append(jobs, job{KindExports, o.Exports, func(w *bytes.Buffer, n int) error {
			return writeAccounts(w, pop, pop.Exporters, n, firstStep, lastStep)
		}, pop.Exporters})
	}
	if len(jobs) == 0 {
		return Result{}, errors.New("loadmix: every kind is off")
	}

	common, err := scripts.ReadFile("lua/common.lua")
	if err != nil {
		return Result{}, err
	}
	totp, err := scripts.ReadFile("lua/totp.lua")
	if err != nil {
		return Result{}, err
	}
	cmds := make([]*exec.Cmd, len(jobs))
	outs := make([]*bytes.Buffer, len(jobs))
	errs := make([]*bytes.Buffer, len(jobs))
	for i, j := range jobs {
		dir := filepath.Join(o.Dir, j.kind)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return Result{}, err
		}
		kindScript, err := scripts.ReadFile("lua/" + j.kind + ".lua")
		if err != nil {
			return Result{}, err
		}
		body := append(slices.Clone(common), '\n')
		if j.kind == KindSignIn || j.kind == KindExports {
			// Both sign in with the second factor first.
			body = append(append(body, totp...), '\n')
		}
		script := filepath.Join(dir, j.kind+".lua")
		if err := os.WriteFile(script, append(body, kindScript...), 0o600); err != nil {
			return Result{}, err
		}
		var data bytes.Buffer
		if err := j.data(&data, j.ko.Threads); err != nil {
			return Result{}, fmt.Errorf("loadmix: %s: %w", j.kind, err)
		}
		dataFile := filepath.Join(dir, "data.lua")
		if err := os.WriteFile(dataFile, data.Bytes(), 0o600); err != nil {
			return Result{}, err
		}
		n := strconv.Itoa(j.ko.Threads)
		cmd := exec.CommandContext(ctx, o.Wrk,
			"-t", n, "-c", n, "-d", seconds(o.Duration), "--timeout", seconds(o.Timeout),
			"-s", script, o.BaseURL,
			"--", dataFile, dir, n, res.RunID, j.kind, strconv.FormatInt(j.ko.Pause.Milliseconds(), 10))
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], errs[i]
		cmds[i] = cmd
	}
	res.Start = time.Now()
	for i, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			for _, c := range cmds[:i] {
				c.Process.Kill()
				c.Wait()
			}
			return Result{}, fmt.Errorf("loadmix: start %s: %w", o.Wrk, err)
		}
	}
	var wg sync.WaitGroup
	waitErrs := make([]error, len(cmds))
	for i, cmd := range cmds {
		wg.Go(func() { waitErrs[i] = cmd.Wait() })
	}
	wg.Wait()
	res.End = time.Now()
	for _, j := range jobs {
		if err := recordSteps(filepath.Join(o.Dir, j.kind, "steps.txt"), j.accounts); err != nil {
			return res, err
		}
	}
	for i, j := range jobs {
		if waitErrs[i] != nil {
			return res, fmt.Errorf("loadmix: wrk %s: %w: %s", j.kind, waitErrs[i], strings.TrimSpace(errs[i].String()))
		}
		kr, err := parseWrk(j.kind, j.ko.Threads, outs[i].String())
		if err != nil {
			return res, err
		}
		res.Kinds = append(res.Kinds, kr)
	}
	if o.Replies.Threads > 0 {
		dir := filepath.Join(o.Dir, KindReplies)
		if res.Sent, err = readReplies(dir, "sent-*.txt"); err != nil {
			return res, err
		}
		if res.Acked, err = readReplies(dir, "ack-*.txt"); err != nil {
			return res, err
		}
	}
	return res, nil
}

// recordSteps moves each account's FirstStep past the TOTP steps the run
// used, from the file the script's done() writes ("<index> <step>" a
// line), so that a later run on the same population replays none (the
// server would refuse it as a reused code, and count it towards the
// lock). Without the file (wrk killed) every account waits for the step
// after next.
func recordSteps(file string, accounts []Customer) error {
	if len(accounts) == 0 {
		return nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		next := time.Now().Unix()/totpPeriod + 2
		for i := range accounts {
			accounts[i].FirstStep = max(accounts[i].FirstStep, next)
		}
		return nil
	}
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(b)) {
		var i int
		var last int64
		if _, err := fmt.Sscan(line, &i, &last); err != nil || i < 0 || i >= len(accounts) {
			return fmt.Errorf("loadmix: %s: bad line %q", file, line)
		}
		accounts[i].FirstStep = max(accounts[i].FirstStep, last+1)
	}
	return nil
}

// seconds formats d for wrk, rounded up to whole seconds.
func seconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds()))) + "s"
}

// safe is what a value in a data file may hold: no quoting needed in Lua.
var safe = regexp.MustCompile(`^[A-Za-z0-9@.%&=_+:;/ ()-]*$`)

func luaString(s string) (string, error) {
	if !safe.MatchString(s) {
		return "", fmt.Errorf("value %q is not plain text for a Lua data file", s)
	}
	return `"` + s + `"`, nil
}

// writeAccounts writes a data file of accounts that sign in: each with
// its form body and its TOTP codes for the steps from first to last (or
// from the first step it may use), computed here with its key: Lua has no
// HMAC-SHA1.
func writeAccounts(w *bytes.Buffer, pop *Population, accounts []Customer, threads int, first, last int64) error {
	if len(accounts) < threads {
		return fmt.Errorf("%d accounts for %d threads: each thread needs its own", len(accounts), threads)
	}
	if err := header(w, pop); err != nil {
		return err
	}
	w.WriteString("accounts = {\n")
	for i, a := range accounts {
		body, err := luaString(url.Values{"email": {a.Email}, "password": {a.Password}}.Encode())
		if err != nil {
			return err
		}
		from := max(first, a.FirstStep)
		var codes strings.Builder
		for s := from; s <= last; s++ {
			c, err := a.Code(s)
			if err != nil {
				return err
			}
			codes.WriteString(c)
		}
		fmt.Fprintf(w, "{i=%d, b=%s, s=%d, c=%q},\n", i, body, from, codes.String())
	}
	w.WriteString("},\n}\n")
	return nil
}

// writeSessions writes a data file of signed-in sessions with their tickets.
func writeSessions(w *bytes.Buffer, pop *Population, sessions []Session, threads int) error {
	if len(sessions) < threads {
		return fmt.Errorf("%d sessions for %d threads: each thread needs its own", len(sessions), threads)
	}
	if err := header(w, pop); err != nil {
		return err
	}
	w.WriteString("sessions = {\n")
	for _, s := range sessions {
		tok, err := luaString(s.Token)
		if err != nil {
			return err
		}
		ticket, err := luaString(s.TicketID)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "{k=%s, t=%s},\n", tok, ticket)
	}
	w.WriteString("},\n}\n")
	return nil
}

func header(w *bytes.Buffer, pop *Population) error {
	ua, err := luaString(pop.UserAgent)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "-- Generated by internal/loadmix for run %s: test customers' credentials.\nreturn {\nua = %s,\n", pop.RunID, ua)
	return nil
}

// parseWrk reads the "loadmix <key> <value>" lines that the scripts' done()
// prints.
func parseWrk(kind string, threads int, out string) (KindResult, error) {
	k := KindResult{Kind: kind, Threads: threads, Counts: map[string]int64{}, Output: out}
	seen := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "loadmix" {
			continue
		}
		v, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return k, fmt.Errorf("loadmix: wrk %s: line %q: %w", kind, sc.Text(), err)
		}
		seen = true
		us := time.Duration(v) * time.Microsecond
		switch key := f[1]; key {
		case "requests":
			k.Requests = v
		case "duration_us":
			k.Duration = us
		case "err.connect":
			k.Connect = v
		case "err.read":
			k.Read = v
		case "err.write":
			k.Write = v
		case "err.timeout":
			k.Timeout = v
		case "p50_us":
			k.P50 = us
		case "p99_us":
			k.P99 = us
		case "max_us":
			k.Max = us
		default:
			if c, ok := strings.CutPrefix(key, "count."); ok {
				k.Counts[c] = v
			}
		}
	}
	if !seen {
		return k, fmt.Errorf("loadmix: wrk %s printed no summary:\n%s", kind, out)
	}
	k.Attempted, k.Succeeded = k.Counts["attempted"], k.Counts["ok"]
	k.Failed5xx, k.Lost = k.Counts["fail_5xx"], k.Counts["lost"]
	k.FailedOther = k.Counts["fail_other"] + k.Counts["nocode"]
	return k, nil
}

// readReplies reads the reply files of the threads: "<ticket> <token>" a line.
func readReplies(dir, pattern string) ([]Reply, error) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	var out []Reply
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(string(b)) {
			ticket, token, ok := strings.Cut(strings.TrimSpace(line), " ")
			if !ok || !strings.HasSuffix(line, "\n") {
				continue // a line cut short by a killed wrk
			}
			out = append(out, Reply{TicketID: ticket, Token: token})
		}
	}
	return out, nil
}
