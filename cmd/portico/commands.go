package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico/portico/internal/backup"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/vulncheck"

	"golang.org/x/term"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/policy"
)

// load parses a command's flags and settings and builds its logger.
func load(e env, l *config.Loader, args []string) (config.Config, error) {
	return l.Load(args, e.getenv)
}

func cmdServe(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("serve", `Usage: portico serve [flags]

Runs the HTTPS server. With no configuration it creates ./portico-data with
an SQLite database, a self-signed certificate for localhost and the master
keyset, and listens on https://localhost:8443.`, config.Storage|config.Policy|config.Server|config.Geo, e.stdout)
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	logger := app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	// A server, unlike the one-shot commands, gets garbage-collector
	// settings fit for argon2's large allocations (GOGC and GOMEMLIMIT win).
	app.TuneGC(e.getenv, logger)
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return a.Run(ctx, e.stdout)
}

func cmdMigrate(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("migrate", `Usage: portico migrate [flags]

Applies every pending database migration (serve also does this at start).
Running it again is a no-op.`, config.Storage|config.Policy, e.stdout)
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	s, err := app.OpenStorage(ctx, cfg, app.Initialise, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	cur, _, err := s.DB.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "database %s is at schema version %d\n", s.DB, cur)
	return nil
}

func cmdVersion(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("version", `Usage: portico version [--modules]

Prints the version, commit and Go version; with --modules, also every module
compiled into this binary with its version (from the binary's own build
information), one per line: the inventory that portico vulncheck matches.`, 0, e.stdout)
	modules := l.FlagSet().Bool("modules", false, "also list the Go modules compiled into this binary")
	if _, err := load(e, l, args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, buildinfo.Read())
	if !*modules {
		return nil
	}
	m, err := vulncheck.Current()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\t%s\n", "go", m.GoVersion)
	for _, d := range m.Deps {
		eff := d.Effective()
		line := d.Path + "\t" + d.Version
		if d.Replace != nil {
			line += "\t=> " + eff.Path + " " + eff.Version
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}

// cmdVulncheck matches the binary's modules and Go version against an
// offline OSV database, and with --updates compares them with the latest
// releases (currency.go).
//
// Enforces MTL-4.1.2: vulnerable modules in the running binary are found
// without a network call.
func cmdVulncheck(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("vulncheck", `Usage: portico vulncheck --osv DIR
       portico vulncheck --updates [--proxy URL] [--go-releases URL]
       portico vulncheck --updates-file FILE --go-releases-file FILE

Matches this binary's Go version and modules (portico version --modules)
against an OSV vulnerability database kept on disk: a directory of the JSON
advisories the OSV project publishes for the Go ecosystem (for example the
unzipped https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip).
No network call is made. Prints each vulnerable module with the advisory, its
aliases and the fixed version; exits 1 when there is any.

Matching is by module and version, not by the packages the binary imports:
an advisory for a package Portico does not use is still listed.

With --updates it checks instead (or as well) whether this binary is current:
each module against its latest stable version at a Go module proxy (--proxy,
the GOPROXY protocol; no credentials are sent), and Go against the latest
patch of the two release lines the Go team supports (--go-releases, the
go.dev/dl/?mode=json list; "--go-releases toolchain" reads the releases from
the proxy's golang.org/toolchain module instead, where go.dev is not reachable). Offline, --updates-file takes the output of
"go list -m -u -json all" run in Portico's source tree and --go-releases-file
a saved copy of that list. Prints a table (module, in binary, latest, behind)
and the Go line; exits 3 when a module is behind or Go is not current, 0 when
everything is current. A vulnerable module (exit 1) wins over exit 3.

With --file-findings it also opens the installation's database (the same
--data-dir or --database-url as serve) and files one finding per vulnerable
module and advisory in the findings register (source vulncheck), graded by
the advisory's severity or high, never twice while one is not resolved, and
records the run for the inventory page. With --updates, it files a low
finding per module behind by a major or minor version and a medium one when
Go is not current, never twice while one is not resolved, and records the
run. Without it nothing is written: the check can run in CI with no database.`, config.Storage|config.Policy, e.stdout)
	fs := l.FlagSet()
	dir := fs.String("osv", "", "the OSV database `directory`")
	file := fs.Bool("file-findings", false, "file each vulnerable or outdated module in the findings register of the installation's database")
	updates := fs.Bool("updates", false, "compare Go and the modules with their latest releases")
	proxy := fs.String("proxy", vulncheck.DefaultProxy, "the Go module proxy `URL` of --updates")
	goReleases := fs.String("go-releases", vulncheck.DefaultGoReleases, "the Go release list `URL` of --updates, or toolchain for the proxy's golang.org/toolchain versions")
	updatesFile := fs.String("updates-file", "", "offline --updates: the output of go list -m -u -json all (`file`)")
	goReleasesFile := fs.String("go-releases-file", "", "offline --updates: a saved Go release list (`file`)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if (*updatesFile == "") != (*goReleasesFile == "") {
		return usageErr("--updates-file and --go-releases-file go together: the module updates and the Go release list")
	}
	*updates = *updates || *updatesFile != ""
	if *dir == "" && !*updates {
		return usageErr("--osv is required: a directory of OSV advisories, or --updates for the currency check (see --help)")
	}
	m, err := currentModules()
	if err != nil {
		return err
	}
	var vulnErr error
	if *dir != "" {
		var xe *exitError
		if vulnErr = osvCheck(ctx, e, cfg, *dir, *file, m); vulnErr != nil && !errors.As(vulnErr, &xe) {
			return vulnErr // an error, not a finding
		}
	}
	if *updates {
		var src vulncheck.Source
		if *updatesFile != "" {
			if src, err = vulncheck.ReadOffline(*updatesFile, *goReleasesFile); err != nil {
				return err
			}
		} else if src, err = vulncheck.NewOnline(*proxy, *goReleases); err != nil {
			return usageErr("%v", err)
		}
		if err := currencyCheck(ctx, e, cfg, src, *file, m); err != nil {
			if vulnErr != nil {
				fmt.Fprintln(e.stderr, "portico vulncheck:", oneLine(err.Error()))
				return vulnErr // vulnerable (1) wins
			}
			return err
		}
	}
	return vulnErr
}

// currentModules is the inventory the checks read: the running binary's,
// replaced in tests (a test binary records no modules).
var currentModules = vulncheck.Current

// osvCheck is the OSV part of portico vulncheck: an *exitError with
// status 1 when an advisory matches.
func osvCheck(ctx context.Context, e env, cfg config.Config, dir string, file bool, m vulncheck.Modules) error {
	res, err := vulncheck.Check(dir, m)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	if file {
		if err := fileVulns(ctx, e, cfg, res, m); err != nil {
			return err
		}
	}
	for _, v := range res.Vulns {
		fixed := v.Fixed
		if fixed == "" {
			fixed = "no fixed version known"
		}
		fmt.Fprintf(e.stdout, "%s\t%s %s\tfixed in %s\t%s\t%s\n", v.ID, v.Module, v.Installed, fixed, strings.Join(v.Aliases, ","), v.Summary)
	}
	if len(res.Vulns) > 0 {
		what := fmt.Sprintf("%d advisories match", len(res.Vulns))
		if len(res.Vulns) == 1 {
			what = "1 advisory matches"
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%s this binary (Go %s, %d modules checked)", what, m.GoVersion, len(m.Deps))}
	}
	fmt.Fprintf(e.stderr, "no advisory matches this binary (Go %s, %d modules checked)\n", m.GoVersion, len(m.Deps))
	return nil
}

// fileVulns files the check's result in the findings register
// (MTL-4.1.2).
func fileVulns(ctx context.Context, e env, cfg config.Config, res vulncheck.Result, m vulncheck.Modules) error {
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	filed, err := findings.New(s.DB, s.Audit, s.Profile).FileVulns(audit.WithActor(ctx, audit.ActorCLI), res, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "findings: %d filed, %d already in the register\n", len(filed.New), filed.Existing)
	return nil
}

func cmdPolicyShow(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("policy show", `Usage: portico policy show [flags]

Prints the effective policy profile (the built-in profile with the override
file applied) as TOML. The output is a valid override file.`, config.Policy, e.stdout)
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	p, err := policy.Load(cfg.Policy, cfg.PolicyFile)
	if err != nil {
		return &config.UsageError{Msg: err.Error()}
	}
	return p.WriteTOML(e.stdout)
}

func cmdKeysRotate(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("keys rotate", `Usage: portico keys rotate [flags]

Adds a new primary key to the master keyset and re-wraps every data key
with it, printing progress. Old ciphertexts keep decrypting. If interrupted,
run it again: it finishes the pending re-wrap before adding another key.
Safe to run while the server runs.`, config.Storage|config.Policy, e.stdout)
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Keyring.Rotate(ctx, e.stdout)
	outcome := audit.Success
	if err != nil {
		outcome = audit.Failure
	}
	if _, aerr := s.Audit.Record(ctx, audit.Event{
		Actor: audit.ActorCLI, Action: "keys.rotate", Target: "master-keyset", Outcome: outcome,
		Details: map[string]any{
			"primary_key_id":  res.PrimaryKeyID,
			"previous_key_id": res.PreviousKeyID,
			"resumed":         res.Resumed,
			"subject_keys":    res.SubjectKeys,
			"secrets":         res.Secrets,
		},
	}); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rotation complete: primary master key %d (was %d); %d data keys and %d secrets re-wrapped; %d master keys in the keyset\n",
		res.PrimaryKeyID, res.PreviousKeyID, res.SubjectKeys, res.Secrets, res.MasterKeys)
	return nil
}

func cmdAuditVerify(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("audit verify", `Usage: portico audit verify [flags]

Walks the audit trail's hash chain and reports the first broken link. With
--anchor SEQ:HASH (from a log line or metrics scraped earlier), also checks
that the chain still holds that event, which detects truncation.
Exit status 1 when the chain is broken.`, config.Storage|config.Policy, e.stdout)
	anchor := l.FlagSet().String("anchor", "", "expected `SEQ:HASH` of an earlier chain head, e.g. 1042:9f86d0...")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	var opts audit.VerifyOptions
	if *anchor != "" {
		seqStr, hashHex, ok := strings.Cut(*anchor, ":")
		seq, err1 := strconv.ParseInt(seqStr, 10, 64)
		hash, err2 := hex.DecodeString(hashHex)
		if !ok || err1 != nil || err2 != nil || seq < 1 || len(hash) != 32 {
			return usageErr("--anchor %q: want SEQ:HASH with a 64-digit hex SHA-256", *anchor)
		}
		opts.Anchor = &audit.Anchor{Seq: seq, Hash: hash}
	}
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	res, err := s.Audit.Verify(ctx, opts)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	outcome := audit.Success
	if !res.OK {
		outcome = audit.Failure
	}
	if _, err := s.Audit.Record(ctx, audit.Event{
		Actor: audit.ActorCLI, Action: "audit.verify", Target: "audit-chain", Outcome: outcome,
		Details: map[string]any{"events": res.Events, "broken_at": res.BrokenAt},
	}); err != nil {
		return err
	}
	if !res.OK {
		return &exitError{code: 1, msg: fmt.Sprintf("audit chain BROKEN at event %d: %s (%d events checked)", res.BrokenAt, res.Reason, res.Events)}
	}
	fmt.Fprintf(e.stdout, "audit chain OK: %d events verified in %s; head %d:%s\n",
		res.Events, elapsed.Round(time.Millisecond), res.Head.Seq, hex.EncodeToString(res.Head.Hash))
	return nil
}

func cmdAuditExport(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("audit export", `Usage: portico audit export [flags]

Writes audit events as JSON Lines (one event per line, in chain order) for a
SIEM. --since takes a time (2026-11-01 or 2026-11-01T08:00:00Z) or a
duration back from now (24h).`, config.Storage|config.Policy, e.stdout)
	since := l.FlagSet().String("since", "", "export events from this `time or duration` on (default: all)")
	output := l.FlagSet().String("output", "", "write to this `file` (created 0600) instead of standard output")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return usageErr("--since %q: %v", *since, err)
	}
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	w := e.stdout
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("--output %s: %w", *output, err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		w = bw
	}
	n, err := s.Audit.Export(ctx, w, from)
	if err != nil {
		return err
	}
	// Exporting the trail is itself security-relevant (CP-5.3).
	_, err = s.Audit.Record(ctx, audit.Event{
		Actor: audit.ActorCLI, Action: "audit.export", Target: "audit-chain", Outcome: audit.Success,
		Details: map[string]any{"events": n, "since": from.Format(time.RFC3339)},
	})
	return err
}

// parseSince reads --since: empty (everything), a date, an RFC 3339 time,
// or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("duration must be positive")
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("want a time (2026-11-01, 2026-11-01T08:00:00Z) or a duration (24h)")
}

