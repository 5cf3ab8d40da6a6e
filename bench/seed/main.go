// Command seed fills a Portico database with customers and a year of their
// sign-ins through the product's own code, then reports how big the
// database is (issue 15, docs/scaling.md "Sizing"). With -serve it then
// starts `portico serve` on that database and measures the node's memory
// idle and with live sessions signed in over HTTPS.
//
//	go run ./bench/seed -data-dir /tmp/seed-lite -customers 1000
//	go run ./bench/seed -data-dir /tmp/seed-pg -postgres postgres://postgres@127.0.0.1:56415/seed -customers 1000 -workers 2
//	go build -o /tmp/portico ./cmd/portico
//	go run ./bench/seed -data-dir /tmp/live -customers 10000 -weeks 0 -serve /tmp/portico -live 10000 -sample 1000
//
// Every row is written by the code that writes it in production:
// identity.CreateAccount, StartTOTP and ConfirmTOTP for each customer (an
// authenticator app and ten recovery codes; the default profile requires a
// second factor), then for each sign-in identity.Login followed by
// VerifySecondFactor with the code of the moment, and ChangePassword when
// the profile's 90-day expiry asks for it: rate-limit windows, attempt
// reservations, the sign-in history and its risk score, sessions, notices
// and the audit chain (appended through audit.Append, so it verifies) are
// all the product's. Once per simulated day the node's maintenance runs
// (sessions swept, expiry warnings, rate-limit windows pruned), as a
// serving node does. The database's clock (db.Options.Now) is moved along
// the year; sign-ins arrive as a Poisson process of -per-week per customer.
//
// Two things are not production's: argon2id runs with the test parameters
// (m=64 KiB, t=1, p=1), set through a policy file (--policy-file, as an
// operator would), so the run measures the database and not the hash (the
// stored hash is the same length); and customers are created the way
// `portico user create` creates them, not through the sign-up form (which
// adds a consent record and a verification mail once per customer).
//
// The path is real, so it is slow: each sign-in is about ten transactions.
// The program prints its rate; for 100,000 customers take a smaller
// -customers and scale the bytes per customer, saying that you did.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// cheapPolicy is the override file: the tests' argon2id parameters.
const cheapPolicy = `[password.argon2]
memory_kib = 64
iterations = 1
parallelism = 1
`

const publicURL = "https://portal.example.com"

var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// The devices customers sign in from: a second one for some of them.
var devices = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36",
}

// customer is what the program keeps to sign one in again.
type customer struct {
	id, email, password, secret, ip string
	ua, ua2                         string // ua2 "" for a customer with one device
}

