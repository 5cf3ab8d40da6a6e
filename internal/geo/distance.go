package geo

import (
	"math"
	"time"
)

// EarthRadius is the mean radius of the Earth in km (IUGG).
const EarthRadius = 6371.0088

// Distance is the great-circle distance between a and b in km, by the
// haversine formula on a sphere of radius EarthRadius.
func Distance(a, b Location) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := a.Lat*rad, b.Lat*rad
	dφ, dλ := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * EarthRadius * math.Asin(math.Sqrt(min(1, h)))
}

// Speed is the speed in km/h needed to go from a to b in dt, ignoring the
// sign of dt. It is +Inf for a positive distance covered in no time, and 0
// for no distance.
func Speed(a, b Location, dt time.Duration) float64 {
	return speed(Distance(a, b), dt)
}

func speed(km float64, dt time.Duration) float64 {
	if km <= 0 {
		return 0
	}
	h := math.Abs(dt.Hours())
	if h == 0 {
		return math.Inf(1)
	}
	return km / h
}

// NearbyKm is the distance between two country centroids under which the
// countries count as near enough for any trip between them to be
// possible: centroids are too coarse to tell such trips apart.
const NearbyKm = 500

// Impossible reports whether someone could not have been at a and then at
// b, dt apart, travelling at no more than maxKmh (an airliner cruises at
// about 900 km/h; 1,000 is a common threshold). It leans towards possible
// whenever the locations are too coarse to tell:
//
//   - the same country, or two countries sharing a land border, is never
//     impossible;
//   - two countries whose centroids are less than NearbyKm apart is never
//     impossible;
//   - otherwise both locations' Radius (the database's accuracy radius for
//     a city, CentroidRadius for a country centroid) is subtracted from the
//     distance before the speed is worked out, so a trip is impossible only
//     if even its shortest plausible distance is too fast.
//
// A Location with no Country skips the first two rules. The sign of dt is
// ignored.
func Impossible(a, b Location, dt time.Duration, maxKmh float64) bool {
	if a.Country != "" && b.Country != "" {
		if a.Country == b.Country || Neighbours(a.Country, b.Country) {
			return false
		}
		ca, okA := countryLocation(a.Country)
		cb, okB := countryLocation(b.Country)
		if okA && okB && Distance(ca, cb) < NearbyKm {
			return false
		}
	}
	return speed(Distance(a, b)-a.Radius-b.Radius, dt) > maxKmh
}