func cmdUserCreate(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("user create", `Usage: portico user create --email E --role R [--password-stdin] [flags]

Creates an account with the same password checks as the sign-up form. The
password is read from standard input with --password-stdin, or asked for
(twice, without echo) on a terminal. The first administrator comes from here.`, config.Storage|config.Policy, e.stdout)
	email := l.FlagSet().String("email", "", "the account's email `address` (required)")
	role := l.FlagSet().String("role", "", "the account's `role`: customer, support, security, admin or auditor (required)")
	fromStdin := l.FlagSet().Bool("password-stdin", false, "read the password from the first line of standard input")
	name := l.FlagSet().String("name", "", "the person's `name` (optional)")
	until := l.FlagSet().String("contractor-until", "", "make a staff account a contractor's, disabled from this `date` (2027-03-31; support, security or auditor)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *email == "" {
		return usageErr("--email is required")
	}
	r, err := access.ParseRole(*role)
	if err != nil {
		return usageErr("--role: %v", err)
	}
	var contractUntil time.Time
	if *until != "" {
		if contractUntil, err = time.Parse("2006-01-02", *until); err != nil {
			return usageErr("--contractor-until: want a date such as 2027-03-31")
		}
	}
	password, err := readPassword(e, *fromStdin)
	if err != nil {
		return err
	}
	return withIdentity(ctx, e, cfg, app.Initialise, func(_ *app.Storage, svc *identity.Service) error {
		acct, err := svc.CreateAccount(audit.WithActor(ctx, audit.ActorCLI), identity.NewAccount{Email: *email, Name: *name, Role: r, Password: password, ContractorUntil: contractUntil})
		if err != nil {
			return err
		}
		if acct.Contractor() {
			fmt.Fprintf(e.stdout, "created %s account %s (contractor until %s)\n", acct.Role, acct.ID, acct.ContractorUntil.Format("2006-01-02"))
			return nil
		}
		fmt.Fprintf(e.stdout, "created %s account %s\n", acct.Role, acct.ID)
		return nil
	})
}

