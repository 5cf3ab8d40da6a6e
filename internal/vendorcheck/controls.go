package vendorcheck

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of the vendor endpoint check, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		// Enforces CP-10.2: each vendor endpoint's TLS, certificate, HSTS
		// and security.txt are checked against the live endpoint.
		{Clause: "CP-10.2", Name: "vendorcheck.endpoint",
			Description: "Each vendor endpoint's TLS, certificate, HSTS and security.txt are checked against the live endpoint: reachable within a timeout, TLS 1.2 or 1.3 with an AEAD suite with forward secrecy (older versions are negotiated to be seen, and fail), the chain verified for the host, days to expiry (warned ahead), HSTS with max-age of at least a year and an RFC 9116 security.txt with a contact; an item that got worse since the previous check is named.",
			Test:        "internal/vendorcheck: TestCheckEndpoints"},
	}
}
