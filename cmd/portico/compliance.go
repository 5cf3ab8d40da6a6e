package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
)

// cmdComplianceReport writes the live compliance report offline: the same
// content as /admin/compliance, as HTML, JSON or PDF.
//
// Enforces MTL-7.2: the report offline, the same content as the page.
func cmdComplianceReport(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("compliance report", `Usage: portico compliance report [--format html|json|pdf] [--output FILE] [--take-evidence] [flags]

Writes the compliance report: every clause of both policies with its status,
the controls that enforce it and their tests, the live evidence and its
history, from the latest evidence run (the server takes the evidence every
governance.evidence_interval). With --take-evidence the evidence is taken
first, here and now: the audit chain is walked whole, and the TLS check
connects to --addr as a client would. A PDF goes to a file (--output), not
to a terminal. The file is created 0600 and never overwritten.`, config.Storage|config.Policy|config.Server, e.stdout)
	format := l.FlagSet().String("format", "html", "`html`, json or pdf")
	output := l.FlagSet().String("output", "", "write to this `file` (created 0600) instead of standard output")
	take := l.FlagSet().Bool("take-evidence", false, "take the evidence of every clause now, before writing the report")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	var write func(compliance.Report, io.Writer) error
	switch *format {
	case "html":
		write = compliance.Report.WriteHTML
	case "json":
		write = compliance.Report.WriteJSON
	case "pdf":
		write = compliance.Report.WritePDF
		if *output == "" && isTerminal(e.stdout) {
			return usageErr("--format pdf: a PDF is not for the terminal; give --output FILE")
		}
	default:
		return usageErr("--format %q: want html, json or pdf", *format)
	}
	c, err := app.OpenCompliance(ctx, cfg, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer c.Close()
	if *take {
		run, err := c.Service.TakeEvidence(ctx, compliance.FromCLI, audit.ActorCLI)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "evidence taken (run %s): %d passed, %d warned, %d failed\n", run.ID, run.Passed, run.Warned, run.Failed)
	}
	rep, err := c.Service.Report(ctx, 0)
	if err != nil {
		return err
	}
	// The whole report first: an error leaves no half-written file.
	var b bytes.Buffer
	if err := write(rep, &b); err != nil {
		return err
	}
	run := ""
	if rep.Run != nil {
		run = rep.Run.ID
	}
	// Enforces MTL-7.2, CP-5.3: the report says where each control is
	// weak; its copies are in the trail, as the page's downloads are.
	if _, err := c.Storage.Audit.Record(ctx, audit.Event{
		Actor: audit.ActorCLI, Action: "compliance.report.download", Target: "compliance:report", Outcome: audit.Success,
		Details: map[string]any{"format": *format, "run": run, "clauses": rep.Counts.All, "via": "cli"},
	}); err != nil {
		return err
	}
	if *output == "" {
		_, err := e.stdout.Write(b.Bytes())
		return err
	}
	f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--output %s: %w", *output, err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		os.Remove(*output)
		return fmt.Errorf("--output %s: %w", *output, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
