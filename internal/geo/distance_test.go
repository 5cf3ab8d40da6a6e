package geo

import (
	"math"
	"testing"
	"time"
)

var (
	paris   = Location{Country: "FR", Lat: 48.8566, Lon: 2.3522, City: true, Radius: 10}
	london  = Location{Country: "GB", Lat: 51.5074, Lon: -0.1278, City: true, Radius: 10}
	newYork = Location{Country: "US", Lat: 40.7128, Lon: -74.0060, City: true, Radius: 10}
	la      = Location{Country: "US", Lat: 34.0522, Lon: -118.2437, City: true, Radius: 10}
)

func centroid(t *testing.T, code string) Location {
	t.Helper()
	l, ok := countryLocation(code)
	if !ok {
		t.Fatalf("no centroid for %s", code)
	}
	return l
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Location
		want float64 // km
		tol  float64
	}{
		{"Paris to London", paris, london, 343.9, 1},
		{"New York to Los Angeles", newYork, la, 3940, 5},
		{"London to New York", london, newYork, 5570, 5},
		{"same point", paris, paris, 0, 0},
		{"antipodes", Location{Lat: 0, Lon: 0}, Location{Lat: 0, Lon: 180}, math.Pi * EarthRadius, 1e-6},
		{"pole to pole", Location{Lat: 90}, Location{Lat: -90}, math.Pi * EarthRadius, 1e-6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Distance(tc.a, tc.b); math.Abs(got-tc.want) > tc.tol {
				t.Errorf("Distance = %.3f km, want %.3f ± %v", got, tc.want, tc.tol)
			}
			if got, back := Distance(tc.a, tc.b), Distance(tc.b, tc.a); math.Abs(got-back) > 1e-9 {
				t.Errorf("not symmetric: %v vs %v", got, back)
			}
		})
	}
}

func TestSpeed(t *testing.T) {
	d := Distance(london, newYork)
	for _, tc := range []struct {
		name string
		a, b Location
		dt   time.Duration
		want float64
	}{
		{"distance over hours", london, newYork, 7 * time.Hour, d / 7},
		{"negative dt counts as positive", london, newYork, -7 * time.Hour, d / 7},
		{"no time is infinitely fast", london, newYork, 0, math.Inf(1)},
		{"no distance is no speed", paris, paris, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Speed(tc.a, tc.b, tc.dt); got != tc.want && math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Speed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestImpossible(t *testing.T) {
	const maxKmh = 1000
	cityLA := la
	cityLA.Radius = 500 // a coarse accuracy radius
	tokyo := Location{Country: "JP", Lat: 35.68, Lon: 139.69, City: true, Radius: 10}
	coarseTokyo := tokyo
	coarseTokyo.Radius = 500
	for _, tc := range []struct {
		name string
		a, b Location
		dt   time.Duration
		want bool
	}{
		{"London to New York in an hour is impossible", london, newYork, time.Hour, true},
		{"London to New York in eight hours is possible", london, newYork, 8 * time.Hour, false},
		{"Paris to London in a minute is impossible", paris, london, time.Minute, true},
		{"two places at the same moment is impossible", london, newYork, 0, true},
		{"order of sign-ins does not matter", newYork, london, -time.Hour, true},
		{"same country is never impossible", newYork, la, time.Minute, false},
		{"same country centroid is never impossible", centroid(t, "US"), newYork, 0, false},
		{"neighbours are never impossible", centroid(t, "FR"), centroid(t, "DE"), time.Minute, false},
		{"neighbour cities are never impossible", paris, Location{Country: "DE", Lat: 52.52, Lon: 13.405, City: true}, time.Minute, false},
		{"centroids under 500 km apart are never impossible", centroid(t, "BH"), centroid(t, "QA"), time.Minute, false},
		{"US centroid to UK centroid in two hours is impossible", centroid(t, "US"), centroid(t, "GB"), 2 * time.Hour, true},
		{"Russia's centroid is far from Moscow: Russia to Germany in three hours is possible", centroid(t, "RU"), centroid(t, "DE"), 3 * time.Hour, false},
		{"Russia to Germany in ten minutes is impossible", centroid(t, "RU"), centroid(t, "DE"), 10 * time.Minute, true},
		{"Los Angeles to Tokyo in 8.5 hours is too fast for precise locations", la, tokyo, 8*time.Hour + 30*time.Minute, true},
		{"but not once their accuracy radii are subtracted", cityLA, coarseTokyo, 8*time.Hour + 30*time.Minute, false},
		{"unknown countries use distance alone", Location{Lat: 0, Lon: 0}, Location{Lat: 0, Lon: 90}, time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Impossible(tc.a, tc.b, tc.dt, maxKmh); got != tc.want {
				t.Errorf("Impossible = %v, want %v (distance %.0f km, radii %.0f + %.0f)", got, tc.want, Distance(tc.a, tc.b), tc.a.Radius, tc.b.Radius)
			}
		})
	}
}
