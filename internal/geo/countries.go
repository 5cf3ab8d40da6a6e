package geo

import "math"

//go:generate go run gen_centroids.go -src $FACTBOOK -o centroids_data.go

// countryRow is one line of the generated countryTable.
type countryRow struct {
	code     string
	lat, lon float64
	areaKm2  float64
	borders  string // space-separated ISO codes of land neighbours
}

// country is a countryRow with its uncertainty radius worked out.
type country struct {
	countryRow
	radius float64
}

// Centroid uncertainty. A country centroid says nothing about where in the
// country the address is, so a centroid location carries a radius: that of
// a disc with the country's area, times centroidRadiusFactor because
// countries are rarely round and people rarely live at the centroid
// (Moscow is about 3,700 km from Russia's centroid; Russia's equal-area
// radius is about 2,300 km), and never less than minCentroidRadius, which
// covers a small country's address being registered in its neighbour.
// Examples: US 2,650 km, RU 3,500 km, FR 630 km, GB 420 km, BE 150 km.
const (
	centroidRadiusFactor = 1.5
	minCentroidRadius    = 100 // km
)

// countries is indexed by the two letters of the code, 'A'..'Z' each, so a
// lookup is two subtractions and a bounds check.
var countries [26 * 26]country

func init() {
	for _, r := range countryTable {
		countries[index(r.code)] = country{
			countryRow: r,
			radius:     max(minCentroidRadius, centroidRadiusFactor*math.Sqrt(r.areaKm2/math.Pi)),
		}
	}
}

func index(code string) int {
	return int(code[0]-'A')*26 + int(code[1]-'A')
}

// lookupCountry returns the table row for an ISO 3166-1 alpha-2 code.
func lookupCountry(code string) (country, bool) {
	if validCode(code) == "" {
		return country{}, false
	}
	c := countries[index(code)]
	return c, c.code != ""
}

// CentroidRadius is the uncertainty radius, in km, of the centroid of the
// country with ISO code code, and false for an unknown code.
func CentroidRadius(code string) (float64, bool) {
	c, ok := lookupCountry(code)
	return c.radius, ok
}

// Neighbours reports whether countries a and b share a land border.
func Neighbours(a, b string) bool {
	ca, ok := lookupCountry(a)
	if !ok || validCode(b) == "" {
		return false
	}
	for s := ca.borders; len(s) >= 2; {
		if s[:2] == b {
			return true
		}
		if len(s) == 2 {
			break
		}
		s = s[3:]
	}
	return false
}