// readPassword reads the new password from standard input (first line) or,
// on a terminal, asks twice without echo.
func readPassword(e env, fromStdin bool) (string, error) {
	if fromStdin {
		br := bufio.NewReader(io.LimitReader(e.stdin, 4096))
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			return "", usageErr("--password-stdin: standard input held no password")
		}
		return line, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageErr("no password: pass it on standard input with --password-stdin")
	}
	fmt.Fprint(e.stderr, "Password: ")
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(e.stderr, "Repeat password: ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", usageErr("the two passwords differ")
	}
	return string(p1), nil
}

func cmdUserDisable(ctx context.Context, e env, args []string) error {
	return setDisabled(ctx, e, args, true)
}

func cmdUserEnable(ctx context.Context, e env, args []string) error {
	return setDisabled(ctx, e, args, false)
}

// setDisabled disables or enables the account with --email. Disabling ends
// every session of the account at once.
func setDisabled(ctx context.Context, e env, args []string, disable bool) error {
	verb := "enable"
	if disable {
		verb = "disable"
	}
	l := config.NewLoader("user "+verb, "Usage: portico user "+verb+" --email E [flags]\n\n"+
		map[bool]string{true: "Disables an account: it can no longer sign in, and every session it has ends at once.",
			false: "Enables an account that was disabled."}[disable], config.Storage|config.Policy, e.stdout)
	email := l.FlagSet().String("email", "", "the account's email `address` (required)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *email == "" {
		return usageErr("--email is required")
	}
	return onAccount(ctx, e, cfg, *email, func(ctx context.Context, svc *identity.Service, id string) error {
		if err := svc.SetDisabled(ctx, id, disable); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd account %s\n", verb, id)
		return nil
	})
}

