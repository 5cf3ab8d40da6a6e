package privacy_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portico/portico/internal/privacy"
)

// compileExportSchema compiles the definition of each file of the
// export's schema, asserting formats (date-time) as well.
func compileExportSchema(t *testing.T, schema []byte) (map[string]*jsonschema.Schema, []string) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatalf("schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(schema, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	var files []string
	for name := range raw.Defs {
		if !strings.HasSuffix(name, ".json") {
			continue // a shared definition (time, optional_time)
		}
		s, err := c.Compile("schema.json#/$defs/" + name)
		if err != nil {
			t.Fatalf("the definition of %s does not compile: %v", name, err)
		}
		out[name] = s
		files = append(files, name)
	}
	sort.Strings(files)
	return out, files
}

// closedObjects reports the objects of the schema that accept keys it does
// not name: every object says additionalProperties false, or constrains
// the names of its free keys (propertyNames) as a map does.
func closedObjects(t *testing.T, node any, path string) {
	t.Helper()
	switch v := node.(type) {
	case map[string]any:
		if v["type"] == "object" {
			ap, hasAP := v["additionalProperties"]
			_, hasNames := v["propertyNames"]
			if !(hasAP && ap == false) && !hasNames {
				t.Errorf("schema %s: an object must have additionalProperties false (or propertyNames, for a map)", path)
			}
		}
		for k, x := range v {
			closedObjects(t, x, path+"/"+k)
		}
	case []any:
		for i, x := range v {
			closedObjects(t, x, path+"/"+strconv.Itoa(i))
		}
	}
}

var goStyleKey = regexp.MustCompile(`[A-Z]`)

// keysOf collects every object key of a JSON value.
func keysOf(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			into[k] = true
			keysOf(y, into)
		}
	case []any:
		for _, y := range x {
			keysOf(y, into)
		}
	}
}

