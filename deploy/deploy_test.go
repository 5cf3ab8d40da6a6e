package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/cryptotest"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/notify"
)

// checkersModule is the Go module of the checkers that the tests run:
// BuildKit's Dockerfile parser (what `docker build` parses with), through
// its dumper command (`go tool dumper`), and compose-go, the loader of
// `docker compose` (`go run ./composecheck`). Its own go.mod and go.sum pin
// them, so that a new release cannot change what passes, and keep them out
// of Portico's module. (`go run module@version` cannot build the dumper:
// BuildKit's go.mod has exclude directives.)
const checkersModule = "testdata/checkers"

// dataDir is Portico's data directory in the unit and in the image.
const dataDir = "/var/lib/portico"

// maxExposure is the highest overall exposure `systemd-analyze security`
// may give the unit: the figure measured with systemd 252 ("1.1 OK").
const maxExposure = 1.1

// acceptedExposures are the checks of `systemd-analyze security` (by their
// json_field) that the unit does not pass, each with the reason. Any other
// failing check fails TestSystemdSandbox, naming it.
var acceptedExposures = map[string]string{
	"RootDirectoryOrRootImage":              "Portico runs from the host's file system, which ProtectSystem=strict makes read-only",
	"PrivateNetwork":                        "a web server needs the host's network",
	"IPAddressDeny":                         "customers connect from any address",
	"RestrictAddressFamilies_AF_INET_INET6": "a web server listens on IP",
	"RestrictAddressFamilies_AF_UNIX":       "PostgreSQL may be reached through its Unix socket",
	"DeviceAllow":                           "ProtectClock= itself allows reading the real-time clock device",
}

var (
	tmpDir string // removed by TestMain

	buildOnce sync.Once
	built     string // the binary built by builtBinary
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	var err error
	if tmpDir, err = os.MkdirTemp("", "portico-deploy-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmpDir)
	os.Exit(code)
}

// repoRoot is the repository's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// tool returns the path of a command, or skips the test saying which
// Debian package has it (scripts/test.sh installs them).
func tool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: install the Debian package %s (scripts/test.sh does)", name, debianPackage)
	}
	return p
}

// goTool returns the go command; scripts/test.sh puts it on PATH.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not found on PATH: the checkers are built with `go run`")
	}
	return p
}

// builtBinary builds cmd/portico as `make build` does, once per test run.
func builtBinary(t *testing.T) string {
	t.Helper()
	gobin := goTool(t)
	buildOnce.Do(func() {
		built = filepath.Join(tmpDir, "portico")
		cmd := exec.Command(gobin, "build", "-trimpath", "-buildvcs=false", "-o", built, "./cmd/portico")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/portico: %v\n%s", buildErr, buildOut)
	}
	return built
}

// TestStaticBinary builds Portico as the unit and the image expect it: one
// static executable, no cgo (the image's base has no libc).
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary (a minute or two): not in -short")
	}
	bin := builtBinary(t)
	out, err := exec.Command(goTool(t), "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "build" {
			k, v, _ := strings.Cut(f[1], "=")
			settings[k] = v
		}
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("go version -m: build %s=%q, want %q\n%s", k, settings[k], want, out)
		}
	}
	fileOut, err := exec.Command(tool(t, "file", "file"), "-b", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("file: %v\n%s", err, fileOut)
	}
	if !bytes.Contains(fileOut, []byte("statically linked")) {
		t.Errorf("file says the binary is not statically linked: %s", fileOut)
	}
}

// --- systemd ---------------------------------------------------------------

// unitSettings is a unit file's sections, each key with its values in order.
type unitSettings map[string]map[string][]string

