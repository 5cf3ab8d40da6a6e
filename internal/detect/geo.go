package detect

import (
	"time"

	"github.com/portico/portico/internal/geo"
)

// Places is the Geo of the server and of replays: a city database when the
// operator supplies one (--geoip-city-file), country centroids otherwise.
type Places struct{ L *geo.Locator }

// locate places an address, or a network prefix (as the audit trail
// records clients) by its first address: country data is kept per network
// at least that large.
func (p Places) locate(ip string) (geo.Location, bool) {
	if a, err := addrOf(ip); err == nil {
		ip = a.String()
	}
	return p.L.Locate(ip)
}

// Country implements Geo.
func (p Places) Country(ip string) string {
	loc, ok := p.locate(ip)
	if !ok {
		return ""
	}
	return loc.Country
}

// Travel implements Geo.
func (p Places) Travel(from, to string, dt time.Duration, maxKmh float64) (float64, bool) {
	a, ok1 := p.locate(from)
	b, ok2 := p.locate(to)
	if !ok1 || !ok2 {
		return 0, false
	}
	return geo.Distance(a, b), geo.Impossible(a, b, dt, maxKmh)
}

// TravelFromCountry is Travel from a country known only by its code (a
// past sign-in keeps its country, not its address).
func (p Places) TravelFromCountry(country, to string, dt time.Duration, maxKmh float64) (float64, bool) {
	a, ok1 := geo.Centroid(country)
	b, ok2 := p.locate(to)
	if !ok1 || !ok2 {
		return 0, false
	}
	return geo.Distance(a, b), geo.Impossible(a, b, dt, maxKmh)
}
