package compliance

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the report as indented JSON: the form machines and the
// evidence bundle read.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
