// Package config reads Portico's settings from command-line flags, PORTICO_*
// environment variables and an optional TOML file, in that order of
// precedence, and validates them at start. Errors name the setting and where
// its bad value came from. There is no global configuration: Load returns a
// value that the program passes down.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/portico/portico/internal/db"
)

// Config holds every setting. Paths are as given (relative to the working
// directory) except where a method resolves them.
type Config struct {
	// Storage.
	DataDir       string // --data-dir, PORTICO_DATA_DIR
	DatabaseURL   string // --database-url, PORTICO_DATABASE_URL (postgres://...)
	MasterKeyFile string // --master-key-file, PORTICO_MASTER_KEY_FILE
	ConfigFile    string // --config, PORTICO_CONFIG

	// Policy.
	Policy     string // --policy, PORTICO_POLICY: built-in profile name
	PolicyFile string // --policy-file, PORTICO_POLICY_FILE: TOML overrides

	// Identity and mail.
	SMTPURL               string // --smtp-url, PORTICO_SMTP_URL: outgoing mail; empty keeps mail in the outbox
	PublicURL             string // --public-url, PORTICO_PUBLIC_URL: base of links in mail
	BreachedPasswordsFile string // --breached-passwords-file: Pwned Passwords SHA-1 file
	// Security alerts to a SIEM (internal/alertout): a webhook signed
	// with the secret in a file, and syslog over TLS trusting a CA file
	// (the system's roots when empty).
	AlertWebhookURL        string // --alert-webhook-url
	AlertWebhookSecretFile string // --alert-webhook-secret-file
	AlertSyslogAddr        string // --alert-syslog-addr (host:port)
	AlertSyslogCAFile      string // --alert-syslog-ca-file

	// GeoIPCityFile is a MaxMind-format city database (GeoLite2-City or
	// GeoIP2-City .mmdb) for impossible travel (--geoip-city-file); empty
	// uses country centroids from the embedded country data.
	GeoIPCityFile string

	// Logging.
	LogFormat string // --log-format: auto, text or json
	LogLevel  string // --log-level: debug, info, warn, error

	// Server.
	Addr         string // --addr, PORTICO_ADDR: HTTPS listener
	HTTPAddr     string // --http-addr: optional plain-HTTP redirect listener
	MetricsAddr  string // --metrics-addr: Prometheus endpoint, off when empty
	TLSCert      string // --tls-cert
	TLSKey       string // --tls-key
	MaxBodyBytes int64  // --max-body-bytes
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header is believed (--trusted-proxies); none by default.
	TrustedProxies    []netip.Prefix
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	AuditAnchorEvery  time.Duration // --audit-anchor-interval
	// PasswordHashMemory is the most argon2 memory password checks may
	// hold at once, in bytes (--password-hash-memory); 0 sizes it from
	// the Go memory limit or the machine's memory.
	PasswordHashMemory int64
}

// Group selects which settings a command accepts.
type Group int

// Setting groups. Commands combine them.
const (
	Storage Group = 1 << iota // data dir, database, master key, config file, logs
	Policy                    // policy profile and override file
	Server                    // listeners, TLS, timeouts, limits
	Geo                       // where addresses are (detection)
)

// setting describes one configurable value.
type setting struct {
	name  string // flag name; env is PORTICO_ + upper snake; file key is snake
	group Group
	def   string
	usage string
	set   func(c *Config, v string) error
}

func (s setting) env() string {
	return "PORTICO_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

func (s setting) fileKey() string { return strings.ReplaceAll(s.name, "-", "_") }

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (use e.g. 30s, 5m, 2h)")
		}
		if d <= 0 {
			return fmt.Errorf("must be positive")
		}
		*dst(c) = d
		return nil
	}
}

func oneOf(dst func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*dst(c) = v
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}

