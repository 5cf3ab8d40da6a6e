package vulncheck

import (
	"math"
	"strings"
)

// severity grades an advisory critical, high, medium or low: from its
// database_specific.severity when the database gives one (GitHub's
// CRITICAL, HIGH, MODERATE, LOW), else from a CVSS v3 base vector, else
// "" (ungraded: the Go database grades nothing).
func severity(e *entry) string {
	if e.DatabaseSpecific != nil {
		switch strings.ToLower(strings.TrimSpace(e.DatabaseSpecific.Severity)) {
		case "critical":
			return "critical"
		case "high":
			return "high"
		case "moderate", "medium":
			return "medium"
		case "low":
			return "low"
		}
	}
	for _, s := range e.Severity {
		if s.Type != "CVSS_V3" {
			continue
		}
		if score, ok := cvss3(s.Score); ok {
			switch {
			case score >= 9:
				return "critical"
			case score >= 7:
				return "high"
			case score >= 4:
				return "medium"
			default:
				return "low"
			}
		}
	}
	return ""
}

// cvss3 computes the base score of a CVSS v3.0 or v3.1 vector
// ("CVSS:3.1/AV:N/AC:L/..."), as the specification's formula does.
func cvss3(vector string) (float64, bool) {
	parts := strings.Split(vector, "/")
	if len(parts) < 9 || !strings.HasPrefix(parts[0], "CVSS:3") {
		return 0, false
	}
	m := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return 0, false
		}
		m[k] = v
	}
	weight := func(metric string, w map[string]float64) (float64, bool) {
		x, ok := w[m[metric]]
		return x, ok
	}
	changed := m["S"] == "C"
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	if changed {
		pr = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
	}
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	av, ok1 := weight("AV", map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2})
	ac, ok2 := weight("AC", map[string]float64{"L": 0.77, "H": 0.44})
	p, ok3 := weight("PR", pr)
	ui, ok4 := weight("UI", map[string]float64{"N": 0.85, "R": 0.62})
	c, ok5 := weight("C", cia)
	i, ok6 := weight("I", cia)
	a, ok7 := weight("A", cia)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || (m["S"] != "U" && !changed) {
		return 0, false
	}
	iss := 1 - (1-c)*(1-i)*(1-a)
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	if impact <= 0 {
		return 0, true
	}
	exploit := 8.22 * av * ac * p * ui
	base := impact + exploit
	if changed {
		base *= 1.08
	}
	return roundUp(math.Min(base, 10)), true
}

// roundUp rounds up to one decimal, as CVSS v3.1 defines it.
func roundUp(x float64) float64 {
	n := int(math.Round(x * 100000))
	if n%10000 == 0 {
		return float64(n) / 100000
	}
	return (math.Floor(float64(n)/10000) + 1) / 10
}
