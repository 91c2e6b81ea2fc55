// Package settings holds a process's catalogue of configuration: each
// setting's environment variable, flag, default and meaning, declared by the
// component that reads it, and the parser that layers defaults, then the
// environment, then flags, and reports every bad value at once, named the
// way the user gave it (the flag when a flag was used, else the variable).
package settings

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Setting is one configuration knob of a component.
type Setting struct {
	// Env is the environment variable, such as CORRAL_HTTP_ADDR.
	Env string
	// Flag is the command-line flag without dashes; empty means the
	// setting is read from the environment only.
	Flag string
	// Default is the value used when neither the variable nor the flag is
	// set, as text.
	Default string
	// Help says what the setting does, for --help and the README.
	Help string
	// Secret masks the value wherever the configuration is printed.
	Secret bool
	// Shared marks a setting that several components read, such as
	// CORRAL_SECRET_KEY, which every role that seals or opens channel
	// access tokens needs. Each of them may declare it; the process offers
	// it once and gives every declaration the value. All declarations must
	// be Shared and agree on Flag, Default and Secret.
	Shared bool
	// Set parses a value into the component's configuration.
	Set func(v string) error
}

// Component is a part of the process with settings of its own: a role, the
// backends, telemetry. Its config type implements it (Settings on a pointer,
// so the settings write into that config).
type Component interface {
	// Settings lists the component's settings, bound to its config.
	Settings() []Setting
	// Validate reports values that parse but cannot work. A problem with
	// one setting is a Problem, so it can be named as the user gave it.
	Validate() error
}

// Problem is a bad value of one setting.
type Problem struct {
	// Env names the setting by its variable.
	Env string
	// Err says what is wrong with it.
	Err error
}

// Bad returns a Problem of the setting env with a formatted message.
func Bad(env, format string, a ...any) Problem {
	return Problem{Env: env, Err: fmt.Errorf(format, a...)}
}

func (p Problem) Error() string { return p.Env + ": " + p.Err.Error() }

func (p Problem) Unwrap() error { return p.Err }

// Source says where a setting's value came from.
type Source int

// Where a value came from, in increasing precedence.
const (
	FromDefault Source = iota
	FromEnv
	FromFlag
)

// Catalogue is every setting of a process, from all its components.
type Catalogue struct {
	comps    []Component
	settings []Setting
	also     map[int][]func(string) error // further Set functions of shared settings
	values   []string
	sources  []Source
	failed   map[string]bool // settings whose value did not parse
}

// New collects the settings of comps. Two settings with one variable or one
// flag are a programming error and panic, unless they are the same shared
// setting (Setting.Shared) declared by two components.
func New(comps ...Component) *Catalogue {
	c := &Catalogue{comps: comps, also: map[int][]func(string) error{}, failed: map[string]bool{}}
	envs, flags := map[string]int{}, map[string]bool{}
	for _, comp := range comps {
		for _, s := range comp.Settings() {
			if i, dup := envs[s.Env]; dup {
				first := c.settings[i]
				if !s.Shared || !first.Shared || s.Flag != first.Flag || s.Default != first.Default || s.Secret != first.Secret {
					panic("settings: variable declared twice: " + s.Env)
				}
				c.also[i] = append(c.also[i], s.Set)
				continue
			}
			envs[s.Env] = len(c.settings)
			if s.Flag != "" {
				if flags[s.Flag] {
					panic("settings: flag declared twice: --" + s.Flag)
				}
				flags[s.Flag] = true
			}
			c.settings = append(c.settings, s)
		}
	}
	c.values = make([]string, len(c.settings))
	c.sources = make([]Source, len(c.settings))
	return c
}

// Settings lists every setting in declaration order.
func (c *Catalogue) Settings() []Setting { return append([]Setting(nil), c.settings...) }

// Bind takes each setting's default, then its variable from getenv (an
// empty value counts as unset), and defines its flag on fs with that value
// as the default. Call Apply after fs.Parse.
func (c *Catalogue) Bind(fs *flag.FlagSet, getenv func(string) string) {
	for i, s := range c.settings {
		c.values[i], c.sources[i] = s.Default, FromDefault
		if v := getenv(s.Env); v != "" {
			c.values[i], c.sources[i] = v, FromEnv
		}
		if s.Flag != "" {
			fs.StringVar(&c.values[i], s.Flag, c.values[i], fmt.Sprintf("%s (env %s)", s.Help, s.Env))
		}
	}
}