// TestExportMatchesItsSchema: for a customer with data in every category,
// and a member of staff, each JSON file of the export validates against
// its definition in schema.json (which is in the archive, and is the one
// embedded in the binary); the schema admits no key it does not name; no
// key is Go-style, no time is Go's zero time; every file has a definition
// and every definition a file; the README lists every file; the new
// fields (the notice accepted at sign-up, the password's last change, the
// attached files) are there (CP-11.1, MTL-2.1.1).
func TestExportMatchesItsSchema(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c, agent := e.seedEverything(t)
		var schemaDoc any
		if err := json.Unmarshal(privacy.ExportSchema(), &schemaDoc); err != nil {
			t.Fatal(err)
		}
		closedObjects(t, schemaDoc, "#")
		schemas, defined := compileExportSchema(t, privacy.ExportSchema())

		seen := map[string]bool{}
		archives := map[string]map[string]string{}
		for _, who := range []struct{ name, id string }{{"customer", c.AccountID}, {"staff", agent.AccountID}} {
			b, err := e.svc.Archive(e.ctx, who.id)
			if err != nil {
				t.Fatal(err)
			}
			files := unzip(t, b)
			archives[who.name] = files
			if files["schema.json"] != string(privacy.ExportSchema()) {
				t.Errorf("%s: schema.json in the archive is not the embedded schema", who.name)
			}
			for name, body := range files {
				if !strings.Contains(files["README.md"], name) {
					t.Errorf("%s: README.md does not list %s", who.name, name)
				}
				if !strings.HasSuffix(name, ".json") || name == "schema.json" || strings.HasPrefix(name, "attachments/") {
					continue
				}
				seen[name] = true
				s, ok := schemas[name]
				if !ok {
					t.Errorf("%s: %s has no definition in schema.json", who.name, name)
					continue
				}
				inst, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
				if err != nil {
					t.Errorf("%s: %s is not JSON: %v", who.name, name, err)
					continue
				}
				if err := s.Validate(inst); err != nil {
					t.Errorf("%s: %s does not match its schema: %v", who.name, name, err)
				}
				keys := map[string]bool{}
				keysOf(inst, keys)
				for k := range keys {
					if goStyleKey.MatchString(k) {
						t.Errorf("%s: %s has the Go-style key %q: use snake_case", who.name, name, k)
					}
				}
				if strings.Contains(body, "0001-01-01") {
					t.Errorf("%s: %s has a zero time: an unset time is null", who.name, name)
				}
			}
		}
		for _, name := range defined {
			if !seen[name] {
				t.Errorf("schema.json defines %s, which no archive holds", name)
			}
		}

		files := archives["customer"]
		var account struct {
			PasswordChangedAt *string `json:"password_changed_at"`
			Passkeys          []struct {
				Name string `json:"name"`
			} `json:"passkeys"`
		}
		if err := json.Unmarshal([]byte(files["account.json"]), &account); err != nil {
			t.Fatal(err)
		}
		if account.PasswordChangedAt == nil {
			t.Error("account.json: no password_changed_at")
		}
		if len(account.Passkeys) != 1 || account.Passkeys[0].Name != "Work laptop" {
			t.Errorf("account.json: passkeys %+v", account.Passkeys)
		}
		// CP-11.1: the browser of each sign-in is personal data Portico
		// keeps (encrypted): the export holds it too.
		var signIns []struct {
			Browser string `json:"browser"`
		}
		if err := json.Unmarshal([]byte(files["sign_ins.json"]), &signIns); err != nil {
			t.Fatal(err)
		}
		if len(signIns) == 0 || signIns[0].Browser != "Browser-1" {
			t.Errorf("sign_ins.json: the browser of the sign-ins is missing: %s", files["sign_ins.json"])
		}

		var consents struct {
			PrivacyNotice struct {
				Version *string `json:"version"`
				SignUp  *struct {
					Version    string `json:"version"`
					AcceptedAt string `json:"accepted_at"`
				} `json:"sign_up"`
				Acknowledgements []struct {
					Version  string `json:"version"`
					AtSignUp bool   `json:"at_sign_up"`
				} `json:"acknowledgements"`
			} `json:"privacy_notice"`
		}
		if err := json.Unmarshal([]byte(files["consents.json"]), &consents); err != nil {
			t.Fatal(err)
		}
		pn := consents.PrivacyNotice
		if pn.SignUp == nil || pn.SignUp.Version != privacy.BuiltinNoticeVersion || pn.SignUp.AcceptedAt == "" {
			t.Errorf("consents.json: the notice accepted at sign-up is missing: %s", files["consents.json"])
		}
		if pn.Version == nil || *pn.Version != "2027-01" || len(pn.Acknowledgements) != 2 || !pn.Acknowledgements[0].AtSignUp || pn.Acknowledgements[1].AtSignUp {
			t.Errorf("consents.json: want 2027-01 in force, acknowledged after the sign-up's %s: %s", privacy.BuiltinNoticeVersion, files["consents.json"])
		}

		var tickets []struct {
			Messages []struct {
				Attachments []struct {
					Name        string `json:"name"`
					ContentType string `json:"content_type"`
					Size        int    `json:"size"`
					File        string `json:"file"`
				} `json:"attachments"`
			} `json:"messages"`
		}
		if err := json.Unmarshal([]byte(files["tickets.json"]), &tickets); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"a.txt": "attached", "Invoice 42.pdf": "%PDF-1.4 invoice"}
		got := 0
		for _, tk := range tickets {
			for _, m := range tk.Messages {
				for _, a := range m.Attachments {
					got++
					body, ok := files[a.File]
					switch {
					case !ok:
						t.Errorf("tickets.json lists %s, which is not in the archive", a.File)
					case body != want[a.Name] || a.Size != len(body) || a.ContentType == "":
						t.Errorf("attachment %q: %s holds %q (size %d, type %q), want %q", a.Name, a.File, body, a.Size, a.ContentType, want[a.Name])
					}
					if strings.Contains(a.File, "..") || strings.Count(a.File, "/") != 2 {
						t.Errorf("attachment %q goes to the unsafe path %s", a.Name, a.File)
					}
				}
			}
		}
		var inZip []string
		for name := range files {
			if strings.HasPrefix(name, "attachments/") {
				inZip = append(inZip, name)
			}
		}
		if got != len(want) || len(inZip) != len(want) {
			t.Errorf("%d attachments listed and %v in the archive, want %d", got, inZip, len(want))
		}
		if !slices.ContainsFunc(inZip, func(n string) bool { return strings.HasSuffix(n, "-Invoice_42.pdf") }) {
			t.Errorf("the invoice is not under a safe name: %v", inZip)
		}
	})
}

// TestExportSchemaRefusesDrift: the schema fails a file with a key it
// does not name, a Go-style key, a zero time or a missing field, so the
// test above cannot pass on a loose schema.
func TestExportSchemaRefusesDrift(t *testing.T) {
	schemas, _ := compileExportSchema(t, privacy.ExportSchema())
	const ok = `{"kind": "security", "title": "T", "body": "B", "created_at": "2026-11-25T09:00:00Z", "read_at": null}`
	for _, tc := range []struct{ name, notice string }{
		{"an unknown key", `{"kind": "security", "title": "T", "body": "B", "created_at": "2026-11-25T09:00:00Z", "read_at": null, "extra": 1}`},
		{"a Go-style key", `{"Kind": "security", "title": "T", "body": "B", "created_at": "2026-11-25T09:00:00Z", "read_at": null}`},
		{"a zero time", `{"kind": "security", "title": "T", "body": "B", "created_at": "0001-01-01T00:00:00Z", "read_at": null}`},
		{"a zero optional time", `{"kind": "security", "title": "T", "body": "B", "created_at": "2026-11-25T09:00:00Z", "read_at": "0001-01-01T00:00:00Z"}`},
		{"a time not in UTC", `{"kind": "security", "title": "T", "body": "B", "created_at": "2026-11-25T10:00:00+01:00", "read_at": null}`},
		{"a missing field", `{"kind": "security", "title": "T", "body": "B", "created_at": "2026-11-25T09:00:00Z"}`},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			for body, valid := range map[string]bool{"[" + ok + "]": true, "[" + tc.notice + "]": false} {
				inst, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if err := schemas["notices.json"].Validate(inst); (err == nil) != valid {
					t.Errorf("%s: valid = %v, want %v (%v)", body, err == nil, valid, err)
				}
			}
		})
	}
}
