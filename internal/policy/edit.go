package policy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// Change is one setting changed by Edit, with its text before and after.
type Change struct {
	Key      string
	Old, New string
	Clauses  []string
}

// Edit changes settings of the override file at path for the built-in
// profile name and returns the new effective profile and what changed.
// values maps setting keys (as Settings spells them, e.g.
// "session.idle_timeout") to their new text ("45m"; lists comma-separated;
// "none" for an empty list). Keys whose text is unchanged are ignored.
//
// The new profile must pass Validate, or nothing is written and the error
// names each refused setting (errors.Join of *SettingError, every problem
// at once). The file is rewritten whole and minimal (only
// values that differ from the built-in profile), atomically (a temporary
// file renamed over it) and with mode 0600. A missing file is created.
//
// Edits in this process are serialized, so that two administrators saving
// at once cannot lose each other's change (each reads the file the other
// wrote) and each one's Changes hold the old value it really replaced.
//
// Enforces MTL-3.2.2: configuration changes are validated against the
// policy's bounds before they can take effect; the caller audits Changes
// (EditRecorded has it do so before the file is replaced).
func Edit(path, name string, values map[string]string) (Profile, []Change, error) {
	return EditRecorded(path, name, values, nil)
}

// EditRecorded is Edit with a step before the file is replaced: once the
// new file is written beside the old one and loads back to the edited
// profile, record is called with the changes (it is not called when
// nothing changes), and the file is replaced only if record returns nil.
// Record the changes in the audit trail there: then no change reaches the
// file without its record. (Should the final rename fail after a record,
// the trail tells of a change the file lacks, never the reverse.)
//
// Enforces MTL-3.2.2: security settings changes are audited with their old
// and new value, before they are written.
func EditRecorded(path, name string, values map[string]string, record func([]Change) error) (Profile, []Change, error) {
	editMu.Lock()
	defer editMu.Unlock()
	cur, next, changes, err := edit(path, name, values)
	if err != nil {
		return Profile{}, nil, err
	}
	if len(changes) == 0 {
		return cur, nil, nil
	}
	base, err := Builtin(name)
	if err != nil {
		return Profile{}, nil, err
	}
	before := func() error { return nil }
	if record != nil {
		before = func() error { return record(changes) }
	}
	if err := writeMinimal(path, base, next, before); err != nil {
		return Profile{}, nil, err
	}
	return next, changes, nil
}

// edit reads the override file's profile (the built-in one if there is no
// file yet), applies values to it and validates the result: the current
// and next profiles and what changed, sorted by key. Nothing is written.
func edit(path, name string, values map[string]string) (cur, next Profile, changes []Change, err error) {
	if path == "" {
		return Profile{}, Profile{}, nil, fmt.Errorf("policy: no override file configured (--policy-file)")
	}
	base, err := Builtin(name)
	if err != nil {
		return Profile{}, Profile{}, nil, err
	}
	cur = base
	if _, err := os.Stat(path); err == nil {
		if cur, err = Load(name, path); err != nil {
			return Profile{}, Profile{}, nil, err
		}
	}
	next = cur
	fs := fields(reflect.ValueOf(&next).Elem(), "")
	byKey := map[string]field{}
	for _, f := range fs {
		byKey[f.key()] = f
	}
	var errs []*SettingError
	for key, text := range values {
		f, ok := byKey[key]
		if !ok || key == "name" {
			errs = append(errs, &SettingError{Key: key, Reason: "unknown setting"})
			continue
		}
		text = strings.TrimSpace(text)
		old := f.text()
		if text == old {
			continue
		}
		if err := setText(f.v, text); err != nil {
			errs = append(errs, &SettingError{Key: key, Reason: err.Error()})
			continue
		}
		changes = append(changes, Change{Key: key, Old: old, New: f.text(), Clauses: f.clauses})
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	// Every problem at once: the values that did not parse kept their
	// old (valid) text, so the check reports only the others.
	errs = append(errs, next.check()...)
	if err := join(errs, path); err != nil {
		return Profile{}, Profile{}, nil, err
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key < changes[j].Key })
	return cur, next, changes, nil
}

// editMu serializes Edit's read, change and rename of the override file.
var editMu sync.Mutex

// setText sets a leaf of the profile from its text form.
func setText(v reflect.Value, text string) error {
	if v.Type() == durationType {
		d, err := ParseDuration(text)
		if err != nil {
			return fmt.Errorf("not a duration such as 30m, 12h or 90d")
		}
		v.Set(reflect.ValueOf(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(text, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("not a whole number of the right size")
		}
		v.SetUint(n)
	case reflect.Slice:
		items := []string{}
		if text != "none" && text != "" {
			for _, it := range strings.Split(text, ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be edited here")
	}
	return nil
}

// writeMinimal writes the settings of p that differ from base as a TOML
// override file, checked by loading it back, and renames it into place if
// before returns nil.
func writeMinimal(path string, base, p Profile, before func() error) error {
	tables := map[string]any{"name": p.Name}
	baseFields := fields(reflect.ValueOf(base), "")
	for i, f := range fields(reflect.ValueOf(p), "") {
		if f.key() == "name" || f.text() == baseFields[i].text() {
			continue
		}
		m := tables
		if f.table != "" {
			for _, part := range strings.Split(f.table, ".") {
				sub, ok := m[part].(map[string]any)
				if !ok {
					sub = map[string]any{}
					m[part] = sub
				}
				m = sub
			}
		}
		m[f.name] = f.v.Interface()
	}
	var buf bytes.Buffer
	buf.WriteString("# Portico policy override file: only the values that differ from the built-in profile.\n")
	buf.WriteString("# Written by the administrators' policy page; every change is in the audit trail.\n")
	if err := toml.NewEncoder(&buf).Encode(tables); err != nil {
		return fmt.Errorf("policy: encode: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".policy-*.toml")
	if err != nil {
		return fmt.Errorf("policy: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	back, err := Load(p.Name, tmp.Name())
	if err != nil {
		return fmt.Errorf("policy: the new file does not load back: %w", err)
	}
	if !reflect.DeepEqual(back, p) {
		return fmt.Errorf("policy: the new file does not load back to the edited profile")
	}
	if err := before(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
