package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load returns the effective profile: the built-in profile called name ("" for
// Default) with, when overridePath is not empty, the TOML file at that path
// decoded on top of it, so that only the settings the file names change. A
// file that names an unknown setting, a profile other than name, or a value
// that Validate refuses is an error naming the file and every such setting.
// A missing file is an error too: the operator asked for it.
func Load(name, overridePath string) (Profile, error) {
	p, err := Builtin(name)
	if err != nil {
		return Profile{}, err
	}
	if overridePath == "" {
		return p, p.Validate()
	}
	b, err := os.ReadFile(overridePath)
	if err != nil {
		// The path is in the prefix already; keep only the cause.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return Profile{}, fmt.Errorf("policy file %s: %w", overridePath, err)
	}
	base := p.Name
	md, err := toml.Decode(string(b), &p)
	if err != nil {
		return Profile{}, fmt.Errorf("policy file %s: %w", overridePath, err)
	}

	var errs []*SettingError
	errs = append(errs, unknownKeys(md)...)
	if p.Name != base {
		errs = append(errs, &SettingError{Key: "name", Reason: fmt.Sprintf(
			"the file is for profile %q but profile %q is selected; select that profile or remove this line", p.Name, base)})
	}
	errs = append(errs, p.check()...)
	if err := join(errs, overridePath); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// unknownKeys reports the keys of the file that no setting took: a typo
// would otherwise leave the built-in value in force without a word. An
// unknown table is reported once, not once per key inside it.
func unknownKeys(md toml.MetaData) []*SettingError {
	var errs []*SettingError
	var tables []string
	for _, k := range md.Undecoded() {
		key := k.String()
		if hasTablePrefix(key, tables) {
			continue
		}
		reason := "unknown setting"
		if md.Type(k...) == "Hash" {
			reason = "unknown section"
			tables = append(tables, key)
		}
		errs = append(errs, &SettingError{Key: key, Reason: reason})
	}
	return errs
}

func hasTablePrefix(key string, tables []string) bool {
	for _, t := range tables {
		if strings.HasPrefix(key, t+".") {
			return true
		}
	}
	return false
}
