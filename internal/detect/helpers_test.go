package detect_test

import (
	"testing"

	"github.com/portico/portico/internal/detect"
)

// testGeo is the geography the tests place addresses with.
func testGeo(t *testing.T) detect.Geo {
	t.Helper()
	return nil
}
