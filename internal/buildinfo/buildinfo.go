// Package buildinfo says which build of Portico is running.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X
// github.com/portico/portico/internal/buildinfo.Version=v1.2.3".
var Version = "dev"

// Info describes the running binary.
type Info struct {
	Version   string
	Revision  string // VCS commit, when built from a checkout
	Modified  bool   // the checkout had uncommitted changes
	GoVersion string
}

// Read returns the build information.
func Read() Info {
	i := Info{Version: Version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
		if i.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
	}
	return i
}

// String is a one-line description: "portico dev (abc1234, modified) go1.26.8".
func (i Info) String() string {
	rev := ""
	if i.Revision != "" {
		r := i.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		rev = " (" + r
		if i.Modified {
			rev += ", modified"
		}
		rev += ")"
	}
	return fmt.Sprintf("portico %s%s %s", i.Version, rev, i.GoVersion)
}