// onAccount opens an existing installation's identity service as the
// command line and runs fn on the account with this email address.
func onAccount(ctx context.Context, e env, cfg config.Config, email string, fn func(context.Context, *identity.Service, string) error) error {
	return withIdentity(ctx, e, cfg, app.Existing, func(_ *app.Storage, svc *identity.Service) error {
		ctx := audit.WithActor(ctx, audit.ActorCLI)
		acct, err := svc.FindByEmail(ctx, email)
		if err != nil {
			return err
		}
		return fn(ctx, svc, acct.ID)
	})
}

// withIdentity opens the storage and the identity service for a command,
// runs fn and closes both.
func withIdentity(ctx context.Context, e env, cfg config.Config, mode app.StorageMode, fn func(*app.Storage, *identity.Service) error) error {
	s, err := app.OpenStorage(ctx, cfg, mode, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	svc, closeID, err := app.NewIdentity(s, cfg)
	if err != nil {
		return err
	}
	defer closeID()
	return fn(s, svc)
}

func cmdUserRequirePasswordChange(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("user require-password-change", `Usage: portico user require-password-change --email E [--reason admin|incident] [flags]

Makes an account change its password before it can do anything else, and ends
its sessions so that the change happens at its next sign-in (CP-4.3: a change
is forced on evidence of compromise).`, config.Storage|config.Policy, e.stdout)
	email := l.FlagSet().String("email", "", "the account's email `address` (required)")
	reason := l.FlagSet().String("reason", "admin", "why: `admin` or incident")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *email == "" {
		return usageErr("--email is required")
	}
	if *reason != identity.ChangeAdmin && *reason != identity.ChangeIncident {
		return usageErr("--reason %q: want admin or incident", *reason)
	}
	return onAccount(ctx, e, cfg, *email, func(ctx context.Context, svc *identity.Service, id string) error {
		if err := svc.RequirePasswordChange(ctx, id, *reason); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "account %s must change its password at its next sign-in\n", id)
		return nil
	})
}

