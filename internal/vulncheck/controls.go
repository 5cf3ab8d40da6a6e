package vulncheck

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of vulnerability checking, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		// Enforces MTL-4.1.2: known vulnerabilities are found in the
		// modules actually built into the binary.
		{Clause: "MTL-4.1.2", Name: "vulncheck.osv-offline",
			Description: "Vulnerable modules are found from the running binary's build info (its Go version for the standard library, and each module, as replaced) against an offline OSV database: SEMVER ranges (introduced inclusive, fixed exclusive, last_affected inclusive) and listed versions; other ecosystems and withdrawn advisories are ignored; each hit names the advisory, its aliases, the installed and the fixed version.",
			Test:        "internal/vulncheck: TestMatchOSV"},
		// Enforces MTL-4.1.2: the binary runs the latest stable releases,
		// or the ones behind are known.
		{Clause: "MTL-4.1.2", Name: "vulncheck.currency",
			Description: "The Go version and every module of the running binary (as replaced) are compared with the latest stable releases, from a Go module proxy and the Go release list or from saved files (go list -m -u -json all, go.dev/dl/?mode=json): each module is current, behind by a major, minor or patch version or a pre-release, or unknown; a pre-release is never the latest of a stable module, nor a retracted version; Go is current only at the latest patch of one of the two newest release lines. Outdated ones are listed on the inventory page and filed as findings (portico vulncheck --updates --file-findings).",
			Test:        "internal/vulncheck: TestCurrency"},
	}
}
