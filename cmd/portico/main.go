// Command portico is the Portico customer portal: one binary that serves
// the portal and administers its data.
//
//	portico serve                 run the HTTPS server (zero configuration)
//	portico migrate               apply database migrations
//	portico version               print the version
//	portico policy show           print the effective policy profile
//	portico keys rotate           add a master key and re-wrap all data keys
//	portico audit verify          check the audit hash chain
//	portico audit export          write audit events as JSON Lines
//	portico user create           create an account
//	portico user disable|enable   disable (ending its sessions) or enable an account
//	portico user require-password-change   force a password change at next sign-in
//	portico user record-training           record a staff member's security-awareness training
//	portico retention run [--dry-run]      run the retention purge now
//	portico backup create|restore          encrypted backups and their restore
//	portico mail undelivered      list mail that has not been delivered
//	portico detect replay         run the detection rules over a log of sign-in attempts
//	portico compliance report     the live compliance report as HTML, JSON or PDF
//	portico compliance bundle     write the signed evidence bundle (--output FILE)
//	portico compliance verify     check an evidence bundle offline (--chain: and the audit chain)
//	portico compliance rotate-key rotate the key that signs evidence bundles
//
// Exit status: 0 success, 1 failure, 2 bad usage (unknown command, flag or
// value), with a one-line message on standard error; portico vulncheck
// exits 1 when an advisory matches and 3 when, with --updates, a module or
// Go is behind its latest release.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv}))
}

// env is the program's outside world, replaced in tests.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) (string, bool)
}

// command is one subcommand.
type command struct {
	name  string // "serve", "audit verify", ...
	brief string
	run   func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTPS server", cmdServe},
		{"migrate", "apply database migrations", cmdMigrate},
		{"version", "print the version (--modules: and the compiled-in modules)", cmdVersion},
		{"vulncheck", "match the compiled-in modules against an offline OSV database; --updates: are they current?", cmdVulncheck},
		{"policy show", "print the effective policy profile", cmdPolicyShow},
		{"keys rotate", "add a new primary master key and re-wrap all data keys", cmdKeysRotate},
		{"audit verify", "check the audit trail's hash chain", cmdAuditVerify},
		{"audit export", "write audit events as JSON Lines (for a SIEM)", cmdAuditExport},
		{"user create", "create an account (staff or customer)", cmdUserCreate},
		{"user disable", "disable an account and end all of its sessions", cmdUserDisable},
		{"user enable", "enable a disabled account", cmdUserEnable},
		{"user require-password-change", "make an account change its password at its next sign-in", cmdUserRequirePasswordChange},
		{"user record-training", "record a staff member's security-awareness training", cmdUserRecordTraining},
		{"retention run", "run the retention purge now (--dry-run counts only)", cmdRetentionRun},
		{"backup create", "write an encrypted, consistent backup while the server runs", cmdBackupCreate},
		{"backup restore", "restore a backup into an empty database", cmdBackupRestore},
		{"mail undelivered", "list mail waiting in the outbox or failed (no addresses or texts)", cmdMailUndelivered},
		{"detect replay", "run the detection rules over a log of sign-in attempts and write the alerts", cmdDetectReplay},
		{"compliance report", "write the live compliance report (--format html|json|pdf; --take-evidence first)", cmdComplianceReport},
		{"compliance bundle", "write the signed evidence bundle an auditor verifies offline", cmdComplianceBundle},
		{"compliance verify", "check an evidence bundle's signatures and digests (--chain: and the audit chain)", cmdComplianceVerify},
		{"compliance rotate-key", "make a new key to sign evidence bundles, keeping the old one published", cmdComplianceRotateKey},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Portico: a self-hosted customer portal whose security policy is code.")
	fmt.Fprintln(w, "\nUsage: portico <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.brief)
	}
	fmt.Fprintln(w, "\nRun `portico <command> --help` for a command's flags.")
}

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// run dispatches to a command and turns its error into a one-line message
// and an exit status.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	rest := args
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			cmd, rest = &c, args[len(words):]
			break
		}
	}
	if cmd == nil {
		// A known group without a subcommand ("portico audit").
		known := ""
		for _, c := range commands() {
			if strings.HasPrefix(c.name, args[0]+" ") {
				known += " " + strings.TrimPrefix(c.name, args[0]+" ")
			}
		}
		if known != "" {
			fmt.Fprintf(e.stderr, "portico %s: want a subcommand:%s\n", args[0], known)
		} else {
			fmt.Fprintf(e.stderr, "portico: unknown command %q (run `portico --help`)\n", args[0])
		}
		return 2
	}
	err := cmd.run(ctx, e, rest)
	if err == nil || errors.Is(err, config.ErrHelp) {
		return 0
	}
	var ue *config.UsageError
	var xe *exitError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "portico %s: %s\n", cmd.name, oneLine(ue.Msg))
		return 2
	case errors.As(err, &xe):
		fmt.Fprintf(e.stderr, "portico %s: %s\n", cmd.name, oneLine(xe.msg))
		return xe.code
	case apperr.MessageOf(err) != "":
		// A domain error written for people: show its message alone. Bad
		// input is a usage error (2); a clash with existing data is 1.
		fmt.Fprintf(e.stderr, "portico %s: %s\n", cmd.name, oneLine(apperr.MessageOf(err)))
		if apperr.CodeOf(err) == apperr.Invalid {
			return 2
		}
		return 1
	}
	fmt.Fprintf(e.stderr, "portico %s: %s\n", cmd.name, oneLine(err.Error()))
	return 1
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