func main() {
	dataDir := flag.String("data-dir", "", "data directory (keyset, policy file, and the SQLite database unless -postgres); must not exist yet")
	pgURL := flag.String("postgres", "", "PostgreSQL URL of an empty database (default: SQLite in -data-dir)")
	n := flag.Int("customers", 1000, "customers to create")
	weeks := flag.Int("weeks", 52, "weeks of sign-in history")
	perWeek := flag.Float64("per-week", 2, "average sign-ins per customer per week")
	workers := flag.Int("workers", 1, "concurrent sign-in workers, each with its own connection pool (SQLite has one writer anyway)")
	serve := flag.String("serve", "", "after seeding, start this portico binary on the database and measure its memory (see live.go)")
	live := flag.Int("live", 10000, "with -serve: customers to sign in over HTTPS")
	sample := flag.Int("sample", 1000, "with -serve: live sessions that then request /account")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the seeding to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	if *dataDir == "" {
		log.Fatal("-data-dir is required")
	}
	if _, err := os.Stat(*dataDir); err == nil {
		log.Fatalf("%s exists: give a new directory", *dataDir)
	}
	ctx := context.Background()
	check(os.MkdirAll(*dataDir, 0o700))
	policyFile := filepath.Join(*dataDir, "policy.toml")
	check(os.WriteFile(policyFile, []byte(cheapPolicy), 0o600))
	args := []string{"--data-dir", *dataDir, "--policy-file", policyFile}
	if *pgURL != "" {
		args = append(args, "--database-url", *pgURL)
	}
	cfg, err := config.NewLoader("seed", "", config.Storage|config.Policy, io.Discard).
		Load(args, func(string) (string, bool) { return "", false })
	check(err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A first open initialises the installation (keyset, schema).
	st, err := app.OpenStorage(ctx, cfg, app.Initialise, quiet)
	check(err)
	before, err := measure(ctx, st.DB, *pgURL)
	check(err)
	check(st.Close())

	end := time.Now().Add(-time.Hour).Truncate(time.Second)
	start := end.Add(-time.Duration(*weeks) * 7 * 24 * time.Hour)
	ws := make([]*worker, max(*workers, 1))
	for i := range ws {
		ws[i], err = newWorker(ctx, cfg, quiet)
		check(err)
	}
	// Accounts are created before the history begins, 22 s apart.
	for _, w := range ws {
		w.clk.set(start.Add(-time.Duration(*n/len(ws)+1)*22*time.Second - time.Hour))
	}

	// Customers, created a day before their history begins.
	t0 := time.Now()
	rng := mrand.New(mrand.NewPCG(1, 2))
	custs := make([]*customer, *n)
	for i := range custs {
		c := &customer{
			email: fmt.Sprintf("customer%07d@example.com", i), password: rand.Text(),
			// One /24 per customer: the per-network limit never binds
			// here, as it would not for customers at home.
			ip: fmt.Sprintf("%d.%d.%d.%d", 31+i>>16%150, i>>8&255, i&255, 20+rng.IntN(200)),
			ua: devices[rng.IntN(2)*2],
		}
		if rng.Float64() < 0.4 {
			c.ua2 = devices[1+rng.IntN(2)*2]
		}
		custs[i] = c
	}
	runParallel(ws, custs, func(w *worker, c *customer) error { return w.create(ctx, c) })
	created := time.Since(t0)
	fmt.Printf("created %d customers (account, authenticator app, recovery codes) in %v: %.0f/s with %d workers\n",
		*n, created.Round(time.Millisecond), float64(*n)/created.Seconds(), len(ws))
	enrolled, err := measure(ctx, ws[0].db, *pgURL)
	check(err)

	// A year of sign-ins, day by day; the maintenance of the day runs
	// once every worker has finished it, at the day's end.
	type signIn struct {
		at time.Time
		c  *customer
		ua string
	}
	var all []signIn
	rate := *perWeek / (7 * 24 * float64(time.Hour))
	for _, c := range custs {
		prev := time.Time{}
		for t := start.Add(time.Duration(rng.ExpFloat64() / rate)); t.Before(end); t = t.Add(time.Duration(rng.ExpFloat64() / rate)) {
			if t.Sub(prev) < 2*time.Minute {
				continue // an authenticator code is good for one sign-in
			}
			prev = t
			ua := c.ua
			if c.ua2 != "" && rng.Float64() < 0.4 {
				ua = c.ua2
			}
			all = append(all, signIn{at: t.Truncate(time.Millisecond), c: c, ua: ua})
		}
	}
	slices.SortFunc(all, func(a, b signIn) int { return a.at.Compare(b.at) })
	t0 = time.Now()
	var done atomic.Int64
	lastReport := time.Now()
	for day := start; day.Before(end); day = day.Add(24 * time.Hour) {
		next := day.Add(24 * time.Hour)
		lo, _ := slices.BinarySearchFunc(all, day, func(s signIn, t time.Time) int { return s.at.Compare(t) })
		hi, _ := slices.BinarySearchFunc(all, next, func(s signIn, t time.Time) int { return s.at.Compare(t) })
		today := all[lo:hi]
		var wg sync.WaitGroup
		for wi, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, s := range today {
					if s.c.owner(len(ws)) != wi {
						continue
					}
					if err := w.signIn(ctx, s.c, s.ua, s.at); err != nil {
						log.Fatalf("sign-in of %s at %s: %v", s.c.email, s.at.Format(time.RFC3339), err)
					}
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		at := next
		if at.After(end) {
			at = end
		}
		check(ws[0].maintain(ctx, at))
		if time.Since(lastReport) > 30*time.Second {
			lastReport = time.Now()
			fmt.Printf("  %s: %d sign-ins, %.0f/s\n", day.Format("2006-01-02"), done.Load(), float64(done.Load())/time.Since(t0).Seconds())
		}
	}
	took := time.Since(t0)
	signIns := done.Load()
	if signIns > 0 {
		fmt.Printf("%d sign-ins (password, authenticator code, expired passwords changed) over %d weeks in %v: %.0f sign-ins/s with %d workers\n",
			signIns, *weeks, took.Round(time.Millisecond), float64(signIns)/took.Seconds(), len(ws))
	}

	res, err := audit.New(ws[0].db).Verify(ctx, audit.VerifyOptions{})
	check(err)
	fmt.Printf("audit chain: %d events verified, intact %v\n", res.Events, res.OK)
	if !res.OK {
		log.Fatalf("audit chain broken at %d: %s", res.BrokenAt, res.Reason)
	}
	after, err := measure(ctx, ws[0].db, *pgURL)
	check(err)
	for _, w := range ws {
		w.close()
	}
	report(before, enrolled, after, *n, signIns)

	if *serve != "" {
		check(measureLive(*serve, cfg, custs[:min(*live, len(custs))], *sample))
	}
}

// owner is the worker that signs c in: a customer's sign-ins stay in
// order on one worker.
func (c *customer) owner(workers int) int {
	h := 0
	for _, b := range []byte(c.email) {
		h = h*31 + int(b)
	}
	return (h & 0x7fffffff) % workers
}

// runParallel runs fn for every customer, each worker taking its own.
func runParallel(ws []*worker, custs []*customer, fn func(*worker, *customer) error) {
	var wg sync.WaitGroup
	for wi, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range custs {
				if c.owner(len(ws)) == wi {
					check(fn(w, c))
				}
			}
		}()
	}
	wg.Wait()
}