func cmdUserRecordTraining(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("user record-training", `Usage: portico user record-training --email E [--date YYYY-MM-DD] [--note TEXT] [flags]

Records a staff member's security-awareness training (default: today). Staff
past the policy's training interval work in restricted mode until it is
recorded (CP-12); administrators do this from the admin pages, and this
command is the way out when no other administrator can.`, config.Storage|config.Policy, e.stdout)
	email := l.FlagSet().String("email", "", "the account's email `address` (required)")
	date := l.FlagSet().String("date", "", "the `day` the training was completed (default today)")
	note := l.FlagSet().String("note", "", "what the training was, kept with the record (`text`, optional)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *email == "" {
		return usageErr("--email is required")
	}
	at := time.Now()
	if *date != "" {
		d, err := time.Parse("2006-01-02", *date)
		if err != nil {
			return usageErr("--date: want a day such as 2026-11-25")
		}
		if at = d.Add(24*time.Hour - time.Second); at.After(time.Now()) {
			at = time.Now()
		}
	}
	return onAccount(ctx, e, cfg, *email, func(ctx context.Context, svc *identity.Service, id string) error {
		if err := svc.RecordTrainingFromCLI(ctx, id, at, *note); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "training recorded for account %s on %s\n", id, at.UTC().Format("2006-01-02"))
		return nil
	})
}

