package privacy

import _ "embed"

// exportSchema is the JSON Schema (draft 2020-12) of every JSON file of
// the data export, one definition per file under $defs, named after the
// file. It goes into each archive as schema.json, and docs/export.md
// describes it.
//
//go:embed exportschema/export.schema.json
var exportSchema []byte

// ExportSchema returns the JSON Schema of the export's files.
func ExportSchema() []byte { return append([]byte(nil), exportSchema...) }