// clock is a worker's database clock, moved by the program.
type clock struct{ ns atomic.Int64 }

func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) time.Time {
	return time.Unix(0, c.ns.Add(int64(d)))
}

// worker is one connection pool with the product's services on it, as a
// node has, on a clock of its own.
type worker struct {
	clk clock
	db  *db.DB
	svc *app.Services
}

func newWorker(ctx context.Context, cfg config.Config, logger *slog.Logger) (*worker, error) {
	w := &worker{}
	opts := cfg.DBOptions()
	opts.Now = w.clk.now
	d, err := db.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	kr, err := crypto.Open(d, cfg.MasterKeyPath())
	if err != nil {
		return nil, err
	}
	profile, err := policy.Load(cfg.Policy, cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	st := &app.Storage{DB: d, Keyring: kr, Audit: audit.New(d), Profile: profile}
	if w.svc, err = app.NewServices(st, cfg, publicURL, logger); err != nil {
		return nil, err
	}
	w.db = d
	return w, nil
}

func (w *worker) close() {
	w.svc.Close()
	w.db.Close()
}

// request is the context a web request gives the domain: the client's
// address, agent and a request ID in every audit event.
func request(ctx context.Context, c *customer, ua string) context.Context {
	return audit.WithRequest(ctx, audit.Request{IP: c.ip, UserAgent: ua, RequestID: rand.Text()[:16]})
}

// create makes the account and enrols its authenticator app, as the
// enrolment page does after the first sign-in.
func (w *worker) create(ctx context.Context, c *customer) error {
	ctx = request(ctx, c, c.ua)
	acct, err := w.svc.Identity.CreateAccount(ctx, identity.NewAccount{Email: c.email, Role: access.RoleCustomer, Password: c.password})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	c.id = acct.ID
	ctx = audit.WithActor(ctx, "account:"+c.id)
	if err := w.svc.Identity.StartTOTP(ctx, c.id); err != nil {
		return fmt.Errorf("start TOTP: %w", err)
	}
	e, ok, err := w.svc.Identity.PendingTOTP(ctx, c.id)
	if err != nil || !ok {
		return fmt.Errorf("pending TOTP: %v %w", ok, err)
	}
	c.secret = strings.ReplaceAll(e.Secret, " ", "")
	code, err := totp.GenerateCodeCustom(c.secret, w.clk.add(20*time.Second), totpOpts)
	if err != nil {
		return err
	}
	if _, err := w.svc.Identity.ConfirmTOTP(ctx, c.id, code); err != nil {
		return fmt.Errorf("confirm TOTP: %w", err)
	}
	w.clk.add(time.Second)
	return nil
}

// signIn signs c in at t: password, then the authenticator code 20 s
// later, then a new password if the old one expired.
func (w *worker) signIn(ctx context.Context, c *customer, ua string, t time.Time) error {
	id := w.svc.Identity
	w.clk.set(t)
	res, err := id.Login(request(ctx, c, ua), identity.Credentials{Email: c.email, Password: c.password, IP: c.ip, UserAgent: ua})
	if err != nil {
		return fmt.Errorf("password step: %w", err)
	}
	if res.Next != identity.StepSecondFactor {
		return fmt.Errorf("password step: next %q, want %q", res.Next, identity.StepSecondFactor)
	}
	code, err := totp.GenerateCodeCustom(c.secret, w.clk.add(20*time.Second), totpOpts)
	if err != nil {
		return err
	}
	actx := audit.WithActor(request(ctx, c, ua), "account:"+c.id)
	if res, err = id.VerifySecondFactor(actx, res.Session, code, c.ip, ua); err != nil {
		return fmt.Errorf("second factor: %w", err)
	}
	switch res.Next {
	case identity.StepDone:
		return nil
	case identity.StepChangePassword:
		w.clk.add(40 * time.Second)
		next := rand.Text()
		if err := id.ChangePassword(audit.WithActor(request(ctx, c, ua), "account:"+c.id), c.id, res.Session.ID, c.password, next); err != nil {
			return fmt.Errorf("password change: %w", err)
		}
		c.password = next
		return nil
	}
	return fmt.Errorf("second factor: next %q", res.Next)
}

// maintain runs what a node's maintenance loop runs, at t: sessions swept
// (each ended session is an audit event), expiry warnings, rate-limit
// windows pruned.
func (w *worker) maintain(ctx context.Context, t time.Time) error {
	w.clk.set(t)
	if _, err := w.svc.Sessions.Sweep(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if _, err := w.svc.Identity.SendExpiryWarnings(ctx); err != nil {
		return fmt.Errorf("expiry warnings: %w", err)
	}
	return w.svc.Identity.Prune(ctx)
}

// sizes is what measure reads: rows and bytes per table, and the whole.
type sizes struct {
	dialect db.Dialect
	rows    map[string]int64
	bytes   map[string]int64 // per table with its indexes; empty when unknown
	total   int64
}

// measure counts every table's rows and reads the sizes: PostgreSQL's
// pg_total_relation_size (table, indexes, TOAST) after a plain VACUUM (what
// autovacuum keeps a live database at), SQLite's file after a checkpoint,
// with dbstat's pages per table when the driver has it.
func measure(ctx context.Context, d *db.DB, pgURL string) (sizes, error) {
	s := sizes{dialect: d.Dialect(), rows: map[string]int64{}, bytes: map[string]int64{}}
	var tables []string
	var err error
	if d.Dialect() == db.Postgres {
		// VACUUM runs outside a transaction, which db.DB never does.
		pg, err := sql.Open("pgx", pgURL)
		if err != nil {
			return s, err
		}
		_, err = pg.ExecContext(ctx, "VACUUM")
		pg.Close()
		if err != nil {
			return s, err
		}
		tables, err = db.Strings(ctx, d, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)
		if err != nil {
			return s, err
		}
	} else {
		if err := d.Checkpoint(ctx); err != nil {
			return s, err
		}
		tables, err = db.Strings(ctx, d, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`)
		if err != nil {
			return s, err
		}
	}
	for _, t := range tables {
		var n int64
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return s, fmt.Errorf("count %s: %w", t, err)
		}
		s.rows[t] = n
		if d.Dialect() == db.Postgres {
			var b int64
			if err := d.QueryRowContext(ctx, `SELECT pg_total_relation_size(quote_ident($1)::regclass)`, t).Scan(&b); err != nil {
				return s, err
			}
			s.bytes[t] = b
		}
	}
	if d.Dialect() == db.Postgres {
		err = d.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&s.total)
		return s, err
	}
	err = d.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&s.total)
	if err != nil {
		return s, err
	}
	// Pages per table, its indexes counted with it (dbstat may be missing).
	rows, err := d.QueryContext(ctx, `SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name`)
	if err != nil {
		return s, nil
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var b int64
		if err := rows.Scan(&t, &b); err != nil {
			return s, err
		}
		s.bytes[t] = b
	}
	return s, rows.Err()
}

// report prints what the seeding added, table by table: in all, per
// customer created (before any sign-in) and per sign-in (after creation).
func report(before, enrolled, after sizes, customers int, signIns int64) {
	type row struct {
		t                    string
		rows, bytes, created int64
	}
	var rs []row
	for t, n := range after.rows {
		rs = append(rs, row{t, n - before.rows[t], after.bytes[t] - before.bytes[t], enrolled.rows[t] - before.rows[t]})
	}
	slices.SortFunc(rs, func(a, b row) int {
		return cmp.Or(cmp.Compare(b.bytes, a.bytes), cmp.Compare(b.rows, a.rows), strings.Compare(a.t, b.t))
	})
	fmt.Printf("\n%-28s %12s %14s %8s %13s %13s\n", "table (added by the seed)", "rows", "bytes", "B/row", "rows/customer", "rows/sign-in")
	for _, r := range rs {
		if r.rows == 0 && r.bytes <= 8192*2 {
			continue
		}
		perRow, perSignIn := "", ""
		if r.rows > 0 && r.bytes > 0 {
			perRow = fmt.Sprint(r.bytes / r.rows)
		}
		if signIns > 0 {
			perSignIn = fmt.Sprintf("%.2f", float64(r.rows-r.created)/float64(signIns))
		}
		fmt.Printf("%-28s %12d %14d %8s %13.2f %13s\n", r.t, r.rows, r.bytes, perRow, float64(r.created)/float64(customers), perSignIn)
	}
	if len(after.bytes) == 0 {
		fmt.Println("(bytes per table: this SQLite build has no dbstat)")
	}
	grown := after.total - before.total
	what := "pg_database_size"
	if after.dialect == db.SQLite {
		what = "SQLite file after a checkpoint"
	}
	fmt.Printf("\n%s: %d bytes before, %d after (%.1f MB added)\n", what, before.total, after.total, float64(grown)/1e6)
	fmt.Printf("per customer: %.0f bytes", float64(grown)/float64(customers))
	if signIns > 0 {
		fmt.Printf("; per sign-in: %.0f bytes (what the sign-ins added, creation excluded)", float64(after.total-enrolled.total)/float64(signIns))
	}
	fmt.Printf("\nlinear extrapolation to 100,000 customers with the same history: %.2f GB\n", float64(grown)/float64(customers)*100_000/1e9)
}

func check(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}