// settings is the table of every setting, in the order --help shows them.
var settings = []setting{
	{"config", Storage, "", "optional TOML configuration file (keys as the flag names with _ for -)",
		str(func(c *Config) *string { return &c.ConfigFile })},
	{"data-dir", Storage, "portico-data", "directory for the SQLite database, TLS certificate and master keyset (created 0700)",
		str(func(c *Config) *string { return &c.DataDir })},
	{"database-url", Storage, "", "PostgreSQL URL (postgres://...); empty uses SQLite in the data directory",
		func(c *Config, v string) error {
			if v != "" && !db.IsPostgresURL(v) {
				return fmt.Errorf("must start with postgres:// or postgresql://")
			}
			c.DatabaseURL = v
			return nil
		}},
	{"master-key-file", Storage, "", "master keyset file (default <data-dir>/keys/master.json); keep it off the database host if you can",
		str(func(c *Config) *string { return &c.MasterKeyFile })},
	{"smtp-url", Storage, "", "outgoing mail server: smtps://user:pass@host:465?from=portico@example.com, or smtp://... (STARTTLS required; ?tls=none only for a local relay); terminal: prints mail on the terminal instead, for trying Portico on localhost (refused on any other address); empty keeps mail in the outbox, shown to admins as undelivered",
		func(c *Config, v string) error {
			if v == "" {
				c.SMTPURL = ""
				return nil
			}
			if v == TerminalMail {
				c.SMTPURL = v
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
				return errors.New(`must be smtp://host:port, smtps://host:port or "terminal:"`)
			}
			c.SMTPURL = v
			return nil
		}},
	{"public-url", Storage, "", "the address customers reach Portico at, for links in mail (default: the HTTPS listener's URL)",
		func(c *Config, v string) error {
			if v == "" {
				c.PublicURL = ""
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return fmt.Errorf("must be an https:// origin such as https://portal.example.com")
			}
			c.PublicURL = strings.TrimSuffix(v, "/")
			return nil
		}},
	{"breached-passwords-file", Storage, "", "optional Pwned Passwords file (sorted SHA1:count lines); passwords found in it are refused",
		str(func(c *Config) *string { return &c.BreachedPasswordsFile })},
	{"log-format", Storage, "auto", "log format: auto (text on a terminal, JSON otherwise), text or json",
		oneOf(func(c *Config) *string { return &c.LogFormat }, "auto", "text", "json")},
	{"log-level", Storage, "info", "log level: debug, info, warn or error",
		oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{"policy", Policy, "customer-portal", "built-in policy profile: customer-portal or 1642mtl-web",
		str(func(c *Config) *string { return &c.Policy })},
	{"alert-webhook-url", Server, "", "send security alerts to this https:// webhook (JSON, HMAC-SHA256 signed)",
		str(func(c *Config) *string { return &c.AlertWebhookURL })},
	{"alert-webhook-secret-file", Server, "", "file holding the webhook's signing secret (at least 32 bytes)",
		str(func(c *Config) *string { return &c.AlertWebhookSecretFile })},
	{"alert-syslog-addr", Server, "", "send security alerts to this syslog collector (host:port; RFC 5424 over TLS)",
		str(func(c *Config) *string { return &c.AlertSyslogAddr })},
	{"alert-syslog-ca-file", Server, "", "PEM file of the CA that signed the syslog collector's certificate (default: the system's roots)",
		str(func(c *Config) *string { return &c.AlertSyslogCAFile })},
	{"geoip-city-file", Geo, "", "optional MaxMind city database (.mmdb) for impossible-travel distances; without it, country centroids",
		str(func(c *Config) *string { return &c.GeoIPCityFile })},
	{"policy-file", Policy, "", "optional TOML file overriding values of the policy profile",
		str(func(c *Config) *string { return &c.PolicyFile })},
	{"addr", Server, "localhost:8443", "HTTPS listen address (host:port)",
		addr(func(c *Config) *string { return &c.Addr }, true)},
	{"http-addr", Server, "", "optional plain-HTTP listen address that only redirects to HTTPS",
		addr(func(c *Config) *string { return &c.HTTPAddr }, false)},
	{"metrics-addr", Server, "", "Prometheus /metrics listen address, e.g. 127.0.0.1:9090 (off when empty)",
		addr(func(c *Config) *string { return &c.MetricsAddr }, false)},
	{"tls-cert", Server, "", "PEM certificate chain (default: a self-signed certificate for localhost in the data directory)",
		str(func(c *Config) *string { return &c.TLSCert })},
	{"tls-key", Server, "", "PEM private key for --tls-cert",
		str(func(c *Config) *string { return &c.TLSKey })},
	{"max-body-bytes", Server, "1048576", "largest request body accepted, in bytes",
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 || n > 1<<30 {
				return fmt.Errorf("must be a whole number of bytes between 1024 and 1073741824")
			}
			c.MaxBodyBytes = n
			return nil
		}},
	{"trusted-proxies", Server, "", "comma-separated networks (CIDR) of reverse proxies whose X-Forwarded-For is believed; none by default",
		func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f == "" {
					continue
				}
				p, err := netip.ParsePrefix(f)
				if err != nil {
					return fmt.Errorf("%q is not a network in CIDR notation (e.g. 10.0.0.0/8)", f)
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
	{"read-header-timeout", Server, "5s", "time allowed to read request headers",
		dur(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{"read-timeout", Server, "30s", "time allowed to read a whole request",
		dur(func(c *Config) *time.Duration { return &c.ReadTimeout })},
	{"write-timeout", Server, "60s", "time allowed to write a response",
		dur(func(c *Config) *time.Duration { return &c.WriteTimeout })},
	{"idle-timeout", Server, "120s", "how long an idle keep-alive connection stays open",
		dur(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"shutdown-timeout", Server, "20s", "how long in-flight requests may finish after SIGINT/SIGTERM",
		dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"password-hash-memory", Server, "auto", "most memory that password checks (argon2id) may hold at once, e.g. 256MiB or 1GiB; past it, checks wait up to 2 s, then get 503 with Retry-After; auto is a quarter of GOMEMLIMIT if set, else an eighth of the machine's (or cgroup's) memory, at most 512MiB; never less than two checks",
		func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			c.PasswordHashMemory = n
			return nil
		}},
	{"audit-anchor-interval", Server, "5m", "how often the audit chain head is written to the log and metrics",
		dur(func(c *Config) *time.Duration { return &c.AuditAnchorEvery })},
}

// parseSize reads a size in bytes: "auto" (0), a whole number of bytes,
// or one with a KiB, MiB or GiB suffix.
func parseSize(v string) (int64, error) {
	if v == "auto" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > (1<<40)/mult {
		return 0, fmt.Errorf("must be auto, or a size such as 256MiB or 1GiB (KiB, MiB, GiB or plain bytes)")
	}
	return n * mult, nil
}

func addr(dst func(*Config) *string, required bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			if required {
				return fmt.Errorf("must not be empty")
			}
			*dst(c) = ""
			return nil
		}
		if _, port, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("must be host:port (e.g. localhost:8443)")
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("port must be a number from 0 to 65535")
		}
		*dst(c) = v
		return nil
	}
}

// UsageError is a bad flag, value or file: the caller prints it on one line
// and exits with status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// ErrHelp is returned when -h or --help was asked for; usage has been printed.
var ErrHelp = flag.ErrHelp

// Loader parses settings for one command.
type Loader struct {
	fs     *flag.FlagSet
	groups Group
	raw    map[string]*rawValue
	usage  io.Writer
	intro  string
}

type rawValue struct {
	v   string
	set bool
}

func (r *rawValue) String() string     { return r.v }
func (r *rawValue) Set(v string) error { r.v, r.set = v, true; return nil }

// NewLoader returns a flag set for a command that accepts the given setting
// groups. intro is the first lines of its --help. The caller may add its own
// flags to FlagSet() before Load.
func NewLoader(command, intro string, groups Group, usage io.Writer) *Loader {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	// The flag package would print the error and the whole usage on a bad
	// flag; Portico prints one line instead, and the usage only for --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	l := &Loader{fs: fs, groups: groups, raw: map[string]*rawValue{}, usage: usage, intro: intro}
	for _, s := range settings {
		if s.group&groups == 0 {
			continue
		}
		r := &rawValue{v: s.def}
		l.raw[s.name] = r
		fs.Var(r, s.name, fmt.Sprintf("%s (env %s)", s.usage, s.env()))
	}
	return l
}

// PrintUsage writes the command's help: its introduction and every flag.
func (l *Loader) PrintUsage() {
	fmt.Fprintf(l.usage, "%s\n\nFlags:\n", strings.TrimRight(l.intro, "\n"))
	l.fs.SetOutput(l.usage)
	l.fs.PrintDefaults()
	l.fs.SetOutput(io.Discard)
}

// FlagSet is the command's flag set, for command-specific flags.
func (l *Loader) FlagSet() *flag.FlagSet { return l.fs }

// Load parses args and resolves every setting: a flag wins over the
// environment, which wins over the config file, which wins over the default.
// getenv is os.LookupEnv outside tests.
func (l *Loader) Load(args []string, getenv func(string) (string, bool)) (Config, error) {
	if err := l.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			l.PrintUsage()
			return Config{}, ErrHelp
		}
		return Config{}, &UsageError{Msg: err.Error()}
	}
	if l.fs.NArg() > 0 {
		return Config{}, &UsageError{Msg: fmt.Sprintf("unexpected argument %q", l.fs.Arg(0))}
	}
	if getenv == nil {
		getenv = os.LookupEnv
	}

	// The config file itself comes from the flag or the environment.
	var file map[string]any
	cfgPath := ""
	if r, ok := l.raw["config"]; ok && r.set {
		cfgPath = r.v
	} else if v, ok := getenv("PORTICO_CONFIG"); ok {
		cfgPath = v
	}
	if cfgPath != "" {
		var err error
		if file, err = readFile(cfgPath); err != nil {
			return Config{}, &UsageError{Msg: err.Error()}
		}
	}

	var c Config
	var problems []string
	for _, s := range settings {
		if s.group&l.groups == 0 {
			continue
		}
		r := l.raw[s.name]
		value, source := s.def, "default"
		if fv, ok := file[s.fileKey()]; ok {
			value, source = fmt.Sprint(fv), "config file "+cfgPath+": "+s.fileKey()
		}
		if ev, ok := getenv(s.env()); ok {
			value, source = ev, s.env()
		}
		if r.set {
			value, source = r.v, "--"+s.name
		}
		if s.name == "config" {
			value = cfgPath
		}
		if err := s.set(&c, value); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: %v", source, redact(value), err))
		}
	}
	if len(problems) > 0 {
		return Config{}, &UsageError{Msg: strings.Join(problems, "; ")}
	}
	if err := c.validate(l.groups); err != nil {
		return Config{}, &UsageError{Msg: err.Error()}
	}
	return c, nil
}