func cmdMailUndelivered(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("mail undelivered", `Usage: portico mail undelivered [flags]

Lists mail in the outbox that has not been delivered: waiting (no --smtp-url,
or retrying) or failed, with its kind, attempts and last error. Recipients and
texts are encrypted and never shown.`, config.Storage|config.Policy, e.stdout)
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := notify.New(s.DB, s.Keyring, s.Audit, notify.Options{})
	if err != nil {
		return err
	}
	items, err := n.Undelivered(ctx, 500)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintln(e.stdout, "no undelivered mail")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tCREATED\tKIND\tSTATUS\tATTEMPTS\tLAST ERROR")
	for _, it := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.CreatedAt.UTC().Format(time.RFC3339), it.Kind, it.Status, it.Attempts, it.LastError)
	}
	return w.Flush()
}

func cmdRetentionRun(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("retention run", `Usage: portico retention run [--dry-run] [flags]

Runs the retention purge now (the server runs it every hour): deletes what the
policy profile's retention periods say has expired, per category, and warns
inactive customers before their account is closed. With --dry-run it only
counts what would go. One node runs it at a time.`, config.Storage|config.Policy, e.stdout)
	dry := l.FlagSet().Bool("dry-run", false, "count what would be deleted, delete nothing")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	return withIdentity(ctx, e, cfg, app.Existing, func(s *app.Storage, ids *identity.Service) error {
		n, err := notify.New(s.DB, s.Keyring, s.Audit, notify.Options{SMTPURL: cfg.SMTPURL})
		if err != nil {
			return err
		}
		r, err := retention.New(retention.Deps{DB: s.DB, Keys: s.Keyring, Audit: s.Audit, Profile: s.Profile, Identity: ids, Notices: n})
		if err != nil {
			return err
		}
		run, err := r.Run(ctx, *dry)
		if err != nil {
			return err
		}
		verb := "deleted"
		if *dry {
			verb = "would delete"
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "CATEGORY\t%s\n", strings.ToUpper(verb))
		for _, c := range retention.Categories() {
			fmt.Fprintf(w, "%s\t%d\n", c, run.Counts[c])
		}
		return w.Flush()
	})
}

func cmdBackupCreate(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("backup create", `Usage: portico backup create --output FILE [flags]

Writes a consistent backup of the database while the server runs: every table
read in one snapshot, compressed and encrypted under the master keyset, behind
a manifest with checksums. The keyset itself is not in the backup: keep the
keys directory (the keyset and its erasure ledger) apart, as the only way to
open it.`, config.Storage|config.Policy, e.stdout)
	output := l.FlagSet().String("output", "", "the backup `file` to write (required; not overwritten)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *output == "" {
		return usageErr("--output is required")
	}
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	m, err := backup.Create(ctx, s.DB, s.Keyring, buildinfo.Read().Version, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*output)
		return err
	}
	rows := 0
	for _, n := range m.Tables {
		rows += n
	}
	if err := s.DB.Transact(ctx, func(tx *db.Tx) error {
		_, err := s.Audit.Append(audit.WithActor(ctx, audit.ActorCLI), tx, audit.Event{Action: "backup.create", Target: "backup:" + m.SealedSHA256[:16],
			Outcome: audit.Success, Details: map[string]any{"rows": rows, "schema_version": m.SchemaVersion, "master_key": m.MasterKeyID}})
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup written to %s: %d rows in %d tables, %d bytes sealed with master key %d, sha256 %s\n",
		*output, rows, len(m.Tables), m.SealedBytes, m.MasterKeyID, m.SealedSHA256)
	return nil
}

