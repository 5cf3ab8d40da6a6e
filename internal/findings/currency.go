package findings

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/vulncheck"
)

// ComponentGo is the component of a finding about the Go version itself.
const ComponentGo = "go"

// outdatedPrefix starts the source ID of a currency finding:
// "outdated:<module>@<latest>".
const outdatedPrefix = "outdated:"

// maxOutdatedRecorded bounds the modules behind that a currency run
// records in its audit event (the event's details are at most 8 KiB).
const (
	maxOutdatedRecorded = 40
	maxOutdatedBytes    = 5 << 10
)

// FileUpdates files the result of a currency check (source vulncheck,
// source ID "outdated:<module>@<latest>", component the module): a low
// finding per module behind by a major or minor version, and a medium
// one when Go is not the latest patch of a supported release line (or
// its line is no longer supported; source ID "outdated:go@<latest>",
// component "go"). A module (or Go) with a currency finding that is not
// resolved gets no second one, even once a newer version has come out:
// the first still says it is behind. Modules behind by a patch or a
// pre-release are listed, not filed. The run is audited
// (vulncheck.updates) with its counts and the modules behind, bounded,
// in the same transaction.
//
// Enforces MTL-4.1.2: outdated modules and an outdated Go become
// findings, each with a remediation deadline.
func (s *Service) FileUpdates(ctx context.Context, c vulncheck.Currency) (Filed, error) {
	type filing struct{ component, latest, severity, title, text string }
	var todo []filing
	for _, m := range c.Behind() {
		if m.Behind != vulncheck.BehindMajor && m.Behind != vulncheck.BehindMinor {
			continue
		}
		todo = append(todo, filing{m.Path, m.Latest, "low",
			fmt.Sprintf("%s %s is behind its latest version %s (%s)", m.Path, m.Version, m.Latest, m.Behind),
			fmt.Sprintf("The currency check found module %s at %s in the running binary; its latest stable version is %s, a %s version ahead.\n\nUpgrade it (go get %s@%s), run the tests and rebuild.",
				m.Path, m.Version, m.Latest, m.Behind, m.Path, m.Latest)})
	}
	if g := c.Go; !g.Current {
		todo = append(todo, filing{ComponentGo, goTarget(g), "medium", goTitle(g), goText(g)})
	}
	var out Filed
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		out = Filed{}
		by := audit.ActorFrom(ctx)
		if by == "" {
			by = audit.ActorSystem
		}
		for _, f := range todo {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM findings WHERE source_kind = 'vulncheck' AND component = $1
				AND substr(source_id, 1, 9) = $2 AND status <> 'resolved'`, f.component, outdatedPrefix).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				out.Existing++
				continue
			}
			nf, err := s.File(ctx, tx, NewFinding{SourceKind: SourceVulncheck, SourceID: truncate(outdatedPrefix+f.component+"@"+f.latest, maxSourceID),
				Title: truncate(f.title, MaxTitle), Description: truncate(f.text, MaxDescription), Severity: f.severity,
				Component: truncate(f.component, MaxComponent), By: by})
			if err != nil {
				return err
			}
			out.New = append(out.New, nf)
		}
		details := map[string]any{"go": c.Go.Version, "go_latest": c.Go.Latest, "go_newest": c.Go.Newest,
			"go_supported": c.Go.Supported, "go_current": c.Go.Current, "modules": len(c.Modules),
			"behind": len(c.Behind()), "unknown": c.Unknown(), "filed": len(out.New)}
		var outdated []string
		size := 0
		for _, m := range c.Behind() {
			line := m.Path + " " + m.Version + " " + m.Latest + " " + m.Behind
			if len(outdated) == maxOutdatedRecorded || size+len(line) > maxOutdatedBytes {
				details["outdated_truncated"] = true
				break
			}
			outdated, size = append(outdated, line), size+len(line)+3
		}
		details["outdated"] = outdated
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "vulncheck.updates", Target: "binary", Outcome: audit.Success, Details: details})
		return err
	})
	return out, err
}

// goTarget is the Go version to move to: the latest of the running
// line when it is supported, else the newest release.
func goTarget(g vulncheck.GoCurrency) string {
	if g.Supported && g.Latest != "" {
		return g.Latest
	}
	if g.Newest != "" {
		return g.Newest
	}
	return "unknown"
}

func goTitle(g vulncheck.GoCurrency) string {
	v := g.Version
	if v == "" {
		v = "an unknown Go version"
	}
	if g.Supported {
		return fmt.Sprintf("Built with %s, behind the latest %s release %s", v, g.Line, goTarget(g))
	}
	return fmt.Sprintf("Built with %s, a Go release no longer supported (newest %s)", v, goTarget(g))
}

func goText(g vulncheck.GoCurrency) string {
	var b strings.Builder
	b.WriteString("The currency check found the running binary built with " + g.Version + ". ")
	if g.Supported {
		b.WriteString("The latest patch release of " + g.Line + " is " + g.Latest + "; patch releases carry security fixes.\n\n")
	} else {
		b.WriteString("The Go team supports only the two newest release lines")
		if len(g.Lines) > 0 {
			b.WriteString(" (" + strings.Join(g.Lines, ", ") + ")")
		}
		b.WriteString(", and this is not one of them, or the version could not be read.\n\n")
	}
	b.WriteString("Rebuild with Go " + goTarget(g) + " and run the tests.")
	return b.String()
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// Outdated is a module behind its latest version at a currency check.
type Outdated struct {
	Path, Version, Latest, Behind string
}

// LastUpdates is the last currency check recorded.
type LastUpdates struct {
	At                       time.Time
	GoVersion, GoLatest      string
	GoNewest                 string
	GoSupported, GoCurrent   bool
	Modules, Behind, Unknown int
	Filed                    int
	Outdated                 []Outdated // the modules behind, as many as the run recorded
	Truncated                bool       // the run had more modules behind than it recorded
}

// LastCurrency returns the last currency check recorded
// (vulncheck.updates in the audit trail), and false when none was.
func (s *Service) LastCurrency(ctx context.Context) (LastUpdates, bool, error) {
	recs, err := s.audit.Search(ctx, audit.Filter{Action: "vulncheck.updates", Limit: 1})
	if err != nil || len(recs) == 0 {
		return LastUpdates{}, false, err
	}
	var d struct {
		Go                       string
		GoLatest                 string `json:"go_latest"`
		GoNewest                 string `json:"go_newest"`
		GoSupported              bool   `json:"go_supported"`
		GoCurrent                bool   `json:"go_current"`
		Modules, Behind, Unknown int
		Filed                    int
		Outdated                 []string
		OutdatedTruncated        bool `json:"outdated_truncated"`
	}
	if err := json.Unmarshal(recs[0].Details, &d); err != nil {
		return LastUpdates{}, false, err
	}
	at, err := time.Parse(time.RFC3339Nano, recs[0].At)
	if err != nil {
		return LastUpdates{}, false, err
	}
	out := LastUpdates{At: at, GoVersion: d.Go, GoLatest: d.GoLatest, GoNewest: d.GoNewest, GoSupported: d.GoSupported, GoCurrent: d.GoCurrent,
		Modules: d.Modules, Behind: d.Behind, Unknown: d.Unknown, Filed: d.Filed, Truncated: d.OutdatedTruncated}
	for _, line := range d.Outdated {
		if f := strings.Fields(line); len(f) == 4 {
			out.Outdated = append(out.Outdated, Outdated{Path: f[0], Version: f[1], Latest: f[2], Behind: f[3]})
		}
	}
	return out, true, nil
}

// LatestAt returns the latest version the check recorded for the module
// at path in version, "" when it recorded none (it was current, or not
// recorded).
func (l LastUpdates) LatestAt(path, version string) string {
	for _, o := range l.Outdated {
		if o.Path == path && o.Version == version {
			return o.Latest
		}
	}
	return ""
}
