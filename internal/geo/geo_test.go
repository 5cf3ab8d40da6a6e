package geo

import (
	"math"
	"net/netip"
	"testing"

	"github.com/phuslu/iploc"
)

func TestLocateCentroid(t *testing.T) {
	l, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	t.Run("places a public address at its country's centroid", func(t *testing.T) {
		for _, ip := range []string{"8.8.8.8", "8.8.8.8:443", "[2001:4860:4860::8888]:443", "2001:4860:4860::8888", "::ffff:8.8.8.8"} {
			loc, ok := l.Locate(ip)
			if !ok {
				t.Fatalf("Locate(%q) = false", ip)
			}
			want, _ := countryLocation("US")
			if loc != want || loc.City {
				t.Errorf("Locate(%q) = %+v, want US centroid %+v", ip, loc, want)
			}
		}
	})

	t.Run("agrees with iploc", func(t *testing.T) {
		for _, ip := range []string{"1.1.1.1", "81.2.69.142", "133.1.1.1", "200.160.2.3", "41.0.0.1", "2a00:1450:4001::1"} {
			code := iploc.IPCountry(netip.MustParseAddr(ip))
			loc, ok := l.Locate(ip)
			if !ok || loc.Country != code || loc.City {
				t.Errorf("Locate(%q) = %+v, %v; iploc says %s", ip, loc, ok, code)
			}
		}
	})

	t.Run("refuses non-public and unparsable addresses", func(t *testing.T) {
		for _, ip := range []string{
			"", "not an ip", "8.8.8", "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "::1",
			"0.0.0.0", "::", "169.254.1.1", "fe80::1", "fe80::1%eth0", "224.0.0.1", "ff02::1",
			"100.64.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.7", "198.18.0.1", "240.0.0.1",
			"2001:db8::1", "fc00::1", "::ffff:10.0.0.1", "64:ff9b::808:808",
		} {
			if loc, ok := l.Locate(ip); ok {
				t.Errorf("Locate(%q) = %+v, true; want false", ip, loc)
			}
		}
	})
}

// TestEveryIplocCountryHasCentroid walks one IPv4 address per /20 and one
// IPv6 address per /24 of 2000::/4 and checks that every country iploc
// names for them has a row in the table.
func TestEveryIplocCountryHasCentroid(t *testing.T) {
	seen := map[string]string{}
	for i := range 1 << 20 {
		a := netip.AddrFrom4([4]byte{byte(i >> 12), byte(i >> 4), byte(i<<4) | 1, 1})
		if c := iploc.IPCountry(a); c != "ZZ" {
			seen[c] = a.String()
		}
	}
	for i := range 1 << 20 >> 4 {
		var b [16]byte
		b[0], b[1], b[2] = 0x20|byte(i>>12)&0x0f, byte(i>>4), byte(i<<4)
		b[15] = 1
		a := netip.AddrFrom16(b)
		if c := iploc.IPCountry(a); c != "ZZ" && c != "" {
			seen[c] = a.String()
		}
	}
	if len(seen) < 220 {
		t.Fatalf("sample found only %d countries; the walk is broken", len(seen))
	}
	for c, ip := range seen {
		if _, ok := lookupCountry(c); !ok {
			t.Errorf("no centroid for %s (from %s)", c, ip)
		}
	}
}

func TestCentroidSpotChecks(t *testing.T) {
	for _, tc := range []struct {
		code     string
		lat, lon float64
	}{
		{"FR", 46, 2},    // metropolitan France, not the overseas regions
		{"AU", -25, 134}, // the continent's middle
		{"US", 39, -98},  // Kansas
		{"JP", 36, 138},  // Honshu
		{"GF", 4, -53},   // French Guiana, from France's profile
		{"BR", -10, -55},
		{"RU", 60, 100},
	} {
		loc, ok := countryLocation(tc.code)
		if !ok {
			t.Errorf("%s: no centroid", tc.code)
			continue
		}
		if math.Abs(loc.Lat-tc.lat) > 3 || math.Abs(loc.Lon-tc.lon) > 3 {
			t.Errorf("%s centroid = %.2f,%.2f; want near %v,%v", tc.code, loc.Lat, loc.Lon, tc.lat, tc.lon)
		}
	}
}

func TestCountryTable(t *testing.T) {
	codes := map[string]bool{}
	for _, r := range countryTable {
		if validCode(r.code) == "" || codes[r.code] {
			t.Errorf("bad or duplicate code %q", r.code)
		}
		codes[r.code] = true
		if r.lat < -90 || r.lat > 90 || r.lon < -180 || r.lon > 180 || r.areaKm2 <= 0 {
			t.Errorf("%s: bad row %+v", r.code, r)
		}
	}
	t.Run("neighbours are symmetric", func(t *testing.T) {
		for _, r := range countryTable {
			for i := 0; i+2 <= len(r.borders); i += 3 {
				b := r.borders[i : i+2]
				if !Neighbours(b, r.code) {
					t.Errorf("%s borders %s but not the other way", r.code, b)
				}
			}
		}
	})
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"FR", "DE", true}, {"DE", "FR", true}, {"FR", "ES", true}, {"US", "CA", true}, {"US", "MX", true},
		{"CN", "RU", true}, {"GF", "BR", true}, {"ZW", "ZM", true}, {"PL", "RU", true},
		{"FR", "GB", false}, {"US", "RU", false}, {"FR", "FR", false}, {"FR", "", false}, {"XX", "FR", false},
	} {
		if got := Neighbours(tc.a, tc.b); got != tc.want {
			t.Errorf("Neighbours(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	for _, tc := range []struct {
		code     string
		min, max float64
	}{
		{"US", 2600, 2700}, {"RU", 3400, 3600}, {"FR", 600, 650}, {"MC", minCentroidRadius, minCentroidRadius},
	} {
		if r, ok := CentroidRadius(tc.code); !ok || r < tc.min || r > tc.max {
			t.Errorf("CentroidRadius(%s) = %.0f, want %v..%v", tc.code, r, tc.min, tc.max)
		}
	}
}