// parseUnit reads a unit file's assignments. systemd-analyze verify checks
// the syntax; this only looks values up.
func parseUnit(t *testing.T, text string) unitSettings {
	t.Helper()
	u := unitSettings{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit: cannot read line %q", line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// last is the value that systemd uses for a key given more than once.
func (u unitSettings) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// systemdRoot lays out a file system root for `systemd-analyze --root`:
// the system's own units (for the dependencies every service has), the
// unit under test as /etc/systemd/system/portico.service and an executable
// at /usr/local/bin/portico, the built binary outside -short.
func systemdRoot(t *testing.T, unit string) string {
	t.Helper()
	root := t.TempDir()
	var units string
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			units = d
			break
		}
	}
	if units == "" {
		t.Skip("no /usr/lib/systemd/system: install the Debian package systemd (scripts/test.sh does)")
	}
	dst := filepath.Join(root, "usr/lib/systemd/system")
	err := filepath.WalkDir(units, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(units, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel string, b []byte, mode os.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/systemd/system/portico.service", []byte(unit), 0o644)
	if testing.Short() {
		write("usr/local/bin/portico", []byte("#!/bin/sh\nexit 0\n"), 0o755)
	} else {
		// A hard link: a symbolic one would point outside the root.
		if err := os.MkdirAll(filepath.Join(root, "usr/local/bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(builtBinary(t), filepath.Join(root, "usr/local/bin/portico")); err != nil {
			write("usr/local/bin/portico", []byte(readFile(t, builtBinary(t))), 0o755)
		}
	}
	return root
}

// systemdAnalyze runs systemd-analyze on the unit in root.
func systemdAnalyze(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	args = append(append([]string{}, args...), "--root="+root, "--no-pager", "portico.service")
	cmd := exec.Command(tool(t, "systemd-analyze", "systemd"), args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_LOG_COLOR=0", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSystemdUnitVerifies: `systemd-analyze verify` accepts the unit with
// no warning at all (an unknown or misspelt setting is only a warning to
// systemd, which then runs the service without it).
func TestSystemdUnitVerifies(t *testing.T) {
	unit := readFile(t, "systemd/portico.service")
	check := func(unit string) string {
		out, err := systemdAnalyze(t, systemdRoot(t, unit), "verify")
		if err != nil && out == "" {
			out = err.Error()
		}
		return strings.TrimSpace(out)
	}
	if out := check(unit); out != "" {
		t.Fatalf("systemd-analyze verify systemd/portico.service:\n%s", out)
	}
	t.Run("a misspelt setting is caught", func(t *testing.T) {
		bad := strings.Replace(unit, "ProtectSystem=strict", "ProtectSytem=strict", 1)
		if out := check(bad); !strings.Contains(out, "ProtectSytem") {
			t.Fatalf("systemd-analyze verify did not warn about ProtectSytem=: %q", out)
		}
	})
}

// sandboxReport is what `systemd-analyze security --offline=yes` says of
// a unit: its overall exposure and its failing checks by json_field.
type sandboxReport struct {
	exposure float64
	failing  map[string]string // json_field -> description and exposure
}

var overallRE = regexp.MustCompile(`Overall exposure level for portico\.service: ([0-9]+\.[0-9]+)`)

func assessSandbox(t *testing.T, unit string) sandboxReport {
	t.Helper()
	root := systemdRoot(t, unit)
	text, err := systemdAnalyze(t, root, "security", "--offline=yes")
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, text)
	}
	m := overallRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no overall exposure:\n%s", text)
	}
	r := sandboxReport{failing: map[string]string{}}
	r.exposure, _ = strconv.ParseFloat(m[1], 64)

	js, err := systemdAnalyze(t, root, "security", "--offline=yes", "--json=short")
	if err != nil {
		t.Fatalf("systemd-analyze security --json=short: %v\n%s", err, js)
	}
	var checks []struct {
		Set         bool    `json:"set"`
		Name        string  `json:"name"`
		Field       string  `json:"json_field"`
		Description string  `json:"description"`
		Exposure    *string `json:"exposure"`
	}
	if err := json.Unmarshal([]byte(js), &checks); err != nil {
		t.Fatalf("systemd-analyze security --json=short: %v\n%s", err, js)
	}
	if len(checks) < 50 {
		t.Fatalf("systemd-analyze security made only %d checks:\n%s", len(checks), js)
	}
	for _, c := range checks {
		if !c.Set {
			e := "?"
			if c.Exposure != nil {
				e = *c.Exposure
			}
			r.failing[c.Field] = fmt.Sprintf("%s: %s (exposure %s)", c.Name, c.Description, e)
		}
	}
	return r
}

// TestSystemdSandbox: the unit's sandbox, as `systemd-analyze security`
// scores it offline: an overall exposure of at most maxExposure, and no
// failing check but the accepted ones. Removing any hardening setting that
// systemd scores (ProtectSystem=strict, NoNewPrivileges=, the system call
// filter, ...) fails the test, naming the check.
//
// Enforces MTL-1.1 (integrity, availability): the server cannot write
// outside its data directory, gain privileges or reach the kernel's
// administrative interfaces.
func TestSystemdSandbox(t *testing.T) {
	unit := readFile(t, "systemd/portico.service")
	r := assessSandbox(t, unit)
	t.Logf("systemd-analyze security --offline=yes: overall exposure %.1f", r.exposure)
	if r.exposure > maxExposure {
		t.Errorf("overall exposure %.1f, want at most %.1f", r.exposure, maxExposure)
	}
	for field, what := range r.failing {
		if _, ok := acceptedExposures[field]; !ok {
			t.Errorf("sandbox check fails: %s", what)
		}
	}
	t.Run("removing ProtectSystem=strict is caught", func(t *testing.T) {
		bad := strings.Replace(unit, "ProtectSystem=strict\n", "", 1)
		if bad == unit {
			t.Fatal("the unit has no line ProtectSystem=strict")
		}
		if r := assessSandbox(t, bad); r.failing["ProtectSystem"] == "" {
			t.Fatalf("without ProtectSystem=strict, the ProtectSystem check still passes: %v", r.failing)
		}
	})
}

// unitEnv is the environment the unit gives Portico: its Environment=
// lines, then the example environment file in its place.
func unitEnv(t *testing.T, u unitSettings) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range u["Service"]["Environment"] {
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("Environment=%s: not KEY=VALUE", line)
			}
			env[k] = v
		}
	}
	if f := u.last("Service", "EnvironmentFile"); f != "/etc/portico/portico.env" {
		t.Fatalf("EnvironmentFile=%s, want /etc/portico/portico.env (deploy/systemd/portico.env)", f)
	}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, "systemd/portico.env")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("portico.env: %q is not KEY=VALUE", line)
		}
		env[k] = v
	}
	return env
}

