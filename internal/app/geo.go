package app

import (
	"fmt"

	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/geo"
)

// NewGeo opens what detection places addresses with: the operator's city
// database (--geoip-city-file) or the embedded country centroids.
func NewGeo(cfg config.Config) (detect.Places, error) {
	l, err := geo.New(cfg.GeoIPCityFile)
	if err != nil {
		return detect.Places{}, fmt.Errorf("--geoip-city-file: %w", err)
	}
	return detect.Places{L: l}, nil
}