// Apply parses every value into its component and validates the
// components. It reports every bad value, not only the first, each named as
// the user gave it; a value that does not parse is not validated again.
func (c *Catalogue) Apply(fs *flag.FlagSet) error {
	byFlag := map[string]int{}
	for i, s := range c.settings {
		if s.Flag != "" {
			byFlag[s.Flag] = i
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if i, ok := byFlag[f.Name]; ok {
			c.sources[i] = FromFlag
		}
	})
	var errs []error
	for i, s := range c.settings {
		for _, set := range append([]func(string) error{s.Set}, c.also[i]...) {
			if err := set(c.values[i]); err != nil {
				c.failed[s.Env] = true
				errs = append(errs, fmt.Errorf("%s %s: %w", c.Name(s.Env), c.quote(i), err))
				break
			}
		}
	}
	for _, comp := range c.comps {
		errs = append(errs, c.explain(comp.Validate())...)
	}
	return errors.Join(errs...)
}

// Explain renames the Problems in err (a Problem, or errors joined with
// errors.Join) after how the user gave each setting, and joins them again.
// Errors of settings whose value did not parse are dropped: Apply has
// reported them.
func (c *Catalogue) Explain(err error) error {
	return errors.Join(c.explain(err)...)
}

func (c *Catalogue) explain(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, c.explain(e)...)
		}
		return out
	}
	if p, ok := err.(Problem); ok {
		if c.failed[p.Env] {
			return nil
		}
		return []error{named{name: c.Name(p.Env), p: p}}
	}
	return []error{err}
}

// named is a Problem as the user sees it.
type named struct {
	name string
	p    Problem
}

func (n named) Error() string { return n.name + ": " + n.p.Err.Error() }
func (n named) Unwrap() error { return n.p }

// Name is how the user gave the setting env: "--flag" when a flag set it,
// the variable when the environment did, and both for a default.
func (c *Catalogue) Name(env string) string {
	for i, s := range c.settings {
		if s.Env != env {
			continue
		}
		switch {
		case c.sources[i] == FromFlag:
			return "--" + s.Flag
		case c.sources[i] == FromEnv || s.Flag == "":
			return s.Env
		default:
			return s.Env + " (--" + s.Flag + ")"
		}
	}
	return env
}

func (c *Catalogue) quote(i int) string {
	if c.settings[i].Secret {
		return "(secret)"
	}
	return strconv.Quote(c.values[i])
}

// Describe lists each setting and its effective value as variable, value
// pairs (for slog and --check-config), secrets masked and URL passwords
// redacted.
func (c *Catalogue) Describe() []any {
	out := make([]any, 0, 2*len(c.settings))
	for i, s := range c.settings {
		v := c.values[i]
		switch {
		case s.Secret && v != "":
			v = "(set)"
		case strings.Contains(v, "://"):
			v = RedactURLs(v)
		}
		out = append(out, s.Env, v)
	}
	return out
}

// RedactURLs masks the passwords of a comma-separated list of URLs, so
// credentials in NATS_URL or REDIS_URL never reach a log.
func RedactURLs(v string) string {
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

// Defaults sets every setting of comp to its default. A default that does
// not parse is a programming error and panics.
func Defaults(comp Component) {
	for _, s := range comp.Settings() {
		if err := s.Set(s.Default); err != nil {
			panic(fmt.Sprintf("settings: default of %s: %v", s.Env, err))
		}
	}
}

// String stores the value as it is.
func String(dst *string) func(string) error {
	return func(v string) error { *dst = v; return nil }
}

// Duration parses a Go duration such as 30s or 1m30s.
func Duration(dst *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a duration such as 500ms, 30s or 1m")
		}
		*dst = d
		return nil
	}
}

// Int parses a whole number.
func Int(dst *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a whole number")
		}
		*dst = n
		return nil
	}
}

// List splits a comma-separated value, dropping blank items.
func List(dst *[]string) func(string) error {
	return func(v string) error {
		*dst = nil
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*dst = append(*dst, s)
			}
		}
		return nil
	}
}
