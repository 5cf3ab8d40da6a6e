package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/vulncheck"
)

// exitBehind is portico vulncheck's exit status when a module is behind
// its latest version or Go is not current (1 stays "vulnerable").
const exitBehind = 3

// currencyCheck is the --updates part of portico vulncheck: it prints
// the table and the Go line, files the result with --file-findings, and
// returns an *exitError with status 3 when something is behind.
//
// Enforces MTL-4.1.2: the Go version and every module are compared with
// the latest stable releases, and the outdated ones listed.
func currencyCheck(ctx context.Context, e env, cfg config.Config, src vulncheck.Source, file bool, m vulncheck.Modules) error {
	c, err := vulncheck.CheckCurrency(ctx, m, src)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tIN BINARY\tLATEST\tBEHIND")
	for _, mc := range c.Modules {
		latest, behind := mc.Latest, mc.Behind
		switch {
		case latest == "":
			latest, behind = "?", "unknown: "+mc.Note
		case behind == vulncheck.BehindNone:
			behind = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mc.Path, mc.Version, latest, behind)
	}
	fmt.Fprintf(tw, "go\t%s\t%s\t%s\n", orUnknown(c.Go.Version), orUnknown(goLatest(c.Go)), goState(c.Go))
	if err := tw.Flush(); err != nil {
		return err
	}
	if file {
		if err := fileUpdates(ctx, e, cfg, c); err != nil {
			return err
		}
	}
	behind := len(c.Behind())
	summary := fmt.Sprintf("%d of %d modules behind, %d unknown; Go %s %s", behind, len(c.Modules), c.Unknown(), orUnknown(c.Go.Version), goState(c.Go))
	if !c.UpToDate() {
		return &exitError{code: exitBehind, msg: summary}
	}
	fmt.Fprintln(e.stderr, summary)
	return nil
}

func goLatest(g vulncheck.GoCurrency) string {
	if g.Supported && g.Latest != "" {
		return g.Latest
	}
	return g.Newest
}

// goState says where the running Go stands, in a few words.
func goState(g vulncheck.GoCurrency) string {
	lines := strings.Join(g.Lines, ", ")
	switch {
	case g.Current:
		return "current (supported lines: " + lines + ")"
	case g.Supported:
		return "behind: " + g.Latest + " is the latest " + g.Line + " release"
	case g.Version == "" || g.Line == "":
		return "unknown or development version (supported lines: " + lines + ")"
	}
	return "unsupported: " + g.Line + " is not one of the supported lines (" + lines + ")"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// fileUpdates files the currency check's result in the findings register
// and records the run (MTL-4.1.2).
func fileUpdates(ctx context.Context, e env, cfg config.Config, c vulncheck.Currency) error {
	s, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer s.Close()
	filed, err := findings.New(s.DB, s.Audit, s.Profile).FileUpdates(audit.WithActor(ctx, audit.ActorCLI), c)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "findings: %d filed, %d already in the register\n", len(filed.New), filed.Existing)
	return nil
}
