package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/corral-ai/corral/services/internal/telemetry"
)

// Config is the root configuration of `corral serve`, built from defaults,
// then environment variables, then flags.
type Config struct {
	HTTPAddr        string
	DataDir         string
	NATSURL         string
	NATSListen      string
	StreamReplicas  int
	RedisURL        string
	RedisListen     string
	Model           string
	GraphURL        string
	GraphVersion    string
	AppSecrets      []string
	VerifyToken     string
	AccessToken     string
	LogFormat       string
	LogLevel        string
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	OTLPEndpoint    string

	raw map[string]string // effective value of each variable, for describe
}

// setting is one configuration knob: its variable, flag, default and
// meaning. This table is the single list of them; the README's
// configuration table is checked against it by a test.
type setting struct {
	env, flag, def, help string
	secret               bool
	apply                func(c *Config, v string) error
}

func str(dst func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*dst(c) = d
		return nil
	}
}

// defaultGraphURL and defaultGraphVersion are where Send API calls go unless
// configured otherwise; bump the version when Meta retires it.
const (
	defaultGraphURL     = "https://graph.facebook.com"
	defaultGraphVersion = "v25.0"
)

var settings = []setting{
	{env: "CORRAL_HTTP_ADDR", flag: "http", def: ":8080", help: "one HTTP listener: webhooks, studio, health, metrics",
		apply: str(func(c *Config) *string { return &c.HTTPAddr })},
	{env: "CORRAL_DATA_DIR", flag: "data", def: "./data", help: "embedded NATS and Redis data, demo model",
		apply: str(func(c *Config) *string { return &c.DataDir })},
	{env: "NATS_URL", flag: "nats", def: "", help: "external NATS; empty starts an embedded NATS server with JetStream in the data folder",
		apply: str(func(c *Config) *string { return &c.NATSURL })},
	{env: "CORRAL_NATS_LISTEN", flag: "nats-listen", def: "", help: "host:port where the embedded NATS server accepts clients; empty means in-process only",
		apply: str(func(c *Config) *string { return &c.NATSListen })},
	{env: "CORRAL_STREAM_REPLICAS", flag: "stream-replicas", def: "1", help: "JetStream replicas of the CHAT_IN, CHAT_OUT and CHAT_DLQ streams (3 on a NATS cluster)",
		apply: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			c.StreamReplicas = n
			return nil
		}},
	{env: "REDIS_URL", flag: "redis", def: "", help: "external Redis (redis://, rediss:// or unix://); empty starts an embedded Redis-protocol server kept in the data folder",
		apply: str(func(c *Config) *string { return &c.RedisURL })},
	{env: "CORRAL_REDIS_LISTEN", flag: "redis-listen", def: "127.0.0.1:0", help: "host:port of the embedded Redis-protocol server (port 0 picks a free one)",
		apply: str(func(c *Config) *string { return &c.RedisListen })},
	{env: "CORRAL_MODEL", flag: "model", def: "", help: "GGUF file to serve; empty uses the demo model written to the data folder",
		apply: str(func(c *Config) *string { return &c.Model })},
	{env: "CORRAL_GRAPH_URL", flag: "graph-url", def: defaultGraphURL, help: "where Send API calls go (Meta's Graph API base)",
		apply: str(func(c *Config) *string { return &c.GraphURL })},
	{env: "CORRAL_GRAPH_VERSION", flag: "graph-version", def: defaultGraphVersion, help: "Graph API version segment",
		apply: str(func(c *Config) *string { return &c.GraphVersion })},
	{env: "CORRAL_APP_SECRET", flag: "app-secret", def: "", secret: true, help: "app secret(s) for X-Hub-Signature-256, comma-separated; none means webhooks are refused",
		apply: func(c *Config, v string) error { c.AppSecrets = splitList(v); return nil }},
	{env: "CORRAL_VERIFY_TOKEN", flag: "verify-token", def: "", secret: true, help: "webhook verification token",
		apply: str(func(c *Config) *string { return &c.VerifyToken })},
	{env: "CORRAL_ACCESS_TOKEN", flag: "access-token", def: "", secret: true, help: "Send API token used when a channel has none of its own",
		apply: str(func(c *Config) *string { return &c.AccessToken })},
	{env: "CORRAL_LOG_FORMAT", flag: "log-format", def: "json", help: "log format: json or text",
		apply: str(func(c *Config) *string { return &c.LogFormat })},
	{env: "CORRAL_LOG_LEVEL", flag: "log-level", def: "info", help: "log level: debug, info, warn or error",
		apply: str(func(c *Config) *string { return &c.LogLevel })},
	{env: "CORRAL_SHUTDOWN_DELAY", flag: "shutdown-delay", def: "0s", help: "how long /readyz fails before intake stops at shutdown, so load balancers notice",
		apply: dur(func(c *Config) *time.Duration { return &c.ShutdownDelay })},
	{env: "CORRAL_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "30s", help: "deadline for draining in-flight work at shutdown",
		apply: dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{env: "OTEL_EXPORTER_OTLP_ENDPOINT", def: "", help: "standard OTel variable: send traces over OTLP/HTTP there",
		apply: str(func(c *Config) *string { return &c.OTLPEndpoint })},
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseConfig layers defaults, the environment (looked up through getenv)
// and the command-line flags. It reports every bad value, not only the first.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	vals := make([]string, len(settings))
	for i, s := range settings {
		vals[i] = s.def
		if v := getenv(s.env); v != "" {
			vals[i] = v
		}
		if s.flag != "" {
			fs.StringVar(&vals[i], s.flag, vals[i], fmt.Sprintf("%s (env %s)", s.help, s.env))
		}
	}
	var cfg Config
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var errs []error
	unparsed := map[string]bool{}
	cfg.raw = make(map[string]string, len(settings))
	for i, s := range settings {
		cfg.raw[s.env] = vals[i]
		if err := s.apply(&cfg, vals[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", s.env, vals[i], err))
			unparsed[s.env] = true
		}
	}
	// Report every bad value at once: what did not parse, then what
	// Validate finds among the rest.
	for _, p := range cfg.problems() {
		if !unparsed[p.env] {
			errs = append(errs, p)
		}
	}
	return cfg, errors.Join(errs...)
}

// problem is one bad setting.
type problem struct {
	env, msg string
}

func (p problem) Error() string { return p.env + ": " + p.msg }

var graphVersionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// Validate checks the configuration and names every problem it finds.
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

func (c Config) problems() []problem {
	var errs []problem
	bad := func(env, format string, a ...any) {
		errs = append(errs, problem{env, fmt.Sprintf(format, a...)})
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("CORRAL_HTTP_ADDR", "%q is not host:port (%v)", c.HTTPAddr, err)
	}
	if c.DataDir == "" {
		bad("CORRAL_DATA_DIR", "must not be empty")
	}
	if c.NATSURL != "" {
		for _, u := range strings.Split(c.NATSURL, ",") {
			if err := checkURL(u, "nats", "tls", "ws", "wss"); err != nil {
				bad("NATS_URL", "%v", err)
			}
		}
	}
	if c.NATSListen != "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			bad("CORRAL_NATS_LISTEN", "%q is not host:port", c.NATSListen)
		}
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		bad("CORRAL_STREAM_REPLICAS", "%d: want 1 to 5", c.StreamReplicas)
	}
	if c.RedisURL != "" {
		if err := checkURL(c.RedisURL, "redis", "rediss", "unix"); err != nil {
			bad("REDIS_URL", "%v", err)
		}
	} else if _, _, err := net.SplitHostPort(c.RedisListen); err != nil {
		bad("CORRAL_REDIS_LISTEN", "%q is not host:port", c.RedisListen)
	}
	if c.Model != "" {
		if st, err := os.Stat(c.Model); err != nil {
			bad("CORRAL_MODEL", "%v", err)
		} else if st.IsDir() {
			bad("CORRAL_MODEL", "%s is a folder, want a GGUF file", c.Model)
		}
	}
	if err := checkURL(c.GraphURL, "http", "https"); err != nil {
		bad("CORRAL_GRAPH_URL", "%v", err)
	}
	if !graphVersionRE.MatchString(c.GraphVersion) {
		bad("CORRAL_GRAPH_VERSION", "%q is not like v25.0", c.GraphVersion)
	}
	// The telemetry package owns what a valid log setting is.
	if err := (telemetry.Config{LogFormat: c.LogFormat}).Validate(); err != nil {
		bad("CORRAL_LOG_FORMAT", "%v", err)
	}
	if err := (telemetry.Config{LogLevel: c.LogLevel}).Validate(); err != nil {
		bad("CORRAL_LOG_LEVEL", "%v", err)
	}
	if c.ShutdownDelay < 0 {
		bad("CORRAL_SHUTDOWN_DELAY", "%v: must not be negative", c.ShutdownDelay)
	}
	if c.ShutdownTimeout <= 0 {
		bad("CORRAL_SHUTDOWN_TIMEOUT", "%v: must be positive", c.ShutdownTimeout)
	}
	return errs
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" && u.Path == "" {
				return fmt.Errorf("%q has no address", raw)
			}
			return nil
		}
	}
	return fmt.Errorf("%q: scheme must be one of %s", raw, strings.Join(schemes, ", "))
}

// describe lists the effective settings with secrets masked, for the log and
// for --check-config.
func (c Config) describe() []any {
	var out []any
	for _, s := range settings {
		v := c.raw[s.env]
		switch {
		case s.secret && v != "":
			v = "(set)"
		case strings.Contains(v, "://"):
			v = redactURLs(v)
		}
		out = append(out, s.env, v)
	}
	return out
}

// redactURLs masks the passwords of a comma-separated list of URLs, so
// credentials in NATS_URL or REDIS_URL never reach a log.
func redactURLs(v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		} else {
			parts[i] = "(unparsable URL)"
		}
	}
	return strings.Join(parts, ",")
}
