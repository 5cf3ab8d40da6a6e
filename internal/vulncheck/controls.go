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
	}
}
