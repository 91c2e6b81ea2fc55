package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"time"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/gcpace"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// Config is everything one run of `corral serve` or `corral ROLE` is
// configured with: the process's own settings, the backends, telemetry and
// each role's configuration. Defaults, then environment variables, then
// flags; the README's configuration tables are checked against the
// catalogue by a test.
type Config struct {
	Process   processConfig
	Backends  backends.Config
	Telemetry telemetry.Config

	roles     []preparedRole
	catalogue *settings.Catalogue
}

// preparedRole is one role's definition and its configuration.
type preparedRole struct {
	def role.Definition
	role.Prepared
}

// Names of the process settings.
const (
	envHTTPAddr        = "CORRAL_HTTP_ADDR"
	envDataDir         = "CORRAL_DATA_DIR"
	envShutdownDelay   = "CORRAL_SHUTDOWN_DELAY"
	envShutdownTimeout = "CORRAL_SHUTDOWN_TIMEOUT"
	envGCHeapFloor     = gcpace.EnvFloor
)

// processConfig holds the settings of the process itself.
type processConfig struct {
	HTTPAddr        string
	DataDir         string
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	// GCHeapFloor is the heap goal the garbage collector is held to while
	// the live heap is small (package gcpace); 0 leaves Go's pacing.
	GCHeapFloor int64
}

func (c *processConfig) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: envHTTPAddr, Flag: "http", Default: ":8080", Help: "one HTTP listener: health, metrics and every role's routes",
			Set: settings.String(&c.HTTPAddr)},
		dataDirSetting(&c.DataDir),
		{Env: envShutdownDelay, Flag: "shutdown-delay", Default: "0s", Help: "how long /readyz fails before intake stops at shutdown, so load balancers notice",
			Set: settings.Duration(&c.ShutdownDelay)},
		{Env: envShutdownTimeout, Flag: "shutdown-timeout", Default: "30s", Help: "deadline for draining in-flight work at shutdown",
			Set: settings.Duration(&c.ShutdownTimeout)},
		{Env: envGCHeapFloor, Flag: "gc-heap-floor", Default: "8MiB",
			Help: "heap the garbage collector lets grow before collecting while the live heap is small (fewer collections per request); 0 keeps Go's pacing (GOGC); GOMEMLIMIT still caps it",
			Set:  heapSize(&c.GCHeapFloor)},
	}
}

// heapSize parses a size such as 64MiB; empty is 0.
func heapSize(dst *int64) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			*dst = 0
			return nil
		}
		n, err := bytesize.Parse(v)
		if err != nil {
			return errors.New("not a size such as 64MiB, or 0")
		}
		*dst = n
		return nil
	}
}

// dataDirSetting is the data folder's setting, which the commands that
// reach the embedded Redis of `serve` (creator, channel) share with it.
func dataDirSetting(dst *string) settings.Setting {
	return settings.Setting{Env: envDataDir, Flag: "data", Default: "./data", Help: "embedded NATS and Redis data, demo model",
		Set: settings.String(dst)}
}

func (c processConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, settings.Bad(envHTTPAddr, "%q is not host:port", c.HTTPAddr))
	}
	if c.DataDir == "" {
		errs = append(errs, settings.Bad(envDataDir, "must not be empty"))
	}
	if c.ShutdownDelay < 0 {
		errs = append(errs, settings.Bad(envShutdownDelay, "%v: must not be negative", c.ShutdownDelay))
	}
	if c.GCHeapFloor < 0 {
		errs = append(errs, settings.Bad(envGCHeapFloor, "%d: must not be negative", c.GCHeapFloor))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, settings.Bad(envShutdownTimeout, "%v: must be positive", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// newConfig returns the default configuration of a process running defs
// on the backends needs, and its catalogue of settings.
func newConfig(defs []role.Definition, needs backends.Needs) *Config {
	cfg := &Config{Backends: backends.DefaultConfig()}
	comps := []settings.Component{&cfg.Process, cfg.Backends.For(needs), &cfg.Telemetry}
	for _, d := range defs {
		p := d.Prepare()
		cfg.roles = append(cfg.roles, preparedRole{def: d, Prepared: p})
		comps = append(comps, p.Config)
	}
	cfg.catalogue = settings.New(comps...)
	return cfg
}

// parseConfig layers defaults, the environment (looked up through getenv)
// and the command-line flags for a process running defs on the backends
// needs. It reports every bad value, not only the first, as a usage error.
// extra adds flags of the command's own.
func parseConfig(name string, defs []role.Definition, needs backends.Needs, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*Config, error) {
	cfg := newConfig(defs, needs)
	fs := newFlags(name, stderr, "corral "+name+" [flags]", "Flags win over environment variables, which win over defaults.")
	if extra != nil {
		extra(fs.FlagSet)
	}
	cfg.catalogue.Bind(fs.FlagSet, getenv)
	if err := fs.parse(args); err != nil {
		return cfg, err
	}
	if err := cfg.catalogue.Apply(fs.FlagSet); err != nil {
		return cfg, usageError{"configuration: " + err.Error()}
	}
	cfg.Backends.DataDir = cfg.Process.DataDir
	cfg.Telemetry.ServiceName, cfg.Telemetry.Version = "corral", versionString()
	return cfg, nil
}

// describe lists the effective settings with secrets masked, for the log and
// for --check-config.
func (c *Config) describe() []any { return c.catalogue.Describe() }

// explain names the settings in err as the user gave them.
func (c *Config) explain(err error) error { return c.catalogue.Explain(err) }
