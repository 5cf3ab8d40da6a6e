package detect_test

import (
	"testing"

	"github.com/portico/portico/internal/policy"

	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/geo"
)

// testGeo places addresses with the embedded country centroids, as the
// server does without a city database.
func testGeo(t *testing.T) detect.Geo {
	t.Helper()
	l, err := geo.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return detect.Places{L: l}
}

func profileB(b *testing.B) policy.Profile {
	b.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func geoB(b *testing.B) (detect.Geo, error) {
	l, err := geo.New("")
	if err != nil {
		return nil, err
	}
	b.Cleanup(func() { l.Close() })
	return detect.Places{L: l}, nil
}