// loadConfig validates settings given as PORTICO_* variables with the
// server's own loader, as `portico serve` would at start.
func loadConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	l := config.NewLoader("serve", "", config.Storage|config.Policy|config.Server|config.Geo, io.Discard)
	cfg, err := l.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("portico serve would refuse these settings: %v", err)
	}
	return cfg
}

// TestSystemdUnitSettings: what systemd-analyze does not score. The server
// runs as an unprivileged user with its data in the state directory,
// restarts after a failure, and is given more time to stop than it takes
// to finish its requests (MTL-1.1, availability: no request is cut short
// by SIGKILL at a restart).
func TestSystemdUnitSettings(t *testing.T) {
	u := parseUnit(t, readFile(t, "systemd/portico.service"))
	cfg := loadConfig(t, unitEnv(t, u))

	if got := u.last("Service", "ExecStart"); got != "/usr/local/bin/portico serve" {
		t.Errorf("ExecStart=%s", got)
	}
	// Portico does not send sd_notify messages: Type=notify would never start.
	if got := u.last("Service", "Type"); got != "exec" && got != "simple" {
		t.Errorf("Type=%s, want exec or simple", got)
	}
	if user := u.last("Service", "User"); (user == "" || user == "root" || user == "0") && u.last("Service", "DynamicUser") != "yes" {
		t.Errorf("User=%q: the service must not run as root", user)
	}
	if got := u.last("Service", "StateDirectory"); got != "portico" {
		t.Errorf("StateDirectory=%s, want portico", got)
	}
	if cfg.DataDir != dataDir {
		t.Errorf("the data directory is %s, not the state directory %s", cfg.DataDir, dataDir)
	}
	if got := u.last("Service", "UMask"); got != "0077" {
		t.Errorf("UMask=%s, want 0077", got)
	}
	if got := u.last("Service", "Restart"); got != "on-failure" {
		t.Errorf("Restart=%s, want on-failure", got)
	}
	if got := u.last("Service", "KillSignal"); got != "SIGTERM" {
		t.Errorf("KillSignal=%s, want SIGTERM (Portico drains its requests on SIGTERM)", got)
	}
	stop, err := time.ParseDuration(u.last("Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: %v", u.last("Service", "TimeoutStopSec"), err)
	}
	if stop <= cfg.ShutdownTimeout {
		t.Errorf("TimeoutStopSec=%s is not longer than the shutdown timeout %s: systemd would kill requests still finishing", stop, cfg.ShutdownTimeout)
	}
	if caps := u["Service"]["CapabilityBoundingSet"]; len(caps) == 0 || caps[len(caps)-1] != "" {
		t.Errorf("CapabilityBoundingSet=%v, want it set empty (Portico listens on :8443)", caps)
	}
}