func cmdBackupRestore(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("backup restore", `Usage: portico backup restore --input FILE [flags]

Restores a backup into an empty database: a fresh --data-dir (with the keys
directory copied into it, or --master-key-file pointing at it) or an empty
PostgreSQL database. It checks the checksum, refuses a keyset that cannot open
the backup, loads every row, destroys again the data of everyone erased since
the backup (from the erasure ledger next to the keyset) and migrates to this
version's schema.`, config.Storage|config.Policy, e.stdout)
	input := l.FlagSet().String("input", "", "the backup `file` to restore (required)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *input == "" {
		return usageErr("--input is required")
	}
	f, err := os.Open(*input)
	if err != nil {
		return fmt.Errorf("--input: %w", err)
	}
	defer f.Close()
	if _, err := os.Stat(cfg.MasterKeyPath()); err != nil {
		return fmt.Errorf("master keyset %s: %w (copy the keys directory of the installation that made the backup)", cfg.MasterKeyPath(), err)
	}
	if !cfg.UsesPostgres() {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
	}
	d, err := db.Open(ctx, cfg.DBOptions())
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := backup.Restore(ctx, d, cfg.MasterKeyPath(), f)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "restored %d rows from the backup of %s (schema %d); %d erased account(s) destroyed again\n",
		res.Rows, res.Manifest.CreatedAt.UTC().Format(time.RFC3339), res.Manifest.SchemaVersion, res.Erased)
	return nil
}

func cmdDetectReplay(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("detect replay", `Usage: portico detect replay --input FILE [--output FILE] [flags]

Runs the detection rules of the effective policy profile (the same code as
the server) over a log of sign-in attempts and writes the alerts they would
raise. Use it to tune [detection] thresholds on your own history before you
switch them on.

Input: JSON Lines in time order, one attempt per line, with "time" (RFC
3339), "ip", "email", "outcome" ("success" or "failure"), optional "reason"
("bad_password", "unknown_account", "bad_second_factor", "locked") and
optional "user_agent". Other fields are ignored.

Output: JSON Lines, one alert per line, with "time", "rule", "severity",
"emails", "ips", "networks", "summary" and "responses". A summary of the
alerts per rule goes to standard error.`, config.Policy|config.Geo, e.stdout)
	input := l.FlagSet().String("input", "", "read attempts from this `file` (- for standard input)")
	output := l.FlagSet().String("output", "", "write alerts to this `file` instead of standard output (replaced only when the replay succeeds)")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *input == "" {
		return usageErr("--input is required: a file of sign-in attempts, one JSON object per line (see --help)")
	}
	p, err := policy.Load(cfg.Policy, cfg.PolicyFile)
	if err != nil {
		return &config.UsageError{Msg: err.Error()}
	}
	geo, err := app.NewGeo(cfg)
	if err != nil {
		return err
	}
	defer geo.L.Close()
	in := e.stdin
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return fmt.Errorf("--input: %w", err)
		}
		defer f.Close()
		in = f
	}
	out := e.stdout
	var tmp *os.File
	if *output != "" {
		// Written beside the target and renamed at the end: a replay that
		// stops on a bad line leaves no half-written file.
		if tmp, err = os.CreateTemp(filepath.Dir(*output), ".portico-replay-*"); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		out = tmp
	}
	start := time.Now()
	st, err := detect.Replay(in, out, p.Detection, geo)
	if err != nil {
		return fmt.Errorf("--input %s: %w", *input, err)
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), *output); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	fmt.Fprintf(e.stderr, "%d attempts, %d alerts in %s\n", st.Lines, st.Alerts, time.Since(start).Round(time.Millisecond))
	names := make([]string, 0, len(st.ByRule))
	for r := range st.ByRule {
		names = append(names, r)
	}
	slices.Sort(names)
	for _, r := range names {
		fmt.Fprintf(e.stderr, "  %-22s %d\n", r, st.ByRule[r])
	}
	return nil
}
