package vulncheck

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The parts of the OSV schema (https://ossf.github.io/osv-schema/) that
// matching uses, as the Go vulnerability database fills them.
type entry struct {
	ID        string     `json:"id"`
	Withdrawn string     `json:"withdrawn,omitempty"`
	Aliases   []string   `json:"aliases,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Affected  []affected `json:"affected,omitempty"`
	// Severity and DatabaseSpecific.Severity grade the advisory when the
	// database does (GitHub's does; the Go database does not).
	Severity         []osvSeverity `json:"severity,omitempty"`
	DatabaseSpecific *struct {
		Severity string `json:"severity,omitempty"`
	} `json:"database_specific,omitempty"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type affected struct {
	Package           pkg              `json:"package"`
	Ranges            []osvRange       `json:"ranges,omitempty"`
	Versions          []string         `json:"versions,omitempty"`
	EcosystemSpecific *ecosystemFields `json:"ecosystem_specific,omitempty"`
}

type pkg struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

type osvRange struct {
	Type   string  `json:"type"`
	Events []event `json:"events"`
}

type event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

type ecosystemFields struct {
	Imports []struct {
		Path    string   `json:"path"`
		Symbols []string `json:"symbols,omitempty"`
	} `json:"imports,omitempty"`
}

const (
	ecosystemGo   = "Go"
	rangeSemver   = "SEMVER"
	nameStdlib    = "stdlib"
	nameToolchain = "toolchain"
)

// readEntry reads one advisory, plain JSON or gzipped (".json.gz", as
// vuln.go.dev serves them).
func readEntry(path string) (*entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vulncheck: %w", err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("vulncheck: %s: %w", path, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("vulncheck: %s: %w", path, err)
		}
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("vulncheck: %s is not a valid OSV advisory: %w", path, err)
	}
	if e.ID == "" {
		return nil, fmt.Errorf("vulncheck: %s is not a valid OSV advisory: %w", path, errors.New("it has no id"))
	}
	return &e, nil
}