// --- container image --------------------------------------------------------

// instruction is one Dockerfile instruction as the parser dumps it.
type instruction struct {
	cmd   string   // lower case: from, run, env, ...
	flags []string // --from=build, --chown=...
	args  []string
}

// parseDump reads the dumper's output: one line per instruction,
// `(cmd ["--flag" ...] "arg" ...)`, each string Go-quoted.
func parseDump(t *testing.T, dump string) []instruction {
	t.Helper()
	var out []instruction
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		s := strings.TrimSpace(line)
		if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
			t.Fatalf("parser output: unexpected line %q", line)
		}
		s = s[1 : len(s)-1]
		var in instruction
		in.cmd, s, _ = strings.Cut(s, " ")
		for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
			inFlags := false
			if s[0] == '[' {
				inFlags = true
				s = s[1:]
			}
			for s != "" && s[0] != ']' {
				q, err := strconv.QuotedPrefix(s)
				if err != nil {
					t.Fatalf("parser output: cannot read %q: %v", s, err)
				}
				v, _ := strconv.Unquote(q)
				if inFlags {
					in.flags = append(in.flags, v)
				} else {
					in.args = append(in.args, v)
				}
				s = strings.TrimSpace(s[len(q):])
				if !inFlags {
					break
				}
			}
			if inFlags {
				s = strings.TrimPrefix(s, "]")
			}
		}
		out = append(out, in)
	}
	return out
}