// redact hides the password of a URL-shaped value (--smtp-url,
// --database-url) so that an error message never shows it.
func redact(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); !ok {
		return v
	}
	return u.Redacted()
}

// readFile reads a TOML configuration file and rejects keys that are not
// settings, naming them.
func readFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, errors.Unwrap(err))
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.fileKey()] = true
	}
	var unknown []string
	for k, v := range m {
		if !known[k] || k == "config" {
			unknown = append(unknown, k)
			continue
		}
		switch v.(type) {
		case string, int64, float64, bool:
		default:
			return nil, fmt.Errorf("config file %s: %s: must be a plain value", path, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("config file %s: unknown setting %s", path, strings.Join(unknown, ", "))
	}
	return m, nil
}

func (c Config) validate(groups Group) error {
	if groups&Storage != 0 && c.DataDir == "" {
		return errors.New("--data-dir: must not be empty")
	}
	if groups&Server != 0 {
		if (c.TLSCert == "") != (c.TLSKey == "") {
			return errors.New("--tls-cert and --tls-key: give both or neither")
		}
		if c.ReadHeaderTimeout > c.ReadTimeout {
			return errors.New("--read-header-timeout: must not exceed --read-timeout")
		}
		// Mail printed on the terminal holds working links (sign-up,
		// reset): only for a Portico that nobody else can reach.
		if c.SMTPURL == TerminalMail && (!loopbackAddr(c.Addr) || (c.HTTPAddr != "" && !loopbackAddr(c.HTTPAddr)) || (c.PublicURL != "" && !loopbackURL(c.PublicURL))) {
			return errors.New("--smtp-url terminal: prints mail with its links on the terminal, so it is only allowed when Portico listens on localhost (--addr, --http-addr, --public-url); configure a mail server instead")
		}
	}
	return nil
}

// TerminalMail is the --smtp-url value that prints mail on the terminal.
const TerminalMail = "terminal:"

// loopbackAddr reports whether a host:port listens on this machine only.
func loopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// loopbackURL reports whether a URL points at this machine.
func loopbackURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return loopbackAddr(net.JoinHostPort(u.Hostname(), port))
}

// DatabasePath is the SQLite file used when no database URL is set.
func (c Config) DatabasePath() string { return filepath.Join(c.DataDir, "portico.db") }

// MasterKeyPath is the master keyset file.
func (c Config) MasterKeyPath() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.DataDir, "keys", "master.json")
}

// UsesPostgres reports whether the database is PostgreSQL.
func (c Config) UsesPostgres() bool { return c.DatabaseURL != "" }

// DBOptions are the options to open the configured database.
func (c Config) DBOptions() db.Options {
	if c.UsesPostgres() {
		return db.Options{URL: c.DatabaseURL}
	}
	return db.Options{Path: c.DatabasePath()}
}

// Settings describes every setting for documentation: flag, environment
// variable, default and meaning. docs are checked against it by a test.
func Settings() []SettingDoc {
	out := make([]SettingDoc, 0, len(settings))
	for _, s := range settings {
		out = append(out, SettingDoc{Flag: "--" + s.name, Env: s.env(), FileKey: s.fileKey(), Default: s.def, Usage: s.usage})
	}
	return out
}

// SettingDoc documents one setting.
type SettingDoc struct {
	Flag, Env, FileKey, Default, Usage string
}
