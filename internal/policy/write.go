package policy

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Setting is one tunable of a profile as the policy file spells it, with the
// clauses that set it: what the compliance report and `portico policy show`
// put side by side.
type Setting struct {
	Key     string   // TOML key path, e.g. "session.idle_timeout"
	Value   string   // the value as text, unquoted: "30m", "12", "required"
	Clauses []string // IDs of the clauses that set it; none for "name"
	// Floor is the shortest value allowed for an evidence retention
	// ("365d"), "" for other settings.
	Floor string
	// IsDuration says the setting is a Duration, whose value is then
	// also in Duration, for pages that write it in words.
	IsDuration bool
	Duration   time.Duration
}

// Settings lists every setting of p in file order: the profile name, then
// each section's values before its sub-sections.
func (p Profile) Settings() []Setting {
	var out []Setting
	for _, f := range fields(reflect.ValueOf(p), "") {
		st := Setting{Key: f.key(), Value: f.text(), Clauses: f.clauses, Floor: f.floor}
		if f.v.Type() == durationType {
			st.IsDuration, st.Duration = true, f.v.Interface().(Duration).Duration
		}
		out = append(out, st)
	}
	return out
}

// WriteTOML writes the whole of p as a TOML policy file, each value followed
// by the clauses that set it. Load(p.Name, file) reads it back to p, so that
// an operator can pin the effective values by saving this output as the
// override file.
func (p Profile) WriteTOML(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Portico policy profile %s: every effective value.\n", tomlString(p.Name))
	b.WriteString("# Usable as the policy override file; comments name the clauses that set each value.\n")
	fs := fields(reflect.ValueOf(p), "")
	for i := 0; i < len(fs); {
		// One table: the run of fields that share it.
		j := i
		width := 0
		for ; j < len(fs) && fs[j].table == fs[i].table; j++ {
			width = max(width, len(fs[j].name)+3+len(fs[j].literal()))
		}
		b.WriteString("\n")
		if fs[i].table != "" {
			fmt.Fprintf(&b, "[%s]\n", fs[i].table)
		}
		for _, f := range fs[i:j] {
			line := f.name + " = " + f.literal()
			if len(f.clauses) > 0 {
				line += strings.Repeat(" ", width-len(line)) + " # " + strings.Join(f.clauses, " ")
			}
			if f.floor != "" {
				line += "; evidence: at least " + f.floor
			}
			b.WriteString(line + "\n")
		}
		i = j
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// field is one leaf of the profile struct.
type field struct {
	table   string // dotted TOML table, "" at the top level
	name    string // TOML key within table
	v       reflect.Value
	clauses []string // from the `clause` struct tag
	// floor is the shortest duration an evidence setting may have, from
	// the `floor` struct tag ("365d"); "" for none. Validate enforces it.
	floor string
	// weak says which change of the value weakens the policy, from the
	// `weak` struct tag (see Weakens); "" for none.
	weak string
}

var durationType = reflect.TypeFor[Duration]()

// fields walks a section struct: its own values first, then its
// sub-sections, the order in which a TOML file must list them.
func fields(v reflect.Value, table string) []field {
	var leaves, subs []field
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			sub := name
			if table != "" {
				sub = table + "." + name
			}
			subs = append(subs, fields(fv, sub)...)
			continue
		}
		leaves = append(leaves, field{table: table, name: name, v: fv, clauses: strings.Fields(sf.Tag.Get("clause")), floor: sf.Tag.Get("floor"), weak: sf.Tag.Get("weak")})
	}
	return append(leaves, subs...)
}

func (f field) key() string {
	if f.table == "" {
		return f.name
	}
	return f.table + "." + f.name
}

// text is the value as Settings reports it.
func (f field) text() string {
	if f.v.Type() == durationType {
		return f.v.Interface().(Duration).String()
	}
	switch f.v.Kind() {
	case reflect.String:
		return f.v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(f.v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(f.v.Uint(), 10)
	case reflect.Slice:
		if f.v.Type().Elem().Kind() == reflect.String {
			if f.v.Len() == 0 {
				return "none"
			}
			return strings.Join(f.v.Interface().([]string), ", ")
		}
	}
	// Only a new field of a new kind gets here; the tests walk every field.
	panic(fmt.Sprintf("policy: setting %s has unsupported type %s", f.key(), f.v.Type()))
}

// literal is the value as TOML writes it: text, quoted unless it is a number.
func (f field) literal() string {
	if f.v.Type() == durationType || f.v.Kind() == reflect.String {
		return tomlString(f.text())
	}
	if f.v.Kind() == reflect.Slice {
		items := f.v.Interface().([]string)
		quoted := make([]string, len(items))
		for i, it := range items {
			quoted[i] = tomlString(it)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	return f.text()
}

// tomlString quotes s as a TOML basic string. strconv.Quote would not do:
// TOML has no \x escapes.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