// runChecker runs `go args...` in the checkers' module, skipping the test
// when the checkers' modules cannot be downloaded (no module proxy).
func runChecker(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	gobin := goTool(t)
	dir, err := filepath.Abs(checkersModule)
	if err != nil {
		t.Fatal(err)
	}
	env = append(append(os.Environ(), "GOWORK=off"), env...)
	dl := exec.Command(gobin, "mod", "download", "github.com/moby/buildkit", "github.com/compose-spec/compose-go/v2")
	dl.Dir, dl.Env = dir, env
	if out, err := dl.CombinedOutput(); err != nil {
		t.Skipf("cannot download the checkers' modules (no Go module proxy?): %v\n%s", err, out)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir, cmd.Env = dir, env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// TestContainerfile parses the image's Containerfile with BuildKit's parser
// and checks what the image promises: a multi-stage build of a static
// binary (CGO_ENABLED=0, -trimpath) onto a distroless or empty base, run as
// a non-root user, its data directory a volume, nothing fetched by ADD.
//
// Enforces MTL-1.1 (integrity): no root inside the container, no shell or
// package manager to abuse, no unverified download baked into the image.
func TestContainerfile(t *testing.T) {
	path, err := filepath.Abs("container/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runChecker(t, nil, "tool", "dumper", path)
	if err != nil {
		t.Fatalf("BuildKit's parser refuses container/Containerfile: %v\n%s", err, stderr)
	}
	ins := parseDump(t, out)

	var stages [][]instruction
	for _, in := range ins {
		if in.cmd == "from" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.cmd != "arg" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
		if in.cmd == "add" {
			for _, a := range in.args {
				if strings.Contains(a, "://") || strings.HasPrefix(a, "git@") {
					t.Errorf("ADD %s: a remote source is fetched unverified at build time; download and check it in a RUN step", a)
				}
			}
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stage(s): want a build stage and a final stage", len(stages))
	}

	// The build stage that builds Portico: CGO_ENABLED=0 in force and
	// -trimpath on the go build command.
	builds := 0
	for _, st := range stages[:len(stages)-1] {
		cgo := ""
		for _, in := range st {
			switch in.cmd {
			case "env":
				if v, ok := envArgs(t, in)["CGO_ENABLED"]; ok {
					cgo = v
				}
			case "run":
				cmdline := strings.Join(in.args, " ")
				if !strings.Contains(cmdline, "go build") {
					continue
				}
				builds++
				if cgo != "0" && !strings.Contains(cmdline, "CGO_ENABLED=0") {
					t.Errorf("RUN %s: CGO_ENABLED=0 is not set (the final image has no libc)", cmdline)
				}
				if !strings.Contains(cmdline, "-trimpath") {
					t.Errorf("RUN %s: no -trimpath (make build uses it)", cmdline)
				}
			}
		}
	}
	if builds == 0 {
		t.Error("no build stage runs go build")
	}

	final := stages[len(stages)-1]
	base := final[0].args[0]
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final stage FROM %s: want gcr.io/distroless/static-* or scratch", base)
	}
	env := map[string]string{}
	var user, workdir string
	var volumes, exposed []string
	for _, in := range final {
		switch in.cmd {
		case "env":
			for k, v := range envArgs(t, in) {
				env[k] = v
			}
		case "user":
			user = in.args[0]
		case "workdir":
			workdir = in.args[0]
		case "volume":
			volumes = append(volumes, in.args...)
		case "expose":
			exposed = append(exposed, in.args...)
		case "run":
			t.Errorf("RUN in the final stage: the distroless base has no shell")
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if uid, err := strconv.Atoi(name); name == "" || name == "root" || (err == nil && uid == 0) {
		t.Errorf("final stage USER %q: the image must not run as root", user)
	}

	cfg := loadConfig(t, env)
	if cfg.DataDir != dataDir {
		t.Errorf("PORTICO_DATA_DIR=%s, want %s", cfg.DataDir, dataDir)
	}
	if !contains(volumes, cfg.DataDir) {
		t.Errorf("the data directory %s is not a VOLUME (volumes: %v)", cfg.DataDir, volumes)
	}
	// SQLite's temporary files fall back to the working directory when
	// the root file system is read-only and /tmp has no tmpfs.
	if workdir != cfg.DataDir {
		t.Errorf("WORKDIR %q: want the data directory %s, the one writable place", workdir, cfg.DataDir)
	}
	_, port, _ := net.SplitHostPort(cfg.Addr)
	if !contains(exposed, port) && !contains(exposed, port+"/tcp") {
		t.Errorf("PORTICO_ADDR %s: port %s is not EXPOSEd (%v)", cfg.Addr, port, exposed)
	}
}

// envArgs reads an ENV instruction: the parser gives each variable as
// name, value and separator.
func envArgs(t *testing.T, in instruction) map[string]string {
	t.Helper()
	if len(in.args)%3 != 0 {
		t.Fatalf("ENV %q: not name, value, separator triples", in.args)
	}
	env := map[string]string{}
	for i := 0; i < len(in.args); i += 3 {
		env[in.args[i]] = in.args[i+1]
	}
	return env
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// --- compose ----------------------------------------------------------------

// composeModel is the part of compose-go's model that the test reads.
type composeModel struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		ReadOnly    bool              `json:"read_only"`
		User        string            `json:"user"`
		CapDrop     []string          `json:"cap_drop"`
		SecurityOpt []string          `json:"security_opt"`
		Tmpfs       []string          `json:"tmpfs"`
		Environment map[string]string `json:"environment"`
		Healthcheck *struct {
			Test []string `json:"test"`
		} `json:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `json:"condition"`
		} `json:"depends_on"`
		Volumes []struct {
			Type   string `json:"type"`
			Source string `json:"source"`
			Target string `json:"target"`
		} `json:"volumes"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

// TestCompose loads compose.yaml with compose-go, which validates it
// against the Compose Specification, and checks the model: Portico
// read-only and not root, PostgreSQL healthy before Portico starts, data in
// named volumes; and the settings pass Portico's own validation, its mail
// URL included.
//
// Enforces MTL-1.1 (integrity, availability), as TestContainerfile.
func TestCompose(t *testing.T) {
	if docker, err := exec.LookPath("docker"); err == nil {
		if out, err := exec.Command(docker, "compose", "version").CombinedOutput(); err == nil {
			cmd := exec.Command(docker, "compose", "-f", "compose.yaml", "config", "-q")
			cmd.Env = append(os.Environ(), "POSTGRES_PASSWORD=test-only")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("docker compose config -q: %v\n%s", err, out)
			}
		} else {
			t.Logf("no docker compose plugin (%s): compose-go alone validates compose.yaml", bytes.TrimSpace(out))
		}
	}

	file, err := filepath.Abs("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runChecker(t, []string{"POSTGRES_PASSWORD=test-only"}, "run", "./composecheck", file)
	if err != nil {
		t.Fatalf("compose-go refuses compose.yaml: %v\n%s", err, stderr)
	}
	var m composeModel
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("compose-go's model: %v\n%s", err, out)
	}

	t.Run("the password is required", func(t *testing.T) {
		_, stderr, err := runChecker(t, []string{"POSTGRES_PASSWORD="}, "run", "./composecheck", file)
		if err == nil || !strings.Contains(stderr, "POSTGRES_PASSWORD") {
			t.Errorf("compose.yaml loads without POSTGRES_PASSWORD: %v %s", err, stderr)
		}
	})

	p, ok := m.Services["portico"]
	if !ok {
		t.Fatalf("no service portico: %s", out)
	}
	if !p.ReadOnly {
		t.Error("portico: read_only is not true")
	}
	name, _, _ := strings.Cut(p.User, ":")
	if uid, err := strconv.Atoi(name); name == "" || name == "root" || (err == nil && uid == 0) {
		t.Errorf("portico: user %q: must not be root", p.User)
	}
	if !contains(p.CapDrop, "ALL") {
		t.Errorf("portico: cap_drop %v, want ALL", p.CapDrop)
	}
	if !contains(p.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("portico: security_opt %v, want no-new-privileges:true", p.SecurityOpt)
	}
	if !contains(p.Tmpfs, "/tmp") {
		t.Errorf("portico: tmpfs %v, want /tmp (SQLite's temporary files)", p.Tmpfs)
	}
	if c := p.DependsOn["postgres"].Condition; c != "service_healthy" {
		t.Errorf("portico: depends_on postgres with condition %q, want service_healthy", c)
	}
	pg, ok := m.Services["postgres"]
	if !ok || pg.Healthcheck == nil || len(pg.Healthcheck.Test) == 0 {
		t.Error("postgres: no healthcheck")
	}
	// The image sets PORTICO_DATA_DIR (TestContainerfile); the file may
	// only repeat it.
	env := map[string]string{"PORTICO_DATA_DIR": dataDir}
	for k, v := range p.Environment {
		env[k] = v
	}
	if cfg := loadConfig(t, env); cfg.DataDir != dataDir {
		t.Errorf("portico: PORTICO_DATA_DIR=%s, not the image's volume %s", cfg.DataDir, dataDir)
	}
	for svc, target := range map[string]string{"portico": dataDir, "postgres": "/var/lib/postgresql/data"} {
		s := m.Services[svc]
		found := false
		for _, v := range s.Volumes {
			if _, named := m.Volumes[v.Source]; named && v.Target == target && v.Type == "volume" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s is not on a named volume (%+v)", svc, target, s.Volumes)
		}
	}

	// The mail URL passes notify's own checks: tls=none to the mail
	// catcher is accepted because it carries no password, and Portico
	// warns that mail crosses the network unencrypted.
	smtpURL := p.Environment["PORTICO_SMTP_URL"]
	u, err := url.Parse(smtpURL)
	if err != nil {
		t.Fatalf("PORTICO_SMTP_URL: %v", err)
	}
	if _, ok := m.Services[u.Hostname()]; !ok {
		t.Errorf("PORTICO_SMTP_URL names %s, not a service of the file", u.Hostname())
	}
	d := dbtest.SQLite(t, dbtest.Options{})
	var logs bytes.Buffer
	if _, err := notify.New(d, cryptotest.Keyring(t, d), audit.New(d), notify.Options{
		SMTPURL: smtpURL, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}); err != nil {
		t.Fatalf("Portico refuses compose.yaml's PORTICO_SMTP_URL: %v", err)
	}
	if !strings.Contains(logs.String(), "unencrypted") {
		t.Errorf("no warning that mail to %s crosses the network unencrypted: %q", u.Hostname(), logs.String())
	}
}
