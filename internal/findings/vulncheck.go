package findings

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/vulncheck"
)

// Filed is what FileVulns did with a check's result.
type Filed struct {
	New      []Finding // filed now
	Existing int       // already in the register and not resolved
}

// FileVulns files one finding per vulnerable module and advisory of a
// check (source vulncheck, source ID the advisory's ID, component the
// module), graded by the advisory's own severity or high when it has
// none, unless one for the same advisory and module is in the register
// and not resolved (open, in progress, or an accepted risk). A module
// vulnerable again after its finding was resolved is filed anew. The run
// itself is audited (vulncheck.run) with what it found, in the same
// transaction.
//
// Enforces MTL-4.1.2: known vulnerabilities of the running binary become
// findings, each with an owner-to-be and a remediation deadline.
func (s *Service) FileVulns(ctx context.Context, res vulncheck.Result, m vulncheck.Modules) (Filed, error) {
	var out Filed
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		out = Filed{}
		by := audit.ActorFrom(ctx)
		if by == "" {
			by = audit.ActorSystem
		}
		for _, v := range res.Vulns {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM findings WHERE source_kind = 'vulncheck' AND source_id = $1
				AND component = $2 AND status <> 'resolved'`, v.ID, v.Module).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				out.Existing++
				continue
			}
			sev := v.Severity
			if sev == "" {
				sev = "high"
			}
			f, err := s.File(ctx, tx, NewFinding{SourceKind: SourceVulncheck, SourceID: v.ID, Title: vulnTitle(v),
				Description: vulnText(v), Severity: sev, Component: v.Module, By: by})
			if err != nil {
				return err
			}
			out.New = append(out.New, f)
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "vulncheck.run", Target: "binary", Outcome: audit.Success,
			Details: map[string]any{"go": m.GoVersion, "modules": len(m.Deps), "vulnerable": len(res.Vulns), "filed": len(out.New)}})
		return err
	})
	return out, err
}

// vulnTitle is a finding's title for an advisory.
func vulnTitle(v vulncheck.Vuln) string {
	t := v.ID + " in " + v.Module + " " + v.Installed
	if v.Summary != "" {
		t += ": " + v.Summary
	}
	if r := []rune(t); len(r) > MaxTitle {
		t = string(r[:MaxTitle-1]) + "…"
	}
	return t
}

// vulnText is a finding's description for an advisory.
func vulnText(v vulncheck.Vuln) string {
	var b strings.Builder
	b.WriteString("The OSV check found advisory " + v.ID)
	if len(v.Aliases) > 0 {
		b.WriteString(" (" + strings.Join(v.Aliases, ", ") + ")")
	}
	b.WriteString(" affecting " + v.Module + " " + v.Installed + " in the running binary.\n\n")
	if v.Summary != "" {
		b.WriteString(v.Summary + "\n\n")
	}
	if v.Fixed != "" {
		b.WriteString("Fixed in " + v.Fixed + ": upgrade and rebuild.\n")
	} else {
		b.WriteString("No fixed version is known.\n")
	}
	if len(v.Packages) > 0 {
		b.WriteString("\nAffected packages: " + strings.Join(v.Packages, ", ") + ".\n")
	}
	if len([]rune(b.String())) > MaxDescription {
		return string([]rune(b.String())[:MaxDescription])
	}
	return b.String()
}

// LastCheck is the last time the OSV check filed its result.
type LastCheck struct {
	At                  time.Time
	GoVersion           string
	Modules, Vulnerable int
	Filed               int
}

// LastVulncheck returns the last OSV check recorded (vulncheck.run in
// the audit trail), and false when none was.
func (s *Service) LastVulncheck(ctx context.Context) (LastCheck, bool, error) {
	recs, err := s.audit.Search(ctx, audit.Filter{Action: "vulncheck.run", Limit: 1})
	if err != nil || len(recs) == 0 {
		return LastCheck{}, false, err
	}
	var d struct {
		Go                         string
		Modules, Vulnerable, Filed int
	}
	if err := json.Unmarshal(recs[0].Details, &d); err != nil {
		return LastCheck{}, false, err
	}
	at, err := time.Parse(time.RFC3339Nano, recs[0].At)
	if err != nil {
		return LastCheck{}, false, err
	}
	return LastCheck{At: at, GoVersion: d.Go, Modules: d.Modules, Vulnerable: d.Vulnerable, Filed: d.Filed}, true, nil
}
