package geo

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

type cityFixture struct {
	network, country string
	lat, lon         float64
	accuracy         uint16 // 0: no accuracy_radius key
	noLocation       bool   // a country-only record
}

var cityFixtures = []cityFixture{
	{network: "81.2.69.0/24", country: "GB", lat: 51.5142, lon: -0.0931, accuracy: 10},   // London
	{network: "2001:4860::/32", country: "US", lat: 37.386, lon: -122.0838, accuracy: 0}, // Mountain View
	{network: "5.6.0.0/16", country: "DE", noLocation: true},                             // country only
	{network: "133.0.0.0/8", country: "JP", lat: 35.6895, lon: 139.6917, accuracy: 200},  // Tokyo
}

// writeCityDB writes a GeoIP2-City-shaped database of cityFixtures into a
// temporary directory and returns its path.
func writeCityDB(t testing.TB) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoIP2-City",
		Description:  map[string]string{"en": "Portico geo test city database"},
		Languages:    []string{"en"},
		RecordSize:   28,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cityFixtures {
		_, network, err := net.ParseCIDR(f.network)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country": mmdbtype.Map{
				"iso_code": mmdbtype.String(f.country),
				"names":    mmdbtype.Map{"en": mmdbtype.String("name " + f.country)},
			},
		}
		if !f.noLocation {
			loc := mmdbtype.Map{
				"latitude":  mmdbtype.Float64(f.lat),
				"longitude": mmdbtype.Float64(f.lon),
				"time_zone": mmdbtype.String("Etc/UTC"),
			}
			if f.accuracy != 0 {
				loc["accuracy_radius"] = mmdbtype.Uint16(f.accuracy)
			}
			rec["location"] = loc
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("somewhere")}}
		}
		if err := tree.Insert(network, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "GeoIP2-City-Test.mmdb")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocateCity(t *testing.T) {
	l, err := New(writeCityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	for _, tc := range []struct {
		name, ip string
		want     Location
	}{
		{"IPv4 city record", "81.2.69.142", Location{Country: "GB", Lat: 51.5142, Lon: -0.0931, City: true, Radius: 10}},
		{"IPv4 with port", "81.2.69.142:443", Location{Country: "GB", Lat: 51.5142, Lon: -0.0931, City: true, Radius: 10}},
		{"IPv4-mapped IPv6", "::ffff:81.2.69.142", Location{Country: "GB", Lat: 51.5142, Lon: -0.0931, City: true, Radius: 10}},
		{"IPv6 city record without accuracy radius", "2001:4860:4860::8888", Location{Country: "US", Lat: 37.386, Lon: -122.0838, City: true, Radius: defaultCityRadius}},
		{"accuracy radius carried over", "133.1.2.3", Location{Country: "JP", Lat: 35.6895, Lon: 139.6917, City: true, Radius: 200}},
		{"country-only record falls back to that country's centroid", "5.6.7.8", centroid(t, "DE")},
		{"address not in the database falls back to iploc", "8.8.8.8", centroid(t, "US")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := l.Locate(tc.ip)
			if !ok || got != tc.want {
				t.Errorf("Locate(%q) = %+v, %v; want %+v", tc.ip, got, ok, tc.want)
			}
		})
	}

	t.Run("non-public addresses are refused before the database is asked", func(t *testing.T) {
		if loc, ok := l.Locate("10.0.0.1"); ok {
			t.Errorf("Locate(10.0.0.1) = %+v, true", loc)
		}
	})

	t.Run("after Close, centroids only", func(t *testing.T) {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		got, ok := l.Locate("81.2.69.142")
		if !ok || got.City {
			t.Errorf("Locate after Close = %+v, %v; want a centroid", got, ok)
		}
	})
}

func TestNewRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(writeCityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mmdb")
	if err := os.WriteFile(truncated, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	// Overwrite the search tree (the start of the file) with 0xff: node
	// pointers then point past the data section.
	damaged := filepath.Join(dir, "damaged.mmdb")
	bad := append([]byte(nil), good...)
	for i := range min(len(bad)/3, 512) {
		bad[i] = 0xff
	}
	if err := os.WriteFile(damaged, bad, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "nope.mmdb"), "open city database"},
		{"not a MaxMind database", garbage, "open city database"},
		{"empty file", empty, "open city database"},
		{"truncated file", truncated, "open city database"},
		{"damaged search tree", damaged, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.path)
			if err == nil {
				l.Close()
				t.Fatalf("New(%s) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("New error %q: want it to name the file and say %q", err, tc.want)
			}
		})
	}
}

// TestLocateConcurrent is for the race detector: lookups from many
// goroutines, with Close in the middle.
func TestLocateConcurrent(t *testing.T) {
	l, err := New(writeCityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				ip := []string{"81.2.69.142", "8.8.8.8", "2001:4860:4860::8888", "5.6.7.8"}[(g+i)%4]
				if _, ok := l.Locate(ip); !ok {
					t.Errorf("Locate(%s) = false", ip)
					return
				}
			}
		})
	}
	wg.Go(func() { l.Close() })
	wg.Wait()
}
