package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// build is the portico binary of this test binary's run: built once, on
// first use, and removed by Main.
var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary returns the path of a `portico` binary built from this module,
// as `make build` builds it (CGO_ENABLED=0, -trimpath, no race detector:
// the nodes are the program under test, not the test). It is built once
// per test binary run and shared by every test of the package.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("the go command is not in PATH: %w", err)
			return
		}
		if build.dir, build.err = os.MkdirTemp("", "portico-clustertest-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "portico")
		cmd := exec.Command(goBin, "build", "-trimpath", "-o", build.bin, "github.com/portico/portico/cmd/portico")
		cmd.Env = append(withoutRace(os.Environ()), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("building portico: %v", build.err)
	}
	return build.bin
}

// withoutRace drops -race from GOFLAGS: the binary is built without cgo,
// which the race detector needs.
func withoutRace(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			var keep []string
			for _, f := range strings.Fields(v) {
				if f != "-race" && f != "-race=true" {
					keep = append(keep, f)
				}
			}
			kv = "GOFLAGS=" + strings.Join(keep, " ")
		}
		out = append(out, kv)
	}
	return out
}

// Main runs a package's tests and then removes the binary built for them.
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(clustertest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	return code
}
